"""The ``Inbox`` port: ``notifier_processed_events``, one row per consumer and event."""

from __future__ import annotations

import uuid

from asyncpg.pool import PoolConnectionProxy


class PostgresInbox:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self.connection = connection

    async def first_time(self, consumer: str, event_id: uuid.UUID) -> bool:
        inserted = await self.connection.fetchval(
            """INSERT INTO notifier_processed_events (consumer, event_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING RETURNING true""",
            consumer,
            event_id,
        )
        return bool(inserted)
