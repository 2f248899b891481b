"""The ``Inbox`` port: ``processed_events``, the events each consumer has applied."""

from __future__ import annotations

import uuid

from hub_contracts import Event

from connection_store.adapters.database import Connection


class PostgresInbox:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def first_time(self, consumer: str, event: Event) -> bool:
        inserted = await self.tx.fetchval(
            """INSERT INTO processed_events (consumer, event_id, organization_id)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true""",
            consumer,
            event.event_id,
            self.org,
        )
        return bool(inserted)
