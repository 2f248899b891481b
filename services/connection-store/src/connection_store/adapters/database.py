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
from hub_runtime.postgres import keep_session

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
        dsn,
        min_size=1,
        max_size=size,
        init=_init_connection,
        reset=keep_session,
        command_timeout=30,
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
        """A transaction that sees only ``organization_id``'s rows. It is begun by hand, so
        asyncpg's ``connection.transaction()`` cannot nest in it: use ``SAVEPOINT``."""
        # BEGIN, the role and the organization in one round trip: every tenant request pays
        # for it. A simple query takes no parameters; the organization is a UUID's own text.
        organization = uuid.UUID(str(organization_id))
        async with self.pool.acquire() as connection:
            await connection.execute(
                f"BEGIN; SET LOCAL ROLE hub_app; SET LOCAL app.organization_id = '{organization}'"
            )
            try:
                yield connection
            except BaseException:
                if not connection.is_closed():
                    await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Connection]:
        """A transaction across organizations, for sweeps and the outbox relay."""
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL ROLE hub_worker")
            yield connection
