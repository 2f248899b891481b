"""A service's own asyncpg pool (jsonb as Python values), opened at the app's start."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from hub_runtime.outbox.relay import Connection

DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a database that is away (or went away mid-statement) raises."""


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: a released connection needs no ``RESET ALL`` round trip, since the
    services set nothing but ``SET LOCAL`` and take only transaction-scoped locks (asyncpg still
    rolls back a transaction left open). One round trip less per request."""


class PostgresPool:
    """Opens its pool with ``open`` (the app's start) and closes it with ``close``."""

    def __init__(self, dsn: str, *, pool_size: int) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "open() first"
        return self._pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            init=_init_connection,
            reset=keep_session,
            command_timeout=10,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A transaction on the pool (the outbox relay's)."""
        async with self.pool.acquire() as connection, connection.transaction():
            yield connection
