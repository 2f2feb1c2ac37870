"""A fast fake OpenAI-compatible provider: raw asyncio HTTP/1.1 with pre-encoded replies.

It must never be the bottleneck, so it does almost nothing per request: it reads the headers
and the body (Content-Length), looks for the `[[bench:N:GAP]]` marker and `"stream": true` in
the raw bytes, and writes a reply built once per (N, GAP, stream). Streams use chunked
transfer encoding like real providers; a burst stream goes out in one write, a paced one as
one write per chunk, GAP milliseconds apart (on an absolute schedule from the first).

    python -m bench.upstream --port 0      # prints "listening <port>" and serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from functools import lru_cache

from .workloads import reply_pieces

__all__ = ["serve", "main", "Reply", "reply"]

_MARKER = re.compile(rb"\[\[bench:(\d+):(\d+)\]\]")
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_CHUNK_BASE = '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,' \
              '"model":"bench-model","choices":'


def _event(choices: str, usage: str = "") -> bytes:
    extra = f',"usage":{usage}' if usage else ""
    return f"data: {_CHUNK_BASE}{choices}{extra}}}\n\n".encode()


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Reply:
    """The pre-encoded bytes of one kind of reply."""

    def __init__(self, chunks: int, gap_ms: int, stream: bool) -> None:
        pieces = reply_pieces(chunks)
        usage = json.dumps({"prompt_tokens": 1000, "completion_tokens": chunks,
                            "total_tokens": 1000 + chunks}, separators=(",", ":"))
        self.gap = gap_ms / 1000
        if not stream:
            body = json.dumps({
                "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
                "model": "bench-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                             "finish_reason": "stop"}],
                "usage": json.loads(usage)}, ensure_ascii=False).encode()
            self.head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body)) + body
            self.parts: list[bytes] = []
            return
        events = [_event('[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]')]
        events += [_event('[{"index":0,"delta":{"content":' + json.dumps(p, ensure_ascii=False)
                          + '},"finish_reason":null}]') for p in pieces]
        tail = (_event('[{"index":0,"delta":{},"finish_reason":"stop"}]')
                + _event("[]", usage) + b"data: [DONE]\n\n")
        start = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        if self.gap == 0:
            self.head = start + _http_chunk(b"".join(events) + tail) + b"0\r\n\r\n"
            self.parts = []
        else:  # the role chunk and the first text go out at once, then one chunk per gap
            self.head = start + _http_chunk(events[0] + events[1])
            self.parts = [_http_chunk(e) for e in events[2:]]
            self.parts.append(_http_chunk(tail) + b"0\r\n\r\n")


@lru_cache(maxsize=64)
def reply(chunks: int, gap_ms: int, stream: bool) -> Reply:
    return Reply(chunks, gap_ms, stream)


_BAD_BODY = b'{"error":{"message":"no [[bench:N:GAP]] marker in the request"}}'
_BAD_REQUEST = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(_BAD_BODY), _BAD_BODY))


class _Protocol(asyncio.Protocol):
    """One keep-alive connection: parse a request, answer it, repeat."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.need = -1  # total bytes of the current request once its headers are parsed
        self.head_end = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is not a subclass)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _next(self) -> None:
        while not self.busy and self.transport is not None:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                self.need = end + 4 + length
                self.head_end = end + 4
            if len(self.buffer) < self.need:
                return
            body = bytes(self.buffer[self.head_end:self.need])
            del self.buffer[:self.need]
            self.need = -1
            self._answer(body)

    def _answer(self, body: bytes) -> None:
        assert self.transport is not None
        match = _MARKER.search(body)
        if match is None:
            self.transport.write(_BAD_REQUEST)
            return
        answer = reply(int(match[1]), int(match[2]), bool(_STREAM.search(body)))
        self.transport.write(answer.head)
        if answer.parts:
            self.busy = True
            asyncio.get_running_loop().create_task(self._paced(answer))

    async def _paced(self, answer: Reply) -> None:
        # Chunk k goes out k gaps after the first, on an absolute schedule: sleeping one gap
        # after another would add each wake-up's lateness to the stream, and that drift (a few
        # ms per second, different every time) would swamp the latency a proxy adds.
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k, part in enumerate(answer.parts, 1):
            delay = start + k * answer.gap - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.transport is None:
                return
            self.transport.write(part)
        self.busy = False
        self._next()


async def serve(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(_Protocol, host, port, backlog=1024, reuse_address=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def run() -> None:
        server = await serve(port=args.port)
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
