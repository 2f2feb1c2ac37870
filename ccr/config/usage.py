"""The usage settings: `USAGE_RETENTION_DAYS` and each provider's `model_info`.

    "USAGE_RETENTION_DAYS": 90,
    "Providers": [{"name": "deepseek", ...,
                   "model_info": {"deepseek-chat": {"max_output_tokens": 8192,
                                                    "input_cost_per_token": 2.7e-7}}}]

`model_info` uses LiteLLM's field names, which many users already know. Other LiteLLM keys
(`mode`, `supports_vision`, ...) are accepted and ignored, so an entry copied from LiteLLM's
file works as it is. Problems name the key path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .limits import bounded_whole

__all__ = ["ModelInfoOverride", "UsageSettings", "usage_settings", "usage_problems",
           "TOKEN_FIELDS", "PRICE_FIELDS", "DEFAULT_RETENTION_DAYS"]

DEFAULT_RETENTION_DAYS = 90
#: LiteLLM's names for the limits (whole numbers of tokens)
TOKEN_FIELDS = ("max_output_tokens", "max_input_tokens", "max_tokens")
#: LiteLLM's names for the prices (USD per token)
PRICE_FIELDS = ("input_cost_per_token", "output_cost_per_token",
                "cache_read_input_token_cost", "cache_creation_input_token_cost")


@dataclass(frozen=True, slots=True)
class ModelInfoOverride:
    """One `model_info` entry, as written (None: not given, the catalogue's value stands)."""

    max_output_tokens: int | None = None
    max_input_tokens: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    cache_creation_input_token_cost: float | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class UsageSettings:
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: provider name (lowercase) -> model name (lowercase) -> override
    model_info: Mapping[str, Mapping[str, ModelInfoOverride]] = field(default_factory=dict)

    def override(self, provider: str, model: str) -> ModelInfoOverride | None:
        return self.model_info.get(provider.lower(), {}).get(model.lower())


def usage_problems(data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    usage_settings(data, problems)
    return problems


def usage_settings(data: Mapping[str, Any], problems: list[str] | None = None) -> UsageSettings:
    """Read the settings from the interpolated config (`Config.data`); bad values become
    problems (when a list is given) and are left out."""
    problems = problems if problems is not None else []
    retention = _retention(data.get("USAGE_RETENTION_DAYS"), problems)
    providers = data.get("Providers", data.get("providers", []))
    infos: dict[str, dict[str, ModelInfoOverride]] = {}
    for i, item in enumerate(providers if isinstance(providers, list) else []):
        if not isinstance(item, dict) or "model_info" not in item or not isinstance(item.get("name"), str):
            continue
        at = f"Providers[{i}] ({item['name'].strip()}).model_info"
        value = item["model_info"]
        if not isinstance(value, dict):
            problems.append(f'{at}: expected {{"model": {{"max_output_tokens": ..., ...}}}}')
            continue
        per_model: dict[str, ModelInfoOverride] = {}
        for model, entry in value.items():
            override = _entry(entry, f"{at}.{model}", problems)
            if override is not None:
                per_model[str(model).strip().lower()] = override
        infos[item["name"].strip().lower()] = per_model
    return UsageSettings(retention_days=retention, model_info=infos)


def _retention(value: Any, problems: list[str]) -> int:
    return bounded_whole(value, "USAGE_RETENTION_DAYS", "days", DEFAULT_RETENTION_DAYS, 1, 36500, problems)


def _entry(entry: Any, at: str, problems: list[str]) -> ModelInfoOverride | None:
    if not isinstance(entry, dict):
        problems.append(f"{at}: expected an object like {{\"max_output_tokens\": 8192}}")
        return None
    values: dict[str, Any] = {}
    for name in TOKEN_FIELDS:
        value = entry.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 1:
            problems.append(f"{at}.{name}: expected a positive whole number of tokens, got {value!r}")
            continue
        # LiteLLM's `max_tokens` is the older spelling of the output limit
        key = "max_output_tokens" if name == "max_tokens" else name
        values.setdefault(key, int(value))
    for name in PRICE_FIELDS:
        value = entry.get(name)
        if value is None:
            continue
        if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or value < 0):
            problems.append(f"{at}.{name}: expected a price in USD per token (e.g. 2.7e-7), got {value!r}")
            continue
        values[name] = float(value)
    return ModelInfoOverride(where=at, **values)
