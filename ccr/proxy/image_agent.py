"""The image agent: lets a text-only model work with images through the `Router.image` model.

claude-code-router's behaviour (its image.agent.ts), without its HTTP call to itself: when
`Router.image` is set, the request is routed to another model, and a user turn holds images,

1. every image becomes a reference, `[Image #1]`, a system note tells the model it cannot see
   images, and an `analyzeImage(imageId[], task, regions?)` tool is added;
2. the routed model's reply streams to the client as usual, except for `analyzeImage` calls,
   which ccr keeps: it asks the image model (one direct pipeline call per analyzeImage call, with
   the images and the task), appends the call and its result to the conversation, asks the
   routed model again and splices that reply into the same client stream (up to 3 rounds).

The client sees one message: no analyzeImage blocks, block indexes in order, the last round's
stop reason and usage. Images in the *last* user turn normally make the router pick
`Router.image` for the whole request instead (unless `forceUseImageAgent` is true); then this
agent does nothing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ccr.config import Config, split_route
from ccr.errors import CCRError, UpstreamError
from ccr.formats.assemble import accumulate
from ccr.formats.events import StreamSummary
from ccr.jsonlib import Json

from .router import Route
from .runtime import Runtime

__all__ = ["ImageAgent", "Caller", "prepare", "run", "TOOL_NAME"]

Event = tuple[str, Json]
TOOL_NAME = "analyzeImage"
MAX_ROUNDS = 3
NOTE = ("You are a text-only model and cannot see images. Each image in this conversation has been "
        "replaced by a reference such as [Image #1]. When you need to know what an image shows, call "
        f"the {TOOL_NAME} tool with its imageId (for [Image #1] the imageId is \"1\") and a task that "
        "says exactly what to look for; you get a text answer from a vision model.")
TOOL: Json = {
    "name": TOOL_NAME,
    "description": ("Analyze one or more images of this conversation with a vision model and get a "
                    "text answer. Use the imageId of each [Image #N] reference."),
    "input_schema": {"type": "object", "required": ["imageId", "task"], "properties": {
        "imageId": {"type": "array", "items": {"type": "string"},
                    "description": "ids of the images to analyze, e.g. [\"1\"]"},
        "task": {"type": "string", "description": "what to find out about the images"},
        "regions": {"type": "array", "items": {"type": "string"},
                    "description": "optional regions of interest, described in words"}}},
}


@dataclass(slots=True)
class ImageAgent:
    body: Json                      # the request as the routed model gets it
    images: dict[str, Json]         # "1" -> the Anthropic image block
    image_route: str                # Router.image, "provider,model"
    summary: StreamSummary = field(default_factory=StreamSummary)


def _reference(number: str) -> Json:
    return {"type": "text", "text": f"[Image #{number}] This is an image; to view or analyze it, call "
                                    f"{TOOL_NAME} with imageId \"{number}\"."}


def _replace_images(content: Any, images: dict[str, Json]) -> Any:
    if not isinstance(content, list):
        return content
    out = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "image":
            number = str(len(images) + 1)
            images[number] = block
            out.append(_reference(number))
        elif isinstance(block, dict) and block.get("type") == "tool_result":
            out.append({**block, "content": _replace_images(block.get("content"), images)})
        else:
            out.append(block)
    return out


def _has_images(body: Json) -> bool:
    return '"type": "image"' in json.dumps(body.get("messages") or [])


def prepare(config: Config, body: Json, route: Route) -> ImageAgent | None:
    """The agent for this request, or None when it has nothing to do."""
    image_route = config.router.image
    if not image_route or not _has_images(body):
        return None
    provider, model = split_route(image_route)
    if (provider.strip().lower(), model.strip().lower()) == (route.provider.name.lower(), route.model.lower()):
        return None  # the image model itself sees the images
    images: dict[str, Json] = {}
    out = copy.deepcopy(body)
    for message in out.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "user":
            message["content"] = _replace_images(message.get("content"), images)
    if not images:
        return None
    system = out.get("system")
    note = {"type": "text", "text": NOTE}
    if isinstance(system, list):
        out["system"] = [*system, note]
    else:
        out["system"] = [*([{"type": "text", "text": system}] if system else []), note]
    out["tools"] = [TOOL, *(out.get("tools") or [])]
    return ImageAgent(out, images, image_route)


#: One provider call, made by the pipeline (ccr/proxy/pipeline.py): an Anthropic body to a route,
#: Anthropic events back.
Caller = Callable[[Route, Json], AsyncIterator[Event]]


# --- the agent loop ------------------------------------------------------------------------------

def _image_ids(value: Any) -> list[str]:
    ids = value if isinstance(value, list) else [value]
    return [m.group(0) for m in (re.search(r"\d+", str(i)) for i in ids) if m]


async def _analyze(agent: ImageAgent, runtime: Runtime, call: Caller, request: Json) -> tuple[str, bool]:
    """Ask the image model; (answer, is_error)."""
    ids = _image_ids(request.get("imageId"))
    blocks = [agent.images[i] for i in ids if i in agent.images]
    if not blocks:
        known = ", ".join(agent.images) or "none"
        return f"Error: unknown imageId {request.get('imageId')!r}; the images are {known}", True
    task = str(request.get("task") or "Describe the image in detail.")
    regions = request.get("regions")
    if isinstance(regions, list) and regions:
        task += "\nRegions of interest: " + "; ".join(str(r) for r in regions)
    provider, model = runtime.router.resolve(agent.image_route, "Router.image")
    route = Route(provider, model, "image agent")
    body = {"model": model, "max_tokens": 4096, "stream": False,
            "messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": task}]}]}
    try:
        message = await accumulate(call(route, body))
    except (CCRError, aiohttp.ClientError, TimeoutError) as exc:
        return f"Error: the image model {route.name} failed: {getattr(exc, 'message', type(exc).__name__)}", True
    text = "\n".join(b.get("text", "") for b in message.get("content") or () if b.get("type") == "text")
    return text or "(the image model returned no text)", False


async def run(agent: ImageAgent, runtime: Runtime, route: Route, call: Caller) -> AsyncIterator[Event]:
    """The routed model's events, with analyzeImage calls answered and the follow-ups spliced in."""
    body = agent.body
    next_index = 0
    sent_tools = False
    output_tokens = 0
    for round_number in range(MAX_ROUNDS):
        kept: dict[int, int] = {}            # upstream block index -> client block index
        captured: dict[int, Json] = {}       # upstream index -> analyzeImage block being built
        partial: dict[int, str] = {}
        history: list[Json] = []             # this round's blocks, for the follow-up request
        final: Json | None = None
        async for kind, data in call(route, body):
            index: Any = data.get("index")
            if kind in ("message_start", "ping"):
                if round_number == 0:
                    yield kind, data
            elif kind == "content_block_start":
                block = dict(data["content_block"])
                if block.get("type") == "tool_use" and block.get("name") == TOOL_NAME:
                    captured[index] = block
                else:
                    kept[index] = next_index
                    next_index += 1
                    sent_tools = sent_tools or block.get("type") == "tool_use"
                    yield kind, {**data, "index": kept[index]}
                history.append(block)
            elif kind == "content_block_delta":
                _grow(history, captured, partial, index, data["delta"])
                if index in kept:
                    yield kind, {**data, "index": kept[index]}
            elif kind == "content_block_stop":
                if index in kept:
                    yield kind, {**data, "index": kept[index]}
            elif kind == "message_delta":
                final = data
            elif kind == "error":
                yield kind, data
                return
        if final is None:
            raise UpstreamError(f"{route.name}: the provider's reply ended early", status=502)
        output_tokens += int((final.get("usage") or {}).get("output_tokens") or 0)
        if not captured or round_number == MAX_ROUNDS - 1:
            usage = {**(final.get("usage") or {}), "output_tokens": output_tokens}
            delta = dict(final.get("delta") or {})
            if sent_tools:
                delta["stop_reason"] = "tool_use"
            agent.summary.usage = usage
            yield "message_delta", {**final, "delta": delta, "usage": usage}
            yield "message_stop", {"type": "message_stop"}
            return
        results = []
        for upstream_index, block in captured.items():
            arguments = _parse(partial.get(upstream_index, ""))
            answer, failed = await _analyze(agent, runtime, call, arguments)
            results.append({"type": "tool_result", "tool_use_id": block.get("id", ""), "content": answer,
                             **({"is_error": True} if failed else {})})
            block["input"] = arguments
        turn = [b for b in history if b.get("type") != "tool_use" or b.get("name") == TOOL_NAME]
        body = {**body, "messages": [*body["messages"], {"role": "assistant", "content": turn},
                                     {"role": "user", "content": results}]}


def _grow(history: list[Json], captured: dict[int, Json], partial: dict[int, str], index: int,
          delta: Json) -> None:
    """Build this round's blocks from their deltas (the follow-up request repeats them)."""
    if index is None or index >= len(history):
        return
    block = history[index]
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = block.get("text", "") + delta.get("text", "")
    elif kind == "thinking_delta":
        block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
    elif kind == "signature_delta":
        block["signature"] = block.get("signature", "") + delta.get("signature", "")
    elif kind == "input_json_delta":
        partial[index] = partial.get(index, "") + delta.get("partial_json", "")
        if index not in captured:
            block["input"] = _parse(partial[index])


def _parse(text: str) -> Json:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
