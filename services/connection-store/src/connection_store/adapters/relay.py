"""The store's outbox relay: ``hub_runtime.outbox.relay`` over the ``outbox`` table, in
``hub_worker`` transactions (README "Outbox")."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from hub_runtime.outbox import relay as shared
from hub_runtime.outbox.relay import Relay, RelayError

from connection_store.adapters.database import Database

OUTBOX = shared.OutboxTable("outbox", lock_id=0x1B7E_0B0C)
RELAY_LOCK_ID = OUTBOX.lock_id
"""``pg_try_advisory_xact_lock`` key: one active relay across replicas (per-key order)."""
CLAIM_UNSENT_SQL = OUTBOX.claim_sql
PRUNE_SENT_SQL = OUTBOX.prune_sql


async def relay_once(
    db: Database, broker: KafkaBroker, *, batch_size: int, timeout_s: float = 30.0
) -> int:
    return await shared.relay_once(
        db.worker, broker, table=OUTBOX, batch_size=batch_size, timeout_s=timeout_s
    )


async def prune_sent(db: Database, *, older_than_s: float, batch_size: int = 5000) -> int:
    return await shared.prune_sent(
        db.worker, table=OUTBOX, older_than_s=older_than_s, batch_size=batch_size
    )


__all__ = [
    "CLAIM_UNSENT_SQL",
    "OUTBOX",
    "PRUNE_SENT_SQL",
    "RELAY_LOCK_ID",
    "Relay",
    "RelayError",
    "prune_sent",
    "relay_once",
]
