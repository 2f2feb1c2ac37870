"""The shared vocabulary in ccr.transformers.hub: signatures, packed tool ids, effort levels."""

from __future__ import annotations

import pytest

from ccr.transformers.hub import (
    BUDGETS,
    CEREBRAS_EFFORTS,
    EFFORTS,
    GEMINI3_LEVELS,
    OPENAI_EFFORTS,
    budget_for,
    clamp_effort,
    dialect_payload,
    dialect_signature,
    drop_ccr_thinking,
    effort_for_budget,
    is_ccr_signature,
    is_reasoning_model,
    pack_tool_id,
    reasoning_signature,
    signature_field,
    unpack_tool_id,
)


def test_field_signature_goes_back_only_to_its_provider():
    signature = reasoning_signature("reasoning_content", "deepseek")
    assert signature == "ccr1:reasoning_content:deepseek"
    assert is_ccr_signature(signature)
    assert signature_field(signature, "deepseek") == "reasoning_content"
    assert signature_field(signature, "qwen") is None
    assert signature_field("EqQBCkYIBxgCKkD...", "deepseek") is None  # Anthropic's own


def test_dialect_signature_round_trip_and_isolation():
    signature = dialect_signature("gemini", "c2ln")
    assert is_ccr_signature(signature)
    assert dialect_payload(signature, "gemini") == "c2ln"
    assert dialect_payload(signature, "openrouter") is None
    assert signature_field(signature, "gemini") is None  # not a reasoning-field signature


def test_drop_ccr_thinking_keeps_anthropic_signatures_and_unchanged_lists():
    ours = {"type": "thinking", "thinking": "a", "signature": reasoning_signature("reasoning", "p")}
    gemini = {"type": "thinking", "thinking": "b", "signature": dialect_signature("gemini", "x")}
    theirs = {"type": "thinking", "thinking": "c", "signature": "EqQBCkYI"}
    text = {"type": "text", "text": "hi"}
    messages = [{"role": "user", "content": "q"},
                {"role": "assistant", "content": [ours, gemini, theirs, text]}]
    assert drop_ccr_thinking(messages) == [messages[0], {"role": "assistant", "content": [theirs, text]}]
    clean = [{"role": "assistant", "content": [theirs, text]}]
    assert drop_ccr_thinking(clean) is clean


def test_packed_tool_id_round_trip():
    packed = pack_tool_id("toolu_ab12", "sig==")
    assert packed == "toolu_ab12__ccrsig_c2lnPT0"
    assert unpack_tool_id(packed) == ("toolu_ab12", "sig==")
    assert unpack_tool_id("toolu_plain") == ("toolu_plain", None)
    assert unpack_tool_id("toolu_x__ccrsig__w") == ("toolu_x", None)  # not UTF-8
    assert pack_tool_id("toolu_ab12", None) == "toolu_ab12"


@pytest.mark.parametrize("effort", EFFORTS)
def test_budget_and_effort_are_inverse(effort):
    assert effort_for_budget(budget_for(effort)) == effort


def test_effort_for_budget_is_the_lowest_level_that_covers_it():
    assert [effort_for_budget(b) for b in (1, 1024, 1025, 4000, 10000, 31999, 32001, 10**6)] == \
        ["minimal", "minimal", "low", "medium", "high", "xhigh", "max", "max"]
    assert effort_for_budget(None) == "high" and effort_for_budget(True) == "high"
    assert list(BUDGETS) == list(EFFORTS) and sorted(BUDGETS.values()) == list(BUDGETS.values())


def test_clamps_per_provider_family():
    assert [clamp_effort(e, OPENAI_EFFORTS) for e in EFFORTS] == \
        ["minimal", "low", "medium", "high", "high", "high"]
    assert [clamp_effort(e, CEREBRAS_EFFORTS) for e in EFFORTS] == \
        ["low", "low", "medium", "high", "high", "high"]
    assert [clamp_effort(e, GEMINI3_LEVELS) for e in EFFORTS] == \
        ["low", "low", "high", "high", "high", "high"]
    assert clamp_effort("extreme", OPENAI_EFFORTS) is None and clamp_effort(None, OPENAI_EFFORTS) is None


def test_reasoning_model_families():
    assert [is_reasoning_model(m) for m in ("o3-mini", "openai/gpt-5", "gpt-oss-120b", "gpt-5-codex", "codex-mini")] \
        == [True] * 5
    assert [is_reasoning_model(m) for m in ("gpt-4o", "qwen3-coder", "deepseek-chat", "solo1")] == [False] * 4
