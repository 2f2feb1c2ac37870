"""vertex-gemini and vertex-claude: Vertex AI URLs and service-account OAuth.

A fake Google token endpoint on 127.0.0.1 (named as token_uri in a real service-account file
with a freshly generated RSA key) checks the RS256 JWT it receives with the public key and
hands out tokens; the fake Vertex endpoint checks the bearer token.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import anthropic
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ccr.errors import ConfigError
from tests.helpers import make_config, typed_sse

from .util import assert_gemini_request, create_message, replying, setup, stream_message, streaming

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenEndpoint:
    """Google's OAuth token endpoint as the service-account guide describes it."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.public = key.public_key()
        self.issued: list[dict] = []
        self.refuse = False
        self.lifetime = 3599

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        header, claims, signature = str(form["assertion"]).split(".")
        self.public.verify(_unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        claims_data = json.loads(_unb64(claims))
        if self.refuse:
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                                     status=400)
        self.issued.append({"header": json.loads(_unb64(header)), "claims": claims_data})
        return web.json_response({"access_token": f"ya29.token-{len(self.issued)}", "expires_in": self.lifetime,
                                  "token_type": "Bearer"})


@pytest.fixture
async def google(fake_upstream, tmp_path: Path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint = TokenEndpoint(key)
    token_server = await fake_upstream(endpoint.handle, path="/token")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    file = tmp_path / "sa.json"
    file.write_text(json.dumps({"type": "service_account", "project_id": "proj-from-file",
                                "private_key_id": "kid-1", "private_key": pem,
                                "client_email": "ccr@proj.iam.gserviceaccount.com",
                                "token_uri": token_server.url}))
    return endpoint, file


def gemini_reply(text: str) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}}


def bearer_checked(reply):
    async def handler(request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer ya29.token-"):
            return web.json_response({"error": {"code": 401, "message": "no token"}}, status=401)
        return await reply(request)
    return handler


async def test_vertex_gemini_token_is_signed_cached_and_sent(fake_upstream, ccr_server, google, monkeypatch):
    endpoint, file = google
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(file))
    pair = await setup(fake_upstream, ccr_server, bearer_checked(replying(gemini_reply("hi there"))),
                       use=[["vertex-gemini", {"location": "europe-west4"}]], model="gemini-2.5-pro", path="")
    for _ in range(2):
        message = await create_message(pair, messages=[{"role": "user", "content": "hi"}])
        assert message.content[0].text == "hi there"
    assert len(endpoint.issued) == 1, "the token is cached until it expires"
    issued = endpoint.issued[0]
    assert issued["header"] == {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
    claims = issued["claims"]
    assert claims["iss"] == "ccr@proj.iam.gserviceaccount.com" and claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 600
    assert pair.up.recorder.paths[-1] == ("/v1/projects/proj-from-file/locations/europe-west4/publishers/google"
                                          "/models/gemini-2.5-pro:generateContent")
    headers = pair.up.recorder.headers[-1]
    assert headers["Authorization"] == "Bearer ya29.token-1" and "x-goog-api-key" not in headers
    assert_gemini_request(pair.sent)


async def test_a_token_near_its_expiry_is_replaced(fake_upstream, ccr_server, google):
    endpoint, file = google
    endpoint.lifetime = 240   # inside ccr's 5-minute refresh margin: never reused
    pair = await setup(fake_upstream, ccr_server, bearer_checked(replying(gemini_reply("ok"))),
                       use=[["vertex-gemini", {"credentials": str(file)}]], model="gemini-2.5-pro", path="")
    for _ in range(2):
        await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert len(endpoint.issued) == 2
    assert [h["Authorization"] for h in pair.up.recorder.headers] == ["Bearer ya29.token-1", "Bearer ya29.token-2"]


async def test_vertex_gemini_stream(fake_upstream, ccr_server, google):
    _, file = google
    chunks = b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}}])
    pair = await setup(fake_upstream, ccr_server, bearer_checked(streaming(chunks)),
                       use=[["vertex-gemini", {"credentials": str(file), "project": "p1"}]],
                       model="gemini-2.5-flash", path="")
    message = await stream_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello" and message.usage.output_tokens == 2
    assert pair.up.recorder.paths[-1].endswith(
        "/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse")


