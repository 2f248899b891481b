"""The ``Marks`` port: ``notifier_connections``, the latest recovery and disconnect per
connection; its row is the lock every event of the connection takes."""

from __future__ import annotations

import uuid

from asyncpg.pool import PoolConnectionProxy

from notifier.domain.incidents import Mark


class PostgresMarks:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self.connection = connection

    async def lock(self, organization_id: uuid.UUID, provider: str) -> Mark:
        await self.connection.execute(
            """INSERT INTO notifier_connections (organization_id, provider) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            organization_id,
            provider,
        )
        record = await self.connection.fetchrow(
            """SELECT recovered_version, recovered_at, disconnected_at FROM notifier_connections
               WHERE organization_id = $1 AND provider = $2 FOR UPDATE""",
            organization_id,
            provider,
        )
        assert record is not None
        return Mark(record["recovered_version"], record["recovered_at"], record["disconnected_at"])

    async def save(self, organization_id: uuid.UUID, provider: str, mark: Mark) -> None:
        await self.connection.execute(
            """UPDATE notifier_connections
               SET recovered_version = $3, recovered_at = $4, disconnected_at = $5
               WHERE organization_id = $1 AND provider = $2""",
            organization_id,
            provider,
            mark.recovered_version,
            mark.recovered_at,
            mark.disconnected_at,
        )
