"""The service fits the cyclic garbage collector to a server's life (ccr.server.serve).

Its effect on speed is measured in bench/ (side by side with the old build); here, what it does."""

from __future__ import annotations

import gc
import weakref

from ccr.server.serve import YOUNG_GC_THRESHOLD, tune_garbage_collector


class _Node:
    other: _Node | None = None


def test_startup_garbage_is_collected_what_lives_is_frozen_young_collections_spaced() -> None:
    node = _Node()
    node.other = node  # a cycle: only the collector frees it
    gone = weakref.ref(node)
    del node
    kept = [[index] for index in range(1000)]
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gone() is None  # collected first, not kept forever in the frozen generation
        assert gc.get_freeze_count() >= before + len(kept)
        marker = kept[500]
        assert not any(o is marker for o in gc.get_objects())  # no collection walks it now
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert any(o is kept[500] for o in gc.get_objects())