async def test_vertex_claude_keeps_the_anthropic_shape(fake_upstream, ccr_server, google):
    _, file = google
    events = typed_sse(
        {"type": "message_start", "message": {"id": "msg_v", "type": "message", "role": "assistant",
                                              "model": "claude-sonnet-4-5@20250929", "content": [],
                                              "stop_reason": None, "stop_sequence": None,
                                              "usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "From Vertex"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 3}},
        {"type": "message_stop"})
    pair = await setup(fake_upstream, ccr_server, bearer_checked(streaming(events)),
                       use=[["vertex-claude", {"credentials": str(file)}]],
                       model="claude-sonnet-4-5@20250929", path="")
    message = await stream_message(pair, system="be brief", messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "From Vertex"
    sent = pair.sent
    assert sent["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent
    assert sent["system"] == "be brief" and sent["messages"] == [{"role": "user", "content": "hi"}]
    assert pair.up.recorder.paths[-1] == ("/v1/projects/proj-from-file/locations/us-east5/publishers/anthropic"
                                          "/models/claude-sonnet-4-5@20250929:streamRawPredict")
    headers = pair.up.recorder.headers[-1]
    assert "x-api-key" not in headers and "anthropic-version" not in headers


async def test_refused_service_account_is_a_clear_error(fake_upstream, ccr_server, google):
    endpoint, file = google
    endpoint.refuse = True
    pair = await setup(fake_upstream, ccr_server, replying(gemini_reply("never")),
                       use=[["vertex-gemini", {"credentials": str(file)}]], model="gemini-2.5-pro", path="")
    with pytest.raises(anthropic.APIStatusError) as caught:
        await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    message = caught.value.body["error"]["message"]
    assert caught.value.status_code == 502
    assert "Invalid JWT Signature." in message and "ccr@proj.iam.gserviceaccount.com" in message
    assert "PRIVATE KEY" not in message and pair.up.recorder.requests == []


def test_missing_credentials_fail_at_config_load(monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    provider = {"name": "vx", "api_base_url": "https://us-central1-aiplatform.googleapis.com", "api_key": "x",
                "models": ["gemini-2.5-pro"], "transformer": {"use": ["vertex-gemini"]}}
    from ccr.proxy.runtime import build_runtime
    with pytest.raises(ConfigError) as caught:
        build_runtime(make_config([provider], {"default": "vx,gemini-2.5-pro"}))
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(caught.value) and "Providers[0] (vx)" in str(caught.value)
    bad = tmp_path / "user.json"
    bad.write_text(json.dumps({"type": "authorized_user"}))
    provider["transformer"] = {"use": [["vertex-gemini", {"credentials": str(bad)}]]}
    with pytest.raises(ConfigError) as caught:
        build_runtime(make_config([provider], {"default": "vx,gemini-2.5-pro"}))
    assert "not a service-account key file" in str(caught.value)


async def test_token_requests_go_through_proxy_url(fake_upstream, ccr_server, tmp_path: Path):
    """With PROXY_URL set, the token exchange goes out through the proxy like the Vertex calls:
    neither host below resolves, so only a proxied request reaches them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    endpoint = TokenEndpoint(key)
    vertex = bearer_checked(replying(gemini_reply("via proxy")))

    async def proxy(request: web.Request) -> web.StreamResponse:
        if request.headers["Host"] == "oauth2.test.invalid":
            return await endpoint.handle(request)
        return await vertex(request)

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    file = tmp_path / "sa.json"
    file.write_text(json.dumps({"type": "service_account", "project_id": "p", "private_key": pem,
                                "client_email": "ccr@p.iam.gserviceaccount.com",
                                "token_uri": "http://oauth2.test.invalid/token"}))
    up = await fake_upstream(proxy, path="")
    pair = await setup(fake_upstream, ccr_server, replying({}), model="gemini-2.5-pro",
                       provider={"api_base_url": "http://vertex.test.invalid"}, PROXY_URL=up.url,
                       use=[["vertex-gemini", {"credentials": str(file)}]])
    message = await create_message(pair, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "via proxy" and len(endpoint.issued) == 1
    hosts = [h["Host"] for h in up.recorder.headers]
    assert hosts == ["oauth2.test.invalid", "vertex.test.invalid"]
    assert up.recorder.paths == ["/token", "/v1/projects/p/locations/us-central1/publishers/google"
                                           "/models/gemini-2.5-pro:generateContent"]
