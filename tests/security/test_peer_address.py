"""D1: without a key, what decides is the connection's peer address, not the Host header: a
client on another address that sends `Host: 127.0.0.1` is refused, even if ccr somehow
listens on a wildcard address without a key (the config checks stop that; this is the second
line)."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from ccr.server.app import create_app
from tests.helpers import admin_headers, free_port, make_config, openai_provider


def own_non_loopback_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # no packet is sent; this picks the outgoing address
        except OSError:
            pytest.skip("no non-loopback IPv4 address on this machine")
        address = str(sock.getsockname()[0])
    if address.startswith("127."):
        pytest.skip("no non-loopback IPv4 address on this machine")
    return address


async def test_a_spoofed_host_from_another_address_is_refused():
    address = own_non_loopback_address()
    config = make_config([openai_provider("http://127.0.0.1:9/v1/chat/completions")], {"default": "fake,gpt-test"})
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as session:
            for path, method, payload in (("/v1/messages/count_tokens", "POST", body), ("/api/config", "GET", None)):
                async with session.request(method, f"http://{address}:{port}{path}", json=payload,
                                           headers={"Host": f"127.0.0.1:{port}", **admin_headers()}) as resp:
                    answer = await resp.json()
                    assert resp.status == 403, (path, answer)
                    assert answer["error"]["type"] == "permission_error"
                async with session.request(method, f"http://127.0.0.1:{port}{path}", json=payload,
                                           headers=admin_headers()) as resp:
                    assert resp.status == 200, path  # the same request over loopback
    finally:
        await runner.cleanup()
