"""Shared fixtures: real aiohttp servers on 127.0.0.1 for ccr and for fake providers.

    upstream = await fake_upstream(handler)            # a scripted provider, returns its base URL
    server = await ccr_server(make_config(...))         # ccr itself, with handler cancellation on
    client = anthropic.AsyncAnthropic(base_url=server.url, api_key="test")

Helpers that are not fixtures (configs, SSE frames, `start_pair`) are in tests/helpers.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccr.config import Config
from ccr.server.app import create_app
from tests.helpers import CCR, Handler, Recorder, Upstream, have_claude

# re-exported: older tests import these from here
from tests.helpers import make_config as make_config
from tests.helpers import openai_provider as openai_provider
from tests.pgserver import find_bindir, running_postgres


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `claude_cli` run the Claude Code CLI: without it they are skipped, not failed."""
    if have_claude():
        return
    skip = pytest.mark.skip(reason="the Claude Code CLI is not installed (scripts/test.sh installs it)")
    for item in items:
        if "claude_cli" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CCR_HOME and HOME; nothing touches the real user's files."""
    home = tmp_path / "ccr-home"
    home.mkdir()
    monkeypatch.setenv("CCR_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.delenv("CCR_CONFIG", raising=False)
    monkeypatch.delenv("SERVICE_PORT", raising=False)
    monkeypatch.delenv("CCR_DATABASE_URL", raising=False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    return home


@pytest.fixture
async def fake_upstream() -> Any:
    """Start a scripted provider: `await fake_upstream(handler, path="/v1/chat/completions")`.

    The handler receives the aiohttp request; the parsed JSON body and headers are recorded
    before it runs. When ccr closes the connection while a handler runs, the handler is
    cancelled and `recorder.disconnected` is set.
    """
    servers: list[TestServer] = []

    async def start(handler: Handler, path: str = "/v1/chat/completions") -> Upstream:
        recorder = Recorder()

        async def record(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            try:
                recorder.requests.append(json.loads(raw) if raw else {})
            except ValueError:
                recorder.requests.append({"_raw": raw.decode(errors="replace")})
            recorder.headers.append(dict(request.headers))
            recorder.paths.append(request.path_qs)
            try:
                return await handler(request)
            except asyncio.CancelledError:  # handler cancellation: the caller hung up
                recorder.disconnected.set()
                raise

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
        await server.start_server()
        servers.append(server)
        return Upstream(f"http://127.0.0.1:{server.port}{path}", recorder, server)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def ccr_server() -> Any:
    """Start ccr on a free loopback port: `await ccr_server(config)`."""
    servers: list[TestServer] = []

    async def start(config: Config) -> CCR:
        app = create_app(config)
        server = TestServer(app, host="127.0.0.1", handler_cancellation=True)
        await server.start_server()
        servers.append(server)
        return CCR(f"http://127.0.0.1:{server.port}", app, server)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the whole run (tests/pgserver.py); each test takes a database."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (the test command installs Debian's postgresql)")
        pytest.skip("PostgreSQL binaries not found (install Debian's postgresql)")
    with running_postgres(bindir) as url:
        yield url


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database on the shared test server for each test."""
    import asyncpg

    admin = await asyncpg.connect(postgres_server)
    name = f"t{os.urandom(6).hex()}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def upgraded_database(database_url: str) -> str:
    """A fresh database with ccr's schema (what `ccr db upgrade` does)."""
    from ccr.database.connect import open_pool
    from ccr.database.migrations import upgrade

    pool = await open_pool(database_url)
    try:
        await upgrade(pool)
    finally:
        await pool.close()
    return database_url
