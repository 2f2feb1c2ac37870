"""Custom transformers from the config's `transformers` list: Python files, loaded at start.

    "transformers": [{"path": "~/.claude-code-router/plugins/shout.py", "options": {"suffix": "!!"}}]

A plugin file defines one or more `Transformer` subclasses with a `name`; each is registered
under that name (a plugin may replace a built-in) with the entry's options as defaults.
Each registered class is a thin subclass whose hooks turn the plugin's own exceptions into a
TransformError naming the plugin, so a buggy plugin fails only the requests that use it.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ccr.errors import CCRError, ConfigError, TransformError

from .base import Context, Json, Transformer, Upstream
from .registry import Registered

__all__ = ["load_plugins", "load_module", "guarded"]

_JS = (".js", ".cjs", ".mjs", ".ts")


def _failure(step: Transformer, ctx: Context, where: str, exc: Exception) -> TransformError:
    ctx.log.error("plugin transformer failed", plugin=step.name, where=where, exc_info=exc)
    return TransformError(f"{ctx.provider.name},{ctx.model}: plugin transformer {step.name!r} failed on "
                          f"the {where}: {type(exc).__name__}: {exc}")


def guarded(cls: type[Transformer]) -> type[Transformer]:
    """`cls` with each hook it overrides wrapped; hooks it leaves alone stay the base ones."""
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__,
                                 "__qualname__": cls.__qualname__}

    if cls.request is not Transformer.request:
        async def request(self: Transformer, up: Upstream, ctx: Context) -> Upstream:
            try:
                return await cls.request(self, up, ctx)
            except CCRError:
                raise
            except Exception as exc:
                raise _failure(self, ctx, "request", exc) from None
        namespace["request"] = request

    if cls.response is not Transformer.response:
        async def response(self: Transformer, body: Json, ctx: Context) -> Json:
            try:
                return await cls.response(self, body, ctx)
            except CCRError:
                raise
            except Exception as exc:
                raise _failure(self, ctx, "reply", exc) from None
        namespace["response"] = response

    if cls.stream is not Transformer.stream:
        async def stream(self: Transformer, chunks: AsyncIterator[Json], ctx: Context) -> AsyncIterator[Json]:
            try:
                async for chunk in cls.stream(self, chunks, ctx):
                    yield chunk
            except (CCRError, GeneratorExit):
                raise
            except Exception as exc:
                if type(exc).__module__.startswith(("aiohttp", "asyncio")) or isinstance(exc, OSError):
                    raise  # the connection's failure, passed through the plugin
                raise _failure(self, ctx, "stream", exc) from None
        namespace["stream"] = stream

    return type(cls.__name__, (cls,), namespace)


def load_module(path: str, label: str) -> ModuleType:
    """Import a user's Python file by path (a plugin, or a custom router): the one importer of
    user files. Any failure is a ConfigError naming `label` and the file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{label}: file {str(file)!r} does not exist")
    name = f"ccr_user_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{label}: {str(file)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's file: report it as a config problem
        sys.modules.pop(name, None)
        raise ConfigError(f"{label}: importing {str(file)!r} failed: {type(exc).__name__}: {exc}") from None
    return module


def load_plugins(specs: Sequence[Any], registry: Mapping[str, Registered]) -> dict[str, Registered]:
    found = dict(registry)
    problems: list[str] = []
    for spec in specs:
        if spec.path.endswith(_JS):
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
                   and obj.__module__ == module.__name__ and obj.name]
        if not classes:
            problems.append(f"{spec.where}: {spec.path!r} defines no Transformer subclass with a `name`")
        for cls in classes:
            found[cls.name.lower()] = Registered(guarded(cls), spec.path, dict(spec.options))
    if problems:
        raise ConfigError(problems[0], problems)
    return found
