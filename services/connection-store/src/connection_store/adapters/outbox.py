"""The ``Outbox`` port: events written in the caller's transaction, each with the trace context
captured when it was built (``OutboxMessage.of``) and the headers ``hub_runtime.publish_event``
sends; ``adapters.relay`` publishes them (``hub_runtime.outbox``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from hub_runtime.outbox import OutboxMessage
from hub_runtime.outbox import relay as shared

from connection_store.adapters.database import Connection
from connection_store.adapters.relay import OUTBOX


class PostgresOutbox:
    """In a tenant transaction (``organization_id`` set) every event must be that
    organization's; in a worker transaction any organization's."""

    def __init__(self, connection: Connection, organization_id: uuid.UUID | None = None) -> None:
        self.tx = connection
        self.org = organization_id

    async def add(self, messages: Sequence[OutboxMessage]) -> None:
        if self.org is not None and any(m.event.organization_id != self.org for m in messages):
            raise ValueError("an event of another organization in this tenant's transaction")
        await enqueue_many(self.tx, messages)


async def enqueue_many(connection: Connection, messages: Sequence[OutboxMessage]) -> None:
    """Write several messages in one statement (one round trip), in the given order."""
    await shared.enqueue_many(connection, messages, table=OUTBOX)


async def unsent_count(connection: Connection, *, cap: int = 10_000) -> int:
    """Unsent rows, counted up to ``cap`` (cheap: a bounded scan of ``outbox_unsent``)."""
    return await shared.unsent_count(connection, table=OUTBOX, cap=cap)
