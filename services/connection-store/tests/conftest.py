"""Fixtures: a migrated database per test module, a Database over it as the login role the store
logs in as, and the superuser for what no service may do (TRUNCATE, seeding, plans)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from connection_store.adapters.database import Database, create_pool
from connection_store.adapters.migrations import migrate
from connection_store.settings import StoreSettings


@pytest.fixture(scope="module")
def migrated_database_url(owner_database_url: str, login_database_url: str) -> str:
    """A fresh database of this test module with every migration applied by the owner role; its
    URL as the login role."""
    asyncio.run(migrate(owner_database_url))
    return login_database_url


@pytest.fixture
async def admin(database_url: str, migrated_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The migrated database as the superuser."""
    connection = await asyncpg.connect(database_url)
    for type_name in ("jsonb", "json"):  # as the store's pool decodes them
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def db(migrated_database_url: str) -> AsyncIterator[Database]:
    pool = await create_pool(migrated_database_url, size=4)
    try:
        yield Database(pool)
    finally:
        await pool.close()


@pytest.fixture
def store_settings(migrated_database_url: str) -> StoreSettings:
    return StoreSettings(
        database_url=migrated_database_url,
        migrate_on_start=False,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
    )
