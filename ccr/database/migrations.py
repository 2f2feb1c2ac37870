"""The shared database's schema, one numbered step at a time.

`ccr db upgrade` applies the steps a database lacks, each in its own transaction, under an
advisory lock (two nodes upgrading at once take turns). `ccr start` and `ccr worker` only check:
a database that is behind (or ahead, after a downgrade of ccr) stops them with a message that
says what to run. Steps are never edited once released; a change is a new step.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from .connect import DatabaseError

__all__ = ["MIGRATIONS", "Migration", "SchemaState", "schema_state", "upgrade", "require_current"]

_LOCK_ID = 0x63637201  # "ccr\x01": pg_advisory_xact_lock key for upgrades


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tasks, task events and the task queue", """
CREATE TABLE ccr_tasks (
    id               text PRIMARY KEY,
    kind             text NOT NULL,
    status           text NOT NULL,
    prompt           text NOT NULL,
    options          jsonb NOT NULL,
    request_id       text NOT NULL,
    created_at       text NOT NULL,
    updated_at       text NOT NULL,
    started_at       text,
    completed_at     text,
    result           jsonb,
    error            text,
    attempts         integer NOT NULL DEFAULT 0,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    worker           text,
    lease_until      timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    requeues         integer NOT NULL DEFAULT 0
);
CREATE INDEX ccr_tasks_status ON ccr_tasks (status, created_at);
CREATE INDEX ccr_tasks_created ON ccr_tasks (created_at);
CREATE INDEX ccr_tasks_queue ON ccr_tasks (enqueued_at) WHERE status = 'pending';
CREATE INDEX ccr_tasks_leases ON ccr_tasks (lease_until) WHERE status = 'running';

CREATE TABLE ccr_task_events (
    seq     bigserial PRIMARY KEY,
    task_id text NOT NULL REFERENCES ccr_tasks (id) ON DELETE CASCADE,
    kind    text NOT NULL,
    data    jsonb NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ccr_task_events_task ON ccr_task_events (task_id, seq);

-- shared secrets: e.g. the key that signs task tokens, so every node accepts every task's CLI
CREATE TABLE ccr_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);
"""),
    Migration(2, "the usage ledger", """
CREATE TABLE ccr_requests (
    id                 bigserial PRIMARY KEY,
    started_at         double precision NOT NULL,
    request_id         text NOT NULL,
    front              text NOT NULL,
    stream             boolean NOT NULL,
    route_reason       text NOT NULL,
    provider           text NOT NULL,
    model              text NOT NULL,
    status             integer NOT NULL,
    error              text,
    input_tokens       integer NOT NULL,
    output_tokens      integer NOT NULL,
    cache_read_tokens  integer NOT NULL,
    cache_write_tokens integer NOT NULL,
    cost_usd           double precision,
    latency_ms         double precision NOT NULL,
    ttfb_ms            double precision,
    attempts           text,
    fallback           boolean NOT NULL,
    session_id         text,
    task_id            text,
    max_tokens_clamped integer
);
CREATE INDEX ccr_requests_started_at ON ccr_requests (started_at);
CREATE INDEX ccr_requests_task ON ccr_requests (task_id) WHERE task_id IS NOT NULL;
"""),
)

LATEST = MIGRATIONS[-1].version


@dataclass(frozen=True, slots=True)
class SchemaState:
    version: int          # 0: no ccr schema yet
    latest: int = LATEST

    @property
    def current(self) -> bool:
        return self.version == self.latest


async def _version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('ccr_schema') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM ccr_schema"))


async def schema_state(pool: asyncpg.Pool) -> SchemaState:
    async with pool.acquire() as conn:
        return SchemaState(await _version(conn))


async def upgrade(pool: asyncpg.Pool) -> list[Migration]:
    """Apply every missing step; returns those applied (empty when already current)."""
    applied: list[Migration] = []
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
            await conn.execute("CREATE TABLE IF NOT EXISTS ccr_schema (version integer PRIMARY KEY, "
                               "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            version = await _version(conn)
            if version > LATEST:
                raise DatabaseError(_ahead(version))
            for step in MIGRATIONS:
                if step.version <= version:
                    continue
                async with conn.transaction():  # a savepoint per step
                    await conn.execute(step.sql)
                    await conn.execute("INSERT INTO ccr_schema (version, name) VALUES ($1, $2)",
                                       step.version, step.name)
                applied.append(step)
    return applied


async def require_current(pool: asyncpg.Pool) -> None:
    """DatabaseError unless the schema is exactly what this ccr needs."""
    state = await schema_state(pool)
    if state.version > state.latest:
        raise DatabaseError(_ahead(state.version))
    if not state.current:
        what = "has no ccr schema" if state.version == 0 else \
            f"is at schema version {state.version}, this ccr needs {state.latest}"
        raise DatabaseError(f"the database {what}: run `ccr db upgrade`, then start again")


def _ahead(version: int) -> str:
    return (f"the database is at schema version {version}, newer than this ccr knows ({LATEST}): "
            "upgrade ccr on this host")
