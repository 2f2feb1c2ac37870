"""HTTP endpoints of the Claude Code execution API (all behind ccr's authentication).

    POST   /api/claude-code                  run and wait: {"success", "result", "task_id", "request_id"}
    POST   /api/claude-code/async            202 {"task_id", "status": "pending", "message", "request_id"}
    GET    /api/claude-code/task/{id}        the task and, once finished, its result
    GET    /api/claude-code/task/{id}/events the CLI's output live, as server-sent events
    DELETE /api/claude-code/task/{id}        cancel: the CLI's process group is killed
    POST   /api/claude-code/batch            tasks in parallel (bounded), one result each, in order
    POST   /api/claude-code/workflow         steps in order with context passing (JSON or YAML)
    GET    /api/tasks?status=&limit=&offset= stored tasks, newest first
    POST   /api/tasks/cleanup {"days": N}    delete finished tasks older than N days
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from ccr.config.claude_code import ExecSettings
from ccr.errors import CCRError, NotFoundError, RequestError
from ccr.execution.claude import find_claude
from ccr.execution.options import parse_run
from ccr.execution.running import RUNNING, TaskRegistry, task_adjuster, task_counter
from ccr.execution.service import ExecutionService, failure
from ccr.execution.store import FINISHED, STATUSES
from ccr.execution.workflow import (
    Step,
    load_yaml,
    parse_workflow,
    summary,
    with_context,
)
from ccr.jsonlib import Json
from ccr.server.auth import MODEL_CREDENTIALS
from ccr.server.body import read_json, read_text
from ccr.server.keys import RECORD_OBSERVERS, REQUEST_ADJUSTERS, RUNTIME
from ccr.server.middlewares import REQUEST_ID

__all__ = ["routes", "setup", "EXECUTION"]

routes = web.RouteTableDef()
EXECUTION: web.AppKey[ExecutionService] = web.AppKey("ccr_execution", ExecutionService)
_MAX_DAYS = 36_500  # a century: beyond it the cutoff date would not exist
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def setup(app: web.Application) -> None:
    registry = TaskRegistry()
    app[RUNNING] = registry
    app[MODEL_CREDENTIALS].append(registry)  # each task's CLI calls ccr with its own token
    app[REQUEST_ADJUSTERS].append(task_adjuster())  # its temperature and model
    app[RECORD_OBSERVERS].append(task_counter(registry))  # its requests and tokens
    service = ExecutionService(app[RUNTIME].config, registry)
    app[MODEL_CREDENTIALS].append(service.tokens)  # shared database: tokens of other nodes' tasks
    app[EXECUTION] = service
    app.cleanup_ctx.append(_service_ctx)
    app.on_shutdown.append(_shutdown)
    app.add_routes(routes)


async def _service_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[EXECUTION]
    await service.start()
    yield
    await service.stop()


async def _shutdown(app: web.Application) -> None:
    await app[EXECUTION].shutdown()


def _context(request: web.Request) -> tuple[ExecutionService, ExecSettings, str]:
    service = request.app[EXECUTION]
    settings = service.settings(request.app[RUNTIME].config)
    if request.transport is not None:
        service.saw_request_on(request.transport.get_extra_info("sockname"))
    return service, settings, request[REQUEST_ID]


def _require_cli(request: web.Request) -> None:
    service = request.app[EXECUTION]
    if service.shared is not None and not service.run_tasks:
        return  # an accept-only node: the workers, on other hosts, have the CLI
    if find_claude(request.app[RUNTIME].config) is None:
        raise CCRError("the Claude Code CLI was not found: set CLAUDE_PATH in the config or the "
                       "environment, or put `claude` on PATH", status=503, error_type="api_error")


async def _json(request: web.Request) -> Any:
    return await read_json(request, "a JSON object", object_only=False)  # size, charset, depth: 4xx


@routes.post("/api/claude-code")
async def run_sync(request: web.Request) -> web.Response:
    service, settings, request_id = _context(request)
    run = parse_run(await _json(request), settings)
    _require_cli(request)
    [record] = await service.enqueue([run], settings, kind="sync", request_id=request_id)
    result = await service.execute(record.id, run)
    return web.json_response({"success": result["success"], "result": result, "task_id": record.id,
                              "request_id": request_id})


@routes.post("/api/claude-code/async")
async def run_async(request: web.Request) -> web.Response:
    service, settings, request_id = _context(request)
    run = parse_run(await _json(request), settings)
    _require_cli(request)
    [record] = await service.enqueue([run], settings, kind="async", request_id=request_id)
    service.submit(record, run)
    return web.json_response({"task_id": record.id, "status": "pending",
                              "message": "task accepted; poll GET /api/claude-code/task/{task_id} "
                                         "or stream .../events for the result",
                              "request_id": request_id}, status=202)


async def _record(request: web.Request) -> Any:
    task_id = request.match_info["task_id"]
    record = await request.app[EXECUTION].store.get(task_id)
    if record is None:
        raise NotFoundError(f"task {task_id!r} not found")
    return record


@routes.get("/api/claude-code/task/{task_id}")
async def get_task(request: web.Request) -> web.Response:
    record = await _record(request)
    view = record.view()
    running = request.app[RUNNING].get(record.id)
    if running is not None and running.pid is not None and record.status == "running":
        view["pid"] = running.pid
    return web.json_response(view)


@routes.delete("/api/claude-code/task/{task_id}")
async def cancel_task(request: web.Request) -> web.Response:
    service, _, request_id = _context(request)
    record = await _record(request)
    if record.status in FINISHED or not await service.cancel(record.id):
        raise CCRError(f"task {record.id} is already {record.status}; only pending or running tasks "
                       "can be cancelled", status=409, error_type="invalid_request_error")
    return web.json_response({"task_id": record.id, "status": "cancelling",
                              "message": "the task's Claude Code process is being stopped",
                              "request_id": request_id})


@routes.get("/api/claude-code/task/{task_id}/events")
async def task_events(request: web.Request) -> web.StreamResponse:
    """Everything so far and then live, from this process or (shared database) from any node."""
    service = request.app[EXECUTION]
    record = await _record(request)
    async with sse_response(request, sep="\n") as sse:
        await sse.send(json.dumps({"task_id": record.id, "status": record.status}), event="status")
        sent_result = False
        async for kind, data in service.events(record.id):
            await sse.send(json.dumps(data), event=kind)
            sent_result = sent_result or kind == "result"
        record = await _record(request)
        if not sent_result and record.result is not None:
            await sse.send(json.dumps({"task_id": record.id, "status": record.status,
                                       "result": record.result}), event="result")
        await sse.send(json.dumps(record.view()), event="done")
    return sse


def _batch_defaults(body: Json) -> Json:
    defaults: Json = {k: body[k] for k in ("timeout", "max_retries") if k in body}
    unknown = sorted(set(body) - {"tasks", "timeout", "max_retries"})
    if unknown:
        raise RequestError(f"{unknown[0]}: unknown field (a batch has tasks, timeout, max_retries)")
    return defaults


@routes.post("/api/claude-code/batch")
async def run_batch(request: web.Request) -> web.Response:
    service, settings, request_id = _context(request)
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("tasks"), list) or not body["tasks"]:
        raise RequestError('tasks: missing; send {"tasks": [{"prompt": ..., "options": {...}}, ...]}')
    defaults = _batch_defaults(body)
    tasks = body["tasks"]
    if len(tasks) > settings.max_batch:
        raise RequestError(f"tasks: {len(tasks)} tasks exceed ClaudeCode.max_batch ({settings.max_batch})")
    runs = []
    for i, item in enumerate(tasks):
        if isinstance(item, dict) and isinstance(item.get("options", {}), dict):
            item = {**item, "options": {**defaults, **(item.get("options") or {})}}
        runs.append(parse_run(item, settings, f"tasks[{i}]"))
    _require_cli(request)
    records = await service.enqueue(runs, settings, kind="batch", request_id=request_id)
    outcomes = await asyncio.gather(*(service.execute(r.id, run) for r, run in zip(records, runs, strict=True)),
                                    return_exceptions=True)
    results = []
    for i, (record, outcome) in enumerate(zip(records, outcomes, strict=True)):
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
        result = outcome if isinstance(outcome, dict) else failure(f"internal error: {type(outcome).__name__}")
        results.append({**result, "index": i, "task_id": record.id})
    ok = sum(1 for r in results if r["success"])
    return web.json_response({"success": ok == len(results), "total_tasks": len(results),
                              "successful_tasks": ok, "failed_tasks": len(results) - ok,
                              "results": results, "request_id": request_id})


async def _workflow_steps(request: web.Request, settings: ExecSettings) -> list[Step]:
    if request.content_type in _YAML_TYPES:
        data = load_yaml(await read_text(request, "a YAML workflow"))
    else:
        data = await _json(request)
    return parse_workflow(data, settings)


StepDone = Callable[[Json], Awaitable[None]]


async def _run_workflow(service: ExecutionService, steps: list[Step], request_id: str,
                        on_step: StepDone | None = None) -> Json:
    results: list[Json] = []
    context: dict[str, str] = {}
    stopped_at = None
    try:
        for step in steps:
            run = step.run
            if step.use_context and context:
                run = replace(run, prompt=with_context(run.prompt, context))
            record = await service.create(run, kind="workflow", request_id=request_id)
            result = await service.execute(record.id, run)
            entry = {"step_name": step.name, "step_number": step.number, "success": result["success"],
                     "task_id": record.id, "result": result}
            results.append(entry)
            if on_step is not None:
                await on_step(entry)
            if result["success"]:
                context[step.name] = result["output"]
            elif step.critical:
                stopped_at = step.name
                break
    finally:
        service.gate.forget(len(steps) - len(results))
    return summary(results, len(steps), context, stopped_at)


def _wants_stream(request: web.Request) -> bool:
    return (request.query.get("stream", "").lower() in ("1", "true", "yes")
            or "text/event-stream" in request.headers.get("Accept", ""))


@routes.post("/api/claude-code/workflow")
async def run_workflow(request: web.Request) -> web.StreamResponse:
    service, settings, request_id = _context(request)
    steps = await _workflow_steps(request, settings)
    _require_cli(request)
    await service.admit(len(steps), settings)
    if not _wants_stream(request):
        answer = await _run_workflow(service, steps, request_id)
        return web.json_response({**answer, "request_id": request_id})
    async with sse_response(request, sep="\n", allow_all_methods=True) as sse:
        async def on_step(entry: Json) -> None:
            await sse.send(json.dumps({**entry, "total_steps": len(steps)}), event="step")

        answer = await _run_workflow(service, steps, request_id, on_step)
        await sse.send(json.dumps({**answer, "request_id": request_id}), event="workflow")
    return sse


def _int_param(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    value = request.query.get(key)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise RequestError(f"{key}: expected a whole number in {low}..{high}, got {value!r}")
    return int(value)


@routes.get("/api/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    service, _, request_id = _context(request)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise RequestError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    limit = _int_param(request, "limit", 20, 1, 1000)
    offset = _int_param(request, "offset", 0, 0, 10 ** 9)
    rows, total = await service.store.page(status, limit, offset)
    return web.json_response({"tasks": [r.summary() for r in rows], "total": total, "limit": limit,
                              "offset": offset, "request_id": request_id})


@routes.post("/api/tasks/cleanup")
async def cleanup_tasks(request: web.Request) -> web.Response:
    service, _, request_id = _context(request)
    body = await _json(request)
    days = body.get("days") if isinstance(body, dict) else None
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= _MAX_DAYS:
        raise RequestError(f'days: expected a number of days from 0 to {_MAX_DAYS}, like {{"days": 7}}, '
                           f"got {str(days)[:40]}")
    deleted = await service.store.cleanup(float(days))
    return web.json_response({"message": f"deleted {deleted} finished tasks older than {days:g} days",
                              "deleted": deleted, "request_id": request_id})
