"""Start ccr from another checkout of it: `python -m bench.tree_boot TREE start --foreground ...`.

The benchmark's old-versus-new mode (`python -m bench --baseline-tree PATH`) runs an older
build side by side with this one, in the same virtualenv. Putting TREE on PYTHONPATH is not
enough: ccr's packaging maps `ccr.transformers` and `ccr.ui` to the top-level `transformers/`
and `ui/` folders, and the editable install of this checkout would answer those two imports
from here. A finder placed first maps all three packages to TREE.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = ["TreeFinder", "main"]


class TreeFinder:
    """A meta path finder for ccr's three top-level packages of one checkout."""

    def __init__(self, tree: Path) -> None:
        self.packages = {"ccr": tree / "ccr", "ccr.transformers": tree / "transformers", "ccr.ui": tree / "ui"}

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        where = self.packages.get(fullname)
        if where is None:
            return None  # subpackages are found through their parent's __path__
        return importlib.util.spec_from_file_location(fullname, where / "__init__.py",
                                                      submodule_search_locations=[str(where)])


def main(argv: list[str]) -> None:
    tree = Path(argv[0]).resolve()
    if not (tree / "ccr" / "__init__.py").is_file():
        raise SystemExit(f"{tree} is not a ccr checkout (no ccr/__init__.py)")
    sys.meta_path.insert(0, TreeFinder(tree))
    import ccr

    print(f"ccr from {Path(ccr.__file__ or '').parent}", file=sys.stderr, flush=True)
    sys.argv = ["ccr", *argv[1:]]
    runpy.run_module("ccr", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
