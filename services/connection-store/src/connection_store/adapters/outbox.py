"""The transactional outbox: write events with the state change, publish them afterwards.

``enqueue`` runs inside the caller's transaction and keeps the current trace context, so the
relay's publish continues the trace of the request or sweep that produced the event. The relay
claims unsent rows with ``FOR UPDATE SKIP LOCKED`` (replicas never publish the same row at the
same time) and marks them sent only after the broker acknowledged; a broker outage leaves them
unsent, to be published when it returns. Delivery is at-least-once: consumers are idempotent.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from faststream.kafka import KafkaBroker
from hub_contracts import Event, message_key
from opentelemetry import context, propagate

from connection_store.adapters.database import Connection, Database

log = logging.getLogger(__name__)


async def enqueue(connection: Connection, event: Event) -> None:
    headers: dict[str, str] = {}
    propagate.inject(headers)
    await connection.execute(
        """INSERT INTO outbox (organization_id, topic, message_key, payload, headers)
           VALUES ($1, $2, $3, $4::jsonb, $5)""",
        event.organization_id,
        event.topic.value,
        message_key(event.organization_id, event.provider).decode(),
        event.model_dump_json(),
        headers,
    )


async def relay_once(db: Database, broker: KafkaBroker, *, batch_size: int) -> int:
    """Publish one batch of unsent events; return how many were sent."""
    async with db.worker() as connection:
        rows = await connection.fetch(
            """SELECT id, topic, message_key, payload::text AS payload, headers FROM outbox
               WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
            batch_size,
        )
        if not rows:
            return 0
        await asyncio.gather(*(_publish(broker, row) for row in rows))
        await connection.execute(
            "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        return len(rows)


async def _publish(broker: KafkaBroker, row: asyncpg.Record) -> None:
    token = context.attach(propagate.extract(row["headers"]))
    try:
        await broker.publish(
            row["payload"].encode(),
            topic=row["topic"],
            key=row["message_key"].encode(),
            headers={"content-type": "application/json"},
        )
    finally:
        context.detach(token)


async def run_relay(
    db: Database, broker: KafkaBroker, *, interval_s: float, batch_size: int
) -> None:
    """Relay forever: drain while there is work, then wait ``interval_s``."""
    while True:
        try:
            sent = await relay_once(db, broker, batch_size=batch_size)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox relay failed; retrying")
            sent = 0
        if sent < batch_size:
            await asyncio.sleep(interval_s)
