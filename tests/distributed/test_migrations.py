"""`ccr db upgrade` semantics against a real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from ccr.database.connect import DatabaseError, open_pool
from ccr.database.migrations import LATEST, MIGRATIONS, require_current, schema_state, upgrade
from ccr.database.url import display_url


async def test_fresh_database_is_behind_until_upgraded(database_url: str) -> None:
    pool = await open_pool(database_url)
    try:
        assert (await schema_state(pool)).version == 0
        with pytest.raises(DatabaseError, match="ccr db upgrade"):
            await require_current(pool)
        applied = await upgrade(pool)
        assert [m.version for m in applied] == [m.version for m in MIGRATIONS]
        await require_current(pool)
        assert await upgrade(pool) == []  # idempotent
        assert (await schema_state(pool)).version == LATEST
    finally:
        await pool.close()


async def test_two_nodes_upgrading_at_once_take_turns(database_url: str) -> None:
    pools = [await open_pool(database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(upgrade(p) for p in pools))
        assert sorted(len(r) for r in results) == [0, len(MIGRATIONS)]
    finally:
        for p in pools:
            await p.close()


async def test_newer_schema_is_refused(database_url: str) -> None:
    pool = await open_pool(database_url)
    try:
        await upgrade(pool)
        await pool.execute("INSERT INTO ccr_schema (version, name) VALUES ($1, 'from the future')", LATEST + 1)
        with pytest.raises(DatabaseError, match="newer than this ccr"):
            await require_current(pool)
    finally:
        await pool.close()


async def test_unreachable_database_names_the_address_not_the_password() -> None:
    url = "postgresql://ccr:s3cret-pass@127.0.0.1:1/ccr"
    with pytest.raises(DatabaseError) as caught:
        await open_pool(url)
    assert "s3cret-pass" not in caught.value.message
    assert "127.0.0.1:1" in caught.value.message
    assert display_url(url) == "postgresql://ccr:***@127.0.0.1:1/ccr"
