"""The registry: every built-in transformer by name, and turning `use` entries into a Chain.

Adding a transformer: one module, one line in BUILTIN, one test (see docs/transformers-dev.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .anthropic import Anthropic
from .base import Chain, Transformer
from .cerebras import Cerebras
from .cleancache import CleanCache
from .customparams import CustomParams
from .deepseek import DeepSeek
from .enhancetool import EnhanceTool
from .forcereasoning import ForceReasoning
from .gemini import Gemini
from .groq import Groq
from .maxcompletiontokens import MaxCompletionTokens
from .maxtoken import MaxToken
from .openai import OpenAI
from .openai_responses import OpenAIResponses
from .openrouter import OpenRouter
from .reasoning import Reasoning
from .sampling import Sampling
from .streamoptions import StreamOptions
from .tooluse import ToolUse
from .vercel import Vercel
from .vertex import VertexClaude, VertexGemini

__all__ = ["BUILTIN", "Registered", "ChainError", "builtin_registry", "build_chain"]

#: Every built-in transformer, in the order GET /api/transformers lists them.
BUILTIN: tuple[type[Transformer], ...] = (
    Anthropic, Gemini, VertexGemini, VertexClaude, DeepSeek, ToolUse, OpenRouter, OpenAI,
    MaxToken, Groq, CleanCache, EnhanceTool, Reasoning, Sampling, MaxCompletionTokens, Cerebras,
    StreamOptions, CustomParams, Vercel, OpenAIResponses, ForceReasoning,
)


@dataclass(frozen=True, slots=True)
class Registered:
    cls: type[Transformer]
    origin: str                      # "built-in", or the plugin file's path
    options: Mapping[str, Any]       # defaults from the config's `transformers` entry


def builtin_registry() -> dict[str, Registered]:
    """Names are matched case-insensitively (`Anthropic`, `anthropic`)."""
    return {cls.name.lower(): Registered(cls, "built-in", {}) for cls in BUILTIN}


class ChainError(ValueError):
    """A `use` entry names no transformer, or its options do not fit."""


def build_chain(specs: Sequence[Any], registry: Mapping[str, Registered]) -> Chain:
    """Turn `use` entries (objects with name, options, where) into a Chain.

    Adjusters keep their config order; the chain's dialect (the step that speaks the provider's
    wire format) is moved to the wire end, so `["gemini", "tooluse"]` and
    `["tooluse", "gemini"]` mean the same. A chain without a dialect gets `openai`.
    """
    steps: list[Transformer] = []
    dialects: list[Transformer] = []
    for spec in specs:
        entry = registry.get(spec.name.lower())
        if entry is None:
            known = ", ".join(sorted(r.cls.name for r in registry.values()))
            raise ChainError(f"{spec.where}: unknown transformer {spec.name!r} (known: {known})")
        options = {**entry.options, **spec.options}
        try:
            step = entry.cls(**options)
        except TypeError as exc:
            raise ChainError(f"{spec.where}: bad options for transformer {spec.name!r}: {exc}") from None
        except (ValueError, KeyError) as exc:
            raise ChainError(f"{spec.where}: transformer {spec.name!r}: {exc}") from None
        except Exception as exc:  # a plugin's constructor: a config problem, not a crash
            raise ChainError(f"{spec.where}: transformer {spec.name!r} failed to start: "
                             f"{type(exc).__name__}: {exc}") from None
        (dialects if step.dialect else steps).append(step)
    if len(dialects) > 1:
        names = ", ".join(d.name for d in dialects)
        where = specs[-1].where.rsplit("[", 1)[0] if specs else ""
        raise ChainError(f"{where}: {names} each translate to a different wire format; keep one")
    return Chain(tuple(steps) + (tuple(dialects) if dialects else (OpenAI(),)))
