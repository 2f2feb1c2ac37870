"""The service moves what start-up built out of the cyclic collector's walks (ccr.server.serve).

Its effect on speed is measured in bench/ (side by side with the old build); here, what it does."""

from __future__ import annotations

import gc
import weakref

from ccr.server.serve import freeze_startup_objects


class _Node:
    other: _Node | None = None


def test_startup_garbage_is_collected_and_what_lives_is_frozen() -> None:
    node = _Node()
    node.other = node  # a cycle: only the collector frees it
    gone = weakref.ref(node)
    del node
    kept = [[index] for index in range(1000)]
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        assert gone() is None  # collected first, not kept forever in the frozen generation
        assert gc.get_freeze_count() >= before + len(kept)
        marker = kept[500]
        assert not any(o is marker for o in gc.get_objects())  # no collection walks it now
    finally:
        gc.unfreeze()
    assert any(o is kept[500] for o in gc.get_objects())
