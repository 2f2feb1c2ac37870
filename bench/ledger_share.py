"""`python -m bench.ledger_share`: the usage layer's share of ccr's CPU per request, in one process.

The A/B run of bench/ledger.py compares two processes and needs a quiet machine to resolve a
few percent. This one profiles a single ccr app serving the bench workloads from the bench's
fake upstream and reports the time spent in the usage layer's per-request code (the limits
adjuster, the record observer, the open-streams hooks) against the time of the whole request
handler, plus the ledger thread's CPU per row. Both sides are measured in the same run, so
machine load scales them alike.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import threading
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from .upstream import serve
from .workloads import MODES, build

MODEL_INFO = {"bench-model": {"max_output_tokens": 8192, "max_input_tokens": 200000,
                              "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}
USAGE_CODE = ("ccr/usage/limits.py", "ccr/usage/observe.py", "ccr/usage/metrics.py", "ccr/usage/catalogue.py",
              "ccr/usage/ledger.py", "ccr/server/api/usage.py")


async def run(cases: list[str], requests: int) -> None:
    from ccr.config import parse
    from ccr.server.app import create_app

    upstream = await serve()
    up = int(upstream.sockets[0].getsockname()[1])
    config = parse({"LOG": False, "LOG_LEVEL": "warn", "Providers": [{
        "name": "bench", "api_base_url": f"http://127.0.0.1:{up}/v1/chat/completions", "api_key": "k",
        "models": ["bench-model"], "model_info": MODEL_INFO}], "Router": {"default": "bench,bench-model"}},
        home=Path(os.environ["CCR_HOME"]))
    app = create_app(config)
    ccr = TestServer(app, host="127.0.0.1")
    await ccr.start_server()
    url = f"http://127.0.0.1:{ccr.port}/v1/messages"
    async with aiohttp.ClientSession() as http:
        for case in cases:
            size, mode = case.split("/")
            template = build(size, MODES[mode]).anthropic
            bodies = [template.replace(b"@@SEQ@@", str(i).encode()) for i in range(requests)]
            for body in bodies[:50]:  # warm up
                await _one(http, url, body)
            writer = _thread_cpu()
            profile = cProfile.Profile()
            profile.enable()
            for body in bodies[50:]:
                await _one(http, url, body)
            profile.disable()
            await asyncio.sleep(0.5)  # the last batch
            _report(case, pstats.Stats(profile), requests - 50, _thread_cpu() - writer)
    await ccr.close()


async def _one(http: aiohttp.ClientSession, url: str, body: bytes) -> None:
    async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
        await resp.read()
        assert resp.status == 200, resp.status


def _thread_cpu() -> float:
    """CPU seconds of the ledger's writer thread so far."""
    thread = next(t for t in threading.enumerate() if t.name == "ccr-usage-ledger")
    return int(Path(f"/proc/self/task/{thread.native_id}/schedstat").read_text().split()[0]) / 1e9


def _report(case: str, stats: pstats.Stats, n: int, writer: float) -> None:
    raw = stats.stats  # type: ignore[attr-defined]
    handler = sum(ct for (file, _, name), (_, _, _, ct, _) in raw.items()
                  if file.endswith("ccr/server/api/messages.py") and name == "messages")
    usage = sum(tt for (file, _, _), (_, _, tt, _, _) in raw.items() if file.endswith(USAGE_CODE))
    if os.environ.get("LEDGER_SHARE_DETAIL"):
        top = sorted(((tt, f"{file.rsplit('/', 1)[-1]}:{name}") for (file, _, name), (_, _, tt, _, _) in raw.items()
                      if file.endswith(USAGE_CODE)), reverse=True)[:8]
        print("   ", ", ".join(f"{name} {tt / n * 1e6:.1f}" for tt, name in top))
    print(f"{case:<20} handler {handler / n * 1e6:8.1f} us/request   usage layer {usage / n * 1e6:6.1f} "
          f"us/request   share {usage / handler * 100:5.1f}%   ledger thread {writer / n * 1e6:5.1f} us/row")


def main() -> int:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # LOG: false
    with tempfile.TemporaryDirectory() as home:
        os.environ["CCR_HOME"] = home
        asyncio.run(run(sys.argv[1].split(",") if len(sys.argv) > 1 else
                        ["small/json", "claude-code/json", "claude-code/stream"], 1050))
    return 0


if __name__ == "__main__":
    sys.exit(main())
