"""`ccr usage` and `ccr model info`, as a user runs them: a day of use across two restarts."""

from __future__ import annotations

import json

from ccr.usage.catalogue import base_catalogue

from .conftest import provider, write_config


async def test_model_info_shows_what_ccr_knows_and_where_from(ccr, home):
    gpt = provider("http://127.0.0.1:9/v1/chat/completions", name="openai", models=["gpt-4o", "house"])
    gpt["model_info"] = {"house": {"max_output_tokens": 4096, "input_cost_per_token": 2.7e-7}}
    write_config(home, Providers=[gpt], Router={"default": "openai,gpt-4o"})

    known = await ccr("model", "info", "openai,gpt-4o", "--json")
    assert known.code == 0, known
    expected = base_catalogue().find("openai", "http://127.0.0.1:9", "gpt-4o")
    info = json.loads(known.out)
    assert info["max_output_tokens"] == expected.max_output_tokens and info["source"] == expected.source
    assert info["source"].startswith("models.dev openai/gpt-4o")

    overridden = await ccr("model", "info", "openai,house")
    assert overridden.code == 0, overridden
    assert "4,096 tokens" in overridden.out and "$0.27 per million tokens" in overridden.out
    assert "config Providers[0] (openai).model_info.house" in overridden.out

    unknown = await ccr("model", "info", "openai,never-heard-of-it")
    assert unknown.code == 0 and "ccr knows nothing of this model" in unknown.out and '"model_info"' in unknown.out

    for args, words in ((("nobody,gpt-4o",), "'nobody' is not in the config"), (("gpt-4o",), "PROVIDER,MODEL")):
        refused = await ccr("model", "info", *args)
        assert refused.code == 2 and words in refused.err and "Traceback" not in refused.err, refused
