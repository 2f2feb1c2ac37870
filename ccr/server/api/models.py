"""GET /v1/models: every "provider,model" of the config, parsed alike by both official SDKs.

    {"data": [{"type": "model", "id": "deepseek,deepseek-chat", "display_name": "deepseek-chat (deepseek)",
               "created_at": "1970-01-01T00:00:00Z", "lifecycle": "active",
               "object": "model", "created": 0, "owned_by": "deepseek"}, ...],
     "has_more": false, "first_id": "deepseek,deepseek-chat", "last_id": "...", "object": "list"}

Anthropic's fields (type, display_name, created_at, lifecycle; the page's has_more, first_id,
last_id) and OpenAI's (object, created, owned_by; the page's object) side by side. Anthropic's
paging parameters `limit`, `after_id` and `before_id` are honoured; OpenAI's client sends none.
The ids are what `model` takes on /v1/messages and /v1/chat/completions.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ccr.config import Config
from ccr.errors import RequestError
from ccr.server.keys import RUNTIME

__all__ = ["routes", "setup", "model_list"]

routes = web.RouteTableDef()
_EPOCH = "1970-01-01T00:00:00Z"


def model_list(config: Config) -> list[dict[str, Any]]:
    return [{"type": "model", "id": f"{p.name},{m}", "display_name": f"{m} ({p.name})",
             "created_at": _EPOCH, "lifecycle": "active", "object": "model", "created": 0, "owned_by": p.name}
            for p in config.providers for m in p.models]


def _page(items: list[dict[str, Any]], query: Any) -> tuple[list[dict[str, Any]], bool]:
    ids = [item["id"] for item in items]
    for name in ("after_id", "before_id"):
        if query.get(name) is not None and query[name] not in ids:
            raise RequestError(f"{name}: no model with the id {query[name]!r}")
    limit_text = query.get("limit", "")
    if limit_text and (not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000):
        raise RequestError(f"limit: expected a whole number from 1 to 1000, got {limit_text!r}")
    limit = int(limit_text) if limit_text else 1000
    if query.get("before_id") is not None:
        end = ids.index(query["before_id"])
        start = max(0, end - limit)
        return items[start:end], start > 0
    start = ids.index(query["after_id"]) + 1 if query.get("after_id") is not None else 0
    return items[start:start + limit], start + limit < len(items)


@routes.get("/v1/models")
async def models(request: web.Request) -> web.Response:
    page, more = _page(model_list(request.app[RUNTIME].config), request.query)
    return web.json_response({"data": page, "has_more": more, "object": "list",
                              "first_id": page[0]["id"] if page else None,
                              "last_id": page[-1]["id"] if page else None})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
