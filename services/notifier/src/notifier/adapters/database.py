"""The ``Database`` port: the pool, its migrations, and one transaction over the notifier's tables.

The tables live in the hub's database beside connection-store's, under their own migrations
package and history table (``notifier_migrations``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from hub_runtime.migrations import migrate as _migrate

from notifier.adapters.deliveries import PostgresDeliveries
from notifier.adapters.inbox import PostgresInbox
from notifier.adapters.incidents import PostgresIncidents
from notifier.adapters.marks import PostgresMarks
from notifier.adapters.notifications import PostgresNotifications

LOCK_ID = 0x4E07_1F1E  # pg_advisory_lock key of the notifier's migrations


async def migrate(dsn: str) -> list[str]:
    return await _migrate(
        dsn, package="notifier.migrations", history_table="notifier_migrations", lock_id=LOCK_ID
    )


@dataclass(frozen=True)
class PostgresTransaction:
    """The ``Transaction`` port: every table over one connection, in one transaction."""

    inbox: PostgresInbox
    marks: PostgresMarks
    incidents: PostgresIncidents
    notifications: PostgresNotifications
    deliveries: PostgresDeliveries


class PostgresDatabase:
    """Opened by the app's lifespan (``open``), closed at its end."""

    def __init__(self, dsn: str, *, pool_size: int) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self.pool_size, init=_codecs, command_timeout=30
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        assert self._pool is not None, "the database is not open"
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresTransaction(
                inbox=PostgresInbox(connection),
                marks=PostgresMarks(connection),
                incidents=PostgresIncidents(connection),
                notifications=PostgresNotifications(connection),
                deliveries=PostgresDeliveries(connection),
            )

    async def ping(self) -> None:
        """One round trip (readiness)."""
        assert self._pool is not None, "the database is not open"
        async with self._pool.acquire() as connection:
            await connection.fetchval("SELECT 1")


async def _codecs(connection: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
