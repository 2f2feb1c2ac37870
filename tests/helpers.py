"""What the tests share: ccr and fake providers on 127.0.0.1, SSE frames, the Claude Code CLI.

    pair = await start_pair(fake_upstream, ccr_server, handler, use=["gemini"], model="gemini-2.5-pro")
    async with pair.client() as client: ...        # the official anthropic SDK, pointed at ccr
    pair.sent                                      # the last body the fake provider received

The `fake_upstream` and `ccr_server` fixtures (tests/conftest.py) start the servers and close them
after the test; everything here is plain functions and dataclasses.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import openai
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccr import admin_token
from ccr.config import Config, parse

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROOT = Path(__file__).resolve().parents[1]

# --- the Claude Code CLI ----------------------------------------------------------------------

#: the CLI scripts/test.sh installs; tests that run it carry the `claude_cli` marker and are
#: skipped when it is missing (tests/conftest.py)
CLAUDE = os.environ.get("CCR_TEST_CLAUDE") or str(ROOT / ".cache/claude-cli/node_modules/.bin/claude")


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1 (for a process the test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def have_claude() -> bool:
    return Path(CLAUDE).is_file()


async def run_claude(url: str, tmp_path: Path, *args: str) -> Json:
    """Run `claude -p ARGS --output-format json` against ccr at `url`; its JSON result."""
    home = tmp_path / "claude-home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "ANTHROPIC_BASE_URL": url, "ANTHROPIC_AUTH_TOKEN": "ccr-key",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_MAX_RETRIES": "0"}
    proc = await asyncio.create_subprocess_exec(
        CLAUDE, "-p", *args, "--output-format", "json", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert stdout, stderr.decode()
    return json.loads(stdout)


# --- SSE frames -------------------------------------------------------------------------------

def sse(*events: Json, done: bool = True) -> bytes:
    """`data: {...}` frames (OpenAI chat completions, Gemini with alt=sse), then `data: [DONE]`."""
    out = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)
    return out + (b"data: [DONE]\n\n" if done else b"")


def typed_sse(*events: Json) -> bytes:
    """`event: <type>` + `data:` frames (Anthropic, OpenAI Responses API)."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def parse_sse(raw: bytes) -> list[tuple[str, Json]]:
    """Anthropic-style SSE bytes -> [(event, data)] (the tests' own tiny parser)."""
    events = []
    for block in raw.decode().split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


# --- fake providers and ccr -------------------------------------------------------------------

@dataclass
class Recorder:
    """What a fake upstream received."""

    requests: list[Json] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    #: set when a handler was cancelled because ccr closed the connection mid-reply
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last(self) -> Json:
        return self.requests[-1]


@dataclass
class Upstream:
    url: str
    recorder: Recorder
    server: TestServer


@dataclass
class CCR:
    url: str
    app: web.Application
    server: TestServer


def admin_headers(key: str | None = None) -> dict[str, str]:
    """The management API's credential: `key`, else the local admin token ccr wrote at start."""
    credential = key or admin_token.read(Path(os.environ["CCR_HOME"]))
    return {"x-api-key": credential} if credential else {}


def make_config(providers: list[Json] | None = None, router: Json | None = None, **top: Any) -> Config:
    """A Config built in code, with the same validation as a file."""
    raw: Json = {"Providers": providers or [], "Router": router or {}}
    raw.update(top)
    return parse(raw, home=Path(os.environ["CCR_HOME"]))


def openai_provider(url: str, name: str = "fake", models: list[str] | None = None, **extra: Any) -> Json:
    return {"name": name, "api_base_url": url, "api_key": "sk-upstream-secret",
            "models": models or ["gpt-test"], **extra}


@dataclass
class Pair:
    """A fake provider and ccr in front of it, routed to it by default."""

    up: Upstream
    ccr: CCR
    model: str

    @property
    def sent(self) -> Json:
        """The last body the fake provider received."""
        return self.up.recorder.last

    def client(self, api_key: str = "client-key") -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.ccr.url, api_key=api_key, max_retries=0)

    def openai(self, api_key: str = "client-key") -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.ccr.url + "/v1", api_key=api_key, max_retries=0)


async def start_pair(fake_upstream: Any, ccr_server: Any, handler: Handler, *, name: str = "fake",
                     model: str = "gpt-test", models: list[str] | None = None,
                     path: str = "/v1/chat/completions", use: list[Any] | None = None,
                     model_use: list[Any] | None = None, provider: Json | None = None,
                     router: Json | None = None, **top: Any) -> Pair:
    """Start a fake provider serving `handler` and ccr routing to it (`Router.default` is
    "name,model" unless `router` is given). `use`/`model_use` set the provider's transformer
    chain and the model's; `provider` adds or replaces keys of its entry; `top` are config keys."""
    up = await fake_upstream(handler, path=path)
    spec = openai_provider(up.url, name, models or [model])
    transformer: Json = {}
    if use is not None:
        transformer["use"] = use
    if model_use is not None:
        transformer[spec["models"][0]] = {"use": model_use}
    if transformer:
        spec["transformer"] = transformer
    spec.update(provider or {})
    config = make_config([spec], router or {"default": f"{spec['name']},{spec['models'][0]}"}, **top)
    return Pair(up, await ccr_server(config), spec["models"][0])
