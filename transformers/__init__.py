"""Transformers: provider dialects and request adjusters, and the registry that names them.

Import as `ccr.transformers`. The public interface is `Transformer`, `Upstream`, `Context`
and `Chain` (see `base.py`); the vocabulary shared with ccr (signatures, effort levels) is in
`hub.py`; the built-ins are listed in `registry.py`.
"""

from __future__ import annotations

from .base import Chain, Context, Json, Log, Transformer, Upstream
from .registry import BUILTIN, ChainError, Registered, build_chain, builtin_registry

__all__ = [
    "Transformer", "Upstream", "Context", "Chain", "Json", "Log",
    "BUILTIN", "Registered", "ChainError", "builtin_registry", "build_chain",
]
