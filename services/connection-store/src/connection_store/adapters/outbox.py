"""The ``Outbox`` port: events written in the caller's transaction, each with the trace context
captured when it was built (``OutboxMessage.of``) and the headers ``hub_runtime.publish_event``
sends; ``adapters.relay`` publishes them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from hub_contracts import message_key

from connection_store.adapters.database import Connection
from connection_store.service.ports import OutboxMessage


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
    if not messages:
        return
    await connection.execute(
        """INSERT INTO outbox (organization_id, topic, message_key, payload, headers)
           SELECT organization_id, topic, message_key, payload::jsonb, headers::jsonb
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
                WITH ORDINALITY AS m(organization_id, topic, message_key, payload, headers, n)
           ORDER BY n""",
        [m.event.organization_id for m in messages],
        [m.event.topic.value for m in messages],
        [message_key(m.event.organization_id, m.event.provider).decode() for m in messages],
        [m.event.model_dump_json() for m in messages],
        [json.dumps(m.headers) for m in messages],
    )


async def unsent_count(connection: Connection, *, cap: int = 10_000) -> int:
    """Unsent rows, counted up to ``cap`` (cheap: a bounded scan of ``outbox_unsent``)."""
    count: int = await connection.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT $1) AS unsent",
        cap,
    )
    return count
