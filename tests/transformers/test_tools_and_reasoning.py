"""tooluse, enhancetool, forcereasoning and deepseek, whole replies and streams, through the SDK."""

from __future__ import annotations

import pytest

from tests.core.util import assert_openai_request
from tests.helpers import sse

from .util import (
    TOOLS,
    call,
    chat,
    chunk,
    create_message,
    history,
    replying,
    setup,
    stream_message,
    streaming,
    tool_results,
)

HI = [{"role": "user", "content": "hi"}]
DEEPSEEK = {"ChatCompletionAssistantMessageParam": {"reasoning_content"}}


def exit_call(text: str) -> dict:
    return {"id": "call_x", "type": "function", "function": {"name": "ExitTool",
                                                             "arguments": f'{{"response": "{text}"}}'}}


async def test_tooluse_json(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat(None, tool_calls=[exit_call("All done.")],
                                                                finish="tool_calls")), use=["tooluse"])
    message = await create_message(pair, tools=TOOLS, system="sys", messages=HI)
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == "All done."
    assert message.stop_reason == "end_turn"
    sent = pair.sent
    assert_openai_request(sent)
    assert sent["tool_choice"] == "required" and sent["tools"][-1]["function"]["name"] == "ExitTool"
    assert "Tool mode is active" in sent["messages"][0]["content"] and sent["messages"][0]["content"].startswith("sys")


async def test_tooluse_stream_keeps_real_tools(fake_upstream, ccr_server):
    payload = sse(
        chunk({"tool_calls": [call(0, "call_1", "Bash", '{"command": "ls"}')]}),
        chunk({"tool_calls": [call(1, "call_2", "ExitTool", '{"response": "Listed')]}),
        chunk({"tool_calls": [call(1, arguments=' it."}')]}),
        chunk({}, "tool_calls"))
    pair = await setup(fake_upstream, ccr_server, streaming(payload), use=["tooluse"])
    message = await stream_message(pair, tools=TOOLS, messages=HI)
    assert [b.type for b in message.content] == ["tool_use", "text"]
    assert message.content[0].name == "Bash" and message.content[1].text == "Listed it."
    assert message.stop_reason == "tool_use"


BROKEN = "{'path': 'a.py',}"


async def test_enhancetool_repairs_json_reply(fake_upstream, ccr_server):
    calls = [{"id": "call_1", "type": "function", "function": {"name": "Read", "arguments": BROKEN}},
             {"id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": '```json\n{"command": "ls'}}]
    pair = await setup(fake_upstream, ccr_server, replying(chat(None, tool_calls=calls, finish="tool_calls")),
                       use=["enhancetool"])
    message = await create_message(pair, tools=TOOLS, messages=HI)
    assert [b.input for b in message.content] == [{"path": "a.py"}, {"command": "ls"}]


async def test_enhancetool_stream(fake_upstream, ccr_server):
    payload = sse(
        chunk({"content": "Reading."}),
        chunk({"tool_calls": [call(0, "call_1", "Read", "{'pa")]}),
        chunk({"tool_calls": [call(0, arguments="th': 'a.py',}")]}),
        chunk({"tool_calls": [call(1, "call_2", "Bash", '{"command": "ls -la"')]}),
        chunk({}, "tool_calls"))
    pair = await setup(fake_upstream, ccr_server, streaming(payload), use=["enhancetool"])
    message = await stream_message(pair, tools=TOOLS, messages=HI)
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[1].input == {"path": "a.py"} and message.content[2].input == {"command": "ls -la"}


@pytest.mark.parametrize("pieces", [["<reasoning_content>Think", " hard</reason", "ing_content>The answer."],
                                    ["<reas", "oning_content>Think hard<", "/reasoning_content>", "The answer."]])
async def test_forcereasoning_stream_tags_split_anywhere(fake_upstream, ccr_server, pieces):
    payload = sse(*[chunk({"content": p}) for p in pieces], chunk({}, "stop"))
    pair = await setup(fake_upstream, ccr_server, streaming(payload), use=["forcereasoning"])
    message = await stream_message(pair, messages=HI)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Think hard" and message.content[1].text == "The answer."
    assert "<reasoning_content>" in pair.sent["messages"][-1]["content"]
    await stream_message(pair, messages=[*HI, history(message), {"role": "user", "content": "and?"}])
    assert pair.sent["messages"][1]["content"] == "<reasoning_content>Think hard</reasoning_content>The answer."


async def test_forcereasoning_json(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server,
                       replying(chat("<reasoning_content>Because.</reasoning_content>\nYes.")), use=["forcereasoning"])
    message = await create_message(pair, messages=HI)
    assert message.content[0].thinking == "Because." and message.content[1].text == "Yes."


async def test_deepseek_reasoner_tool_loop(fake_upstream, ccr_server):
    def reply(body):
        if any(m["role"] == "tool" for m in body["messages"]):
            return sse(chunk({"content": "Two files."}), chunk({}, "stop"))
        return sse(chunk({"reasoning_content": "List "}), chunk({"reasoning_content": "them."}),
                        chunk({"tool_calls": [call(0, "call_1", "Bash", '{"command":"ls"}')]}),
                        chunk({}, "tool_calls"))

    pair = await setup(fake_upstream, ccr_server, streaming(reply), model="deepseek-reasoner", name="deepseek",
                       use=["deepseek"])
    first = await stream_message(pair, tools=TOOLS, max_tokens=100000, messages=HI)
    assert pair.up.recorder.requests[0]["max_tokens"] == 65536
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    await stream_message(pair, tools=TOOLS, messages=[*HI, history(first), tool_results(first)])
    assert_openai_request(pair.sent, extra=DEEPSEEK)
    assert pair.sent["messages"][1]["reasoning_content"] == "List them."
    # a client that dropped the thinking block: the field is still there, empty
    without = {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content[1:]]}
    await stream_message(pair, tools=TOOLS, messages=[*HI, without, tool_results(first)])
    assert pair.sent["messages"][1]["reasoning_content"] == ""


async def test_deepseek_chat_caps_and_thinking_switch(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat()), model="deepseek-chat", use=["deepseek"])
    await create_message(pair, max_tokens=20000, messages=HI)
    assert pair.sent["max_tokens"] == 8192 and "thinking" not in pair.sent
    await create_message(pair, thinking={"type": "enabled", "budget_tokens": 2000}, messages=HI)
    assert pair.sent["thinking"] == {"type": "enabled"}


async def test_deepseek_v4_thinks_by_default_and_can_be_turned_off(fake_upstream, ccr_server):
    pair = await setup(fake_upstream, ccr_server, replying(chat()), model="deepseek-v4-flash", use=["deepseek"])
    tool_turn = [*HI, {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "Bash",
                                                          "input": {"command": "ls"}}]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "a"}]}]
    await create_message(pair, max_tokens=20000, tools=TOOLS, messages=tool_turn)
    assert pair.sent["max_tokens"] == 20000 and "thinking" not in pair.sent
    assert pair.sent["messages"][1]["reasoning_content"] == ""
    await create_message(pair, tools=TOOLS, thinking={"type": "disabled"}, messages=tool_turn)
    assert pair.sent["thinking"] == {"type": "disabled"} and "reasoning_content" not in pair.sent["messages"][1]
