"""PostgreSQL access: a pool, and transactions that take on the right role: ``hub_app`` with
``app.organization_id`` set (row-level security) for one organization's work, ``hub_worker``
across organizations (sweeps, relay, rotation); both ``SET LOCAL``."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from connection_store.errors import StartingError

Connection = asyncpg.Connection | PoolConnectionProxy
"""A connection, pooled or not; what every query function takes."""


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("jsonb", "json"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


class Database:
    """Over ``pool``, or over one that ``open`` creates later (the app's start)."""

    def __init__(self, pool: asyncpg.Pool | None = None) -> None:
        self._pool = pool

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StartingError()
        return self._pool

    async def open(self, dsn: str, *, size: int) -> None:
        self._pool = await create_pool(dsn, size=size)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def ping(self) -> None:
        async with self.pool.acquire() as connection:
            await connection.fetchval("SELECT 1")

    @asynccontextmanager
    async def tenant(self, organization_id: uuid.UUID) -> AsyncIterator[Connection]:
        """A transaction that sees only ``organization_id``'s rows."""
        async with self.pool.acquire() as connection, connection.transaction():
            # SET LOCAL ROLE and the organization in one round trip (set_config('role') is
            # SET ROLE): every tenant request pays for it.
            await connection.execute(
                "SELECT set_config('role', 'hub_app', true), "
                "set_config('app.organization_id', $1, true)",
                str(organization_id),
            )
            yield connection

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Connection]:
        """A transaction across organizations, for sweeps and the outbox relay."""
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL ROLE hub_worker")
            yield connection
