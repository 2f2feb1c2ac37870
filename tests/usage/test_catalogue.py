"""The model catalogue: models.dev data, prefixes, and the config's `model_info` over it."""

from __future__ import annotations

import pytest

from ccr.config import parse
from ccr.errors import ConfigError
from ccr.usage.catalogue import Books, base_catalogue


def config(model_info=None, url="https://api.deepseek.com/chat/completions", name="deepseek", **top):
    provider = {"name": name, "api_base_url": url, "api_key": "k", "models": ["deepseek-chat"]}
    if model_info is not None:
        provider["model_info"] = model_info
    return parse({"Providers": [provider], "Router": {"default": f"{name},deepseek-chat"}, **top})


def test_a_known_model_has_limits_and_prices_from_the_packaged_data():
    info = Books(base_catalogue()).of(config()).info("deepseek", "deepseek-chat")
    assert info.context_window and info.max_output_tokens and info.context_window > info.max_output_tokens
    assert info.input_cost and info.output_cost and info.output_cost >= info.input_cost
    assert info.source.startswith("models.dev deepseek/deepseek-chat")
    assert info.cost(1_000_000, 0) == pytest.approx(info.input_cost * 1_000_000)


@pytest.mark.parametrize("name", ["deepseek/deepseek-chat", "DeepSeek-Chat", "deepseek-chat:free",
                                  "openrouter/deepseek/deepseek-chat"])
def test_names_with_a_provider_prefix_or_a_variant_are_found(name):
    info = base_catalogue().find("mine", "https://example.invalid/v1", name)
    assert info.max_output_tokens and info.input_cost is not None, info


def test_the_configured_provider_picks_its_own_entry():
    catalogue = base_catalogue()
    routed = catalogue.find("openrouter", "https://openrouter.ai/api/v1/chat/completions",
                            "deepseek/deepseek-chat")
    assert routed.source.startswith("models.dev openrouter/")
    by_host = catalogue.find("my-router", "https://openrouter.ai/api/v1/chat/completions",
                             "deepseek/deepseek-chat")
    assert by_host == routed


def test_an_unknown_model_has_no_limits_and_no_price_never_zero():
    info = Books(base_catalogue()).of(config()).info("deepseek", "a-model-nobody-sells-7f3a")
    assert (info.context_window, info.max_output_tokens, info.input_cost) == (None, None, None)
    assert info.cost(1000, 1000) is None
    assert info.source == "unknown"
    assert Books(base_catalogue()).of(config()).info("no-such-provider", "deepseek-chat").cost(1, 1) is None


def test_model_info_overrides_field_by_field_in_litellm_names():
    raw = {"deepseek-chat": {"max_output_tokens": 8192, "input_cost_per_token": 2.7e-7,
                             "output_cost_per_token": 1.1e-6, "cache_read_input_token_cost": 7e-8,
                             "mode": "chat", "supports_vision": False}}  # other LiteLLM keys: ignored
    base = Books(base_catalogue()).of(config()).info("deepseek", "deepseek-chat")
    info = Books(base_catalogue()).of(config(raw)).info("deepseek", "DEEPSEEK-CHAT")
    assert info.max_output_tokens == 8192
    assert info.context_window == base.context_window  # not overridden: the catalogue's stands
    assert info.cost(1000, 100, 10_000) == pytest.approx(1000 * 2.7e-7 + 100 * 1.1e-6 + 10_000 * 7e-8)
    assert info.source.startswith("config Providers[0] (deepseek).model_info.deepseek-chat, over models.dev")


def test_model_info_adds_a_model_the_catalogue_does_not_know():
    raw = {"house-model": {"max_input_tokens": 32768, "max_tokens": 4096, "input_cost_per_token": 0,
                           "output_cost_per_token": 0}}
    info = Books(base_catalogue()).of(config(raw)).info("deepseek", "house-model")
    assert (info.context_window, info.max_output_tokens) == (32768, 4096)
    assert info.cost(500, 500) == 0.0  # a price of zero was given: free, not unknown
    assert info.source == "config Providers[0] (deepseek).model_info.house-model"


def test_a_new_config_brings_new_overrides():
    books = Books(base_catalogue())
    first, second = config({"deepseek-chat": {"max_output_tokens": 100}}), config()
    assert books.of(first).info("deepseek", "deepseek-chat").max_output_tokens == 100
    assert books.of(second).info("deepseek", "deepseek-chat").max_output_tokens != 100


@pytest.mark.parametrize(("model_info", "problem"), [
    ([], "model_info: expected"),
    ({"m": 5}, "model_info.m: expected an object"),
    ({"m": {"max_output_tokens": -1}}, "max_output_tokens: expected a positive whole number"),
    ({"m": {"max_input_tokens": 1.5}}, "max_input_tokens: expected a positive whole number"),
    ({"m": {"input_cost_per_token": "cheap"}}, "input_cost_per_token: expected a price"),
    ({"m": {"output_cost_per_token": float("nan")}}, "model_info.m.output_cost_per_token: "),
])
def test_bad_model_info_is_refused_naming_the_key(model_info, problem):
    with pytest.raises(ConfigError) as caught:
        config(model_info)
    assert problem in str(caught.value) and "Providers[0]" in str(caught.value)


@pytest.mark.parametrize("days", [0, -3, "many", 1.5, True])
def test_bad_retention_is_refused(days):
    with pytest.raises(ConfigError, match="USAGE_RETENTION_DAYS"):
        config(USAGE_RETENTION_DAYS=days)


def test_a_books_answers_are_memoised_and_bounded():
    book = Books(base_catalogue()).of(config())
    assert book.info("deepseek", "deepseek-chat") is book.info("deepseek", "deepseek-chat")
    for n in range(5000):  # client-made names: the memo starts over instead of growing
        book.info("deepseek", f"made-up-{n}")
    assert len(book._infos) <= 4096
