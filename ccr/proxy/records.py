"""What the pipeline tells the rest of ccr about each proxied request, and the hooks it calls.

Two plug points, both plain callables kept in lists on the app (see ccr.server.keys) and
handed to the pipeline, which never imports the server:

    adjusters: (PreparedRequest) -> None     before the request is sent; may change `body`
    observers: (RecordedExchange) -> None    after the request finished, one call per request

An adjuster sees the request once it is routed. One that changes what routing depends on (the
model, thinking) sets `prepared.route = None`, and the pipeline routes the request again.

Observers get one `RequestRecord` per request, fallback attempts summarised in `attempts`.
They must be cheap (append to a bounded buffer); anything heavy goes off the event loop. The
bodies are captured only while some observer asks for them (`Observers.want_bodies`): then the
front door gives the pipeline's Exchange a `Bodies`, which the front door (client body, JSON
reply), the pipeline (provider body) and the stream writer (streamed reply) fill, and
`pipeline.finish` hands on in the `RecordedExchange`. Otherwise nothing is copied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import structlog

if TYPE_CHECKING:
    from .router import Route

__all__ = ["RequestRecord", "AttemptRecord", "RecordedExchange", "PreparedRequest", "Observer",
           "Adjuster", "Observers", "Bodies", "notify", "TASK_HEADER", "REPLY_CAP", "TaskSettings",
           "task_header", "read_task_header"]

#: The header the execution API's Claude Code runs send: their task and its settings
#: (`x-ccr-task: <id>; temperature=0.2; route=openai,gpt-4.1`, see `task_header`).
TASK_HEADER = "x-ccr-task"

log = structlog.get_logger("ccr.records")

Front = Literal["anthropic", "openai"]


@dataclass(slots=True)
class AttemptRecord:
    """One call to one target; a request with fallbacks has several."""

    provider: str
    model: str
    status: int | None = None   # the provider's HTTP status, None when none came back
    error: str | None = None


@dataclass(slots=True)
class RequestRecord:
    """One proxied request, as the log line, the stats and the usage ledger see it."""

    request_id: str
    started_at: float = field(default_factory=time.time)   # epoch seconds
    front: Front = "anthropic"
    stream: bool = False
    route_reason: str = ""
    provider: str = ""          # the target that answered (or the last one tried)
    model: str = ""
    status: int = 0
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    fallback: bool = False      # a target other than the first one answered
    session_id: str | None = None
    task_id: str | None = None
    max_tokens_clamped: int | None = None
    cost_usd: float | None = None   # filled by the usage ledger

    def count(self, usage: Mapping[str, Any] | None) -> None:
        """Take the token counts from an Anthropic `usage` object (what is not a count is 0)."""
        if not isinstance(usage, dict):  # parsed JSON: a dict or nothing
            return
        get = usage.get
        read, write = get("cache_read_input_tokens"), get("cache_creation_input_tokens")
        given, made = get("input_tokens"), get("output_tokens")
        # exact ints only: a bool or a null is no count
        self.input_tokens = given if given.__class__ is int else 0
        self.output_tokens = made if made.__class__ is int else 0
        self.cache_read_tokens = read if read.__class__ is int else 0
        self.cache_write_tokens = write if write.__class__ is int else 0


@dataclass(slots=True)
class RecordedExchange:
    """What observers receive: the record, and the bodies when someone asked for them."""

    record: RequestRecord
    client_body: bytes | None = None     # what the client sent
    provider_body: bytes | None = None   # what ccr sent to the (last) provider
    reply: bytes | None = None           # what went back to the client (capped)
    reply_cut: bool = False              # the reply was longer than REPLY_CAP


@dataclass(frozen=True, slots=True)
class TaskSettings:
    """What a task asks of every model request its CLI makes, subagents' too (the CLI has no
    flag for a temperature, and picks its own model for subagents)."""

    temperature: float | None = None
    route: str | None = None  # an explicit "provider,model"


def task_header(task_id: str, settings: TaskSettings) -> str:
    """The TASK_HEADER value a task's CLI sends. The settings travel with each request, so any
    router node applies them, whichever host runs the task."""
    parts = [task_id]
    if settings.temperature is not None:
        parts.append(f"temperature={settings.temperature}")
    if settings.route:
        parts.append(f"route={settings.route}")
    return "; ".join(parts)


def read_task_header(value: str | None) -> tuple[str | None, TaskSettings | None]:
    """(task id, its settings) from a TASK_HEADER value; what is not understood is left out."""
    if not value:
        return None, None
    task_id, *fields = (part.strip() for part in value.split(";"))
    temperature: float | None = None
    route: str | None = None
    for item in fields:
        key, _, text = item.partition("=")
        if key == "temperature":
            try:
                number = float(text)
            except ValueError:
                continue
            temperature = number if 0.0 <= number <= 1.0 else None
        elif key == "route" and "," in text:
            route = text
    settings = TaskSettings(temperature, route) if temperature is not None or route else None
    return task_id or None, settings


@dataclass(slots=True)
class PreparedRequest:
    """A validated request on its way to a provider; adjusters may change `body`."""

    front: Front
    body: dict[str, Any]                 # Anthropic Messages (front "anthropic") or OpenAI chat
    request_id: str
    stream: bool = False
    session_id: str | None = None
    task_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    route: Route | None = None           # set before adjusters run; None asks for a new routing
    record: RequestRecord | None = None  # e.g. for `max_tokens_clamped`
    size: int | None = None              # bytes of the client's body: a free bound of its tokens
    task: TaskSettings | None = None     # from TASK_HEADER: a task's temperature and route


Observer = Callable[[RecordedExchange], None]
Adjuster = Callable[[PreparedRequest], None]

REPLY_CAP = 1024 * 1024  # bytes of a reply kept for observers that want bodies


@dataclass(slots=True)
class Bodies:
    """The bytes of one exchange, gathered while an observer wants bodies (the inspector is on)."""

    client: bytes | None = None          # the body the client sent, as read
    provider: bytes | None = None        # the body sent to the last target tried (after the chain)
    reply: bytearray = field(default_factory=bytearray)   # what went back, the first REPLY_CAP bytes
    reply_cut: bool = False

    def add_reply(self, data: bytes) -> None:
        room = REPLY_CAP - len(self.reply)
        if len(data) > room:
            self.reply_cut = True
            data = data[:max(room, 0)]
        self.reply += data

    def exchange(self, record: RequestRecord) -> RecordedExchange:
        return RecordedExchange(record, self.client, self.provider, bytes(self.reply), self.reply_cut)


class Observers(list[Observer]):
    """The observer list; `want_bodies` is switched on by whoever needs bodies (the inspector)."""

    want_bodies: bool = False


def notify(observers: list[Observer], exchange: RecordedExchange) -> None:
    """Call every observer; one that fails is logged and never fails the request."""
    for observer in observers:
        try:
            observer(exchange)
        except Exception:
            log.exception("request observer failed", observer=getattr(observer, "__qualname__", "?"))
