"""A task run through the execution API (the real Claude Code CLI) carries its cost, and the
ledger has it per task."""

from __future__ import annotations

import pytest

from tests.conftest import make_config, openai_provider
from tests.execution.conftest import APIKEY, claude_bin, http, model  # noqa: F401  (fixtures)

PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}


async def test_a_tasks_result_and_its_ledger_rows_carry_its_cost(model, ccr_server, http):  # noqa: F811
    _, url = model
    spec = openai_provider(url)
    spec["model_info"] = {"gpt-test": PRICES}
    config = make_config([spec], {"default": "fake,gpt-test"}, APIKEY=APIKEY, CLAUDE_PATH=claude_bin(),
                         ClaudeCode={"retry_backoff": 0.1, "cli_max_retries": 0})
    ccr = await ccr_server(config)
    async with http.post(f"{ccr.url}/api/claude-code", json={
            "prompt": "Please answer MARK-cost", "options": {"timeout": 60}}) as response:
        body = await response.json()
    usage = body["result"]["ccr_usage"]
    assert usage["requests"] >= 1
    assert usage["cost_usd"] == pytest.approx(usage["input_tokens"] * 1e-6 + usage["output_tokens"] * 4e-6)
    async with http.get(f"{ccr.url}/api/stats?by=task") as response:
        rows = {r["key"]: r for r in (await response.json())["rows"]}
    assert rows[body["task_id"]]["cost_usd"] == pytest.approx(usage["cost_usd"])
