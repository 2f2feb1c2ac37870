"""Custom transformers from the config's `transformers` list: Python files, loaded at start.

    "transformers": [{"path": "~/.claude-code-router/plugins/shout.py", "options": {"suffix": "!!"}}]

A plugin file defines one or more `Transformer` subclasses with a `name`; each is registered
under that name (a plugin may replace a built-in) with the entry's options as defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ccr.errors import ConfigError

from .base import Transformer

__all__ = ["load_plugins"]


def load_plugins(specs: Sequence[Any], registry: Mapping[str, Any]) -> dict[str, Any]:
    from ccr.runtime import load_module  # the one importer of user files

    from . import Registered

    found = dict(registry)
    problems: list[str] = []
    for spec in specs:
        if spec.path.endswith((".js", ".cjs", ".mjs", ".ts")):
            problems.append(f"{spec.where}: {spec.path!r} is a JavaScript plugin; ccr loads Python "
                            "transformers. Port it to a .py file defining a Transformer subclass "
                            "(see the README, 'Custom transformers')")
            continue
        try:
            module = load_module(spec.path, spec.where)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        classes = [obj for obj in vars(module).values()
                   if isinstance(obj, type) and issubclass(obj, Transformer) and obj is not Transformer
                   and obj.__module__ == module.__name__ and getattr(obj, "name", "")]
        if not classes:
            problems.append(f"{spec.where}: {spec.path!r} defines no Transformer subclass with a `name`")
        for cls in classes:
            found[cls.name.lower()] = Registered(cls, spec.path, dict(spec.options))
    if problems:
        raise ConfigError(problems[0], problems)
    return found
