"""Fixtures: a migrated database per test module, and a Database over it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from connection_store.adapters.database import Database, create_pool
from connection_store.adapters.migrations import migrate
from connection_store.settings import StoreSettings


@pytest.fixture(scope="module")
def migrated_database_url(database_url: str) -> str:
    """A fresh database of this test module with every migration applied."""
    asyncio.run(migrate(database_url))
    return database_url


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
