"""The notifier's tables in PostgreSQL: migrations, pool, and the ``Transaction`` port.

The tables live in the hub's database beside connection-store's, under their own migrations
package and history table (``notifier_migrations``). Work is claimed with ``FOR UPDATE SKIP
LOCKED`` and a lease, so replicas share it without doing anything twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from hub_runtime.migrations import migrate as _migrate

from notifier.domain import Channel, Incident, Kind, Mark, Medium
from notifier.service import Delivery, DeliveryState, Notification, Sent

LOCK_ID = 0x4E07_1F1E  # pg_advisory_lock key of the notifier's migrations
Connection = asyncpg.Connection | PoolConnectionProxy


async def migrate(dsn: str) -> list[str]:
    return await _migrate(
        dsn, package="notifier.migrations", history_table="notifier_migrations", lock_id=LOCK_ID
    )


async def _init(connection: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await connection.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=_init, command_timeout=30)
    assert pool is not None
    return pool


_INCIDENT = """id, organization_id, provider, reason, status, credential_version, message,
    token_expires_at, opened_at, last_event_at, last_notified_at, notifications, duplicates,
    closed_at, closed_by"""
_DELIVERY = """id, notification_id, incident_id, organization_id, provider, channel, action,
    idempotency_key, target, payload, attempts, provider_ref, provider_channel"""


def _incident(record: asyncpg.Record) -> Incident:
    return Incident(**dict(record))


def _delivery(record: asyncpg.Record) -> Delivery:
    values = dict(record)
    return Delivery(**{**values, "channel": Channel(values["channel"])})


class PostgresTransaction:
    def __init__(self, tx: Connection) -> None:
        self.tx = tx

    async def first_time(self, consumer: str, event_id: uuid.UUID) -> bool:
        inserted = await self.tx.fetchval(
            """INSERT INTO notifier_processed_events (consumer, event_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING RETURNING true""",
            consumer,
            event_id,
        )
        return bool(inserted)

    async def mark(self, organization_id: uuid.UUID, provider: str) -> Mark:
        await self.tx.execute(
            """INSERT INTO notifier_connections (organization_id, provider) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            organization_id,
            provider,
        )
        record = await self.tx.fetchrow(
            """SELECT recovered_version, recovered_at FROM notifier_connections
               WHERE organization_id = $1 AND provider = $2 FOR UPDATE""",
            organization_id,
            provider,
        )
        assert record is not None
        return Mark(record["recovered_version"], record["recovered_at"])

    async def save_mark(self, organization_id: uuid.UUID, provider: str, mark: Mark) -> None:
        await self.tx.execute(
            """UPDATE notifier_connections SET recovered_version = $3, recovered_at = $4
               WHERE organization_id = $1 AND provider = $2""",
            organization_id,
            provider,
            mark.recovered_version,
            mark.recovered_at,
        )

    async def open_incident(self, organization_id: uuid.UUID, provider: str) -> Incident | None:
        record = await self.tx.fetchrow(
            f"""SELECT {_INCIDENT} FROM notifier_incidents
                WHERE organization_id = $1 AND provider = $2 AND status = 'open'""",  # noqa: S608 - fixed columns
            organization_id,
            provider,
        )
        return None if record is None else _incident(record)

    async def incident(self, incident_id: uuid.UUID) -> Incident:
        record = await self.tx.fetchrow(
            f"SELECT {_INCIDENT} FROM notifier_incidents WHERE id = $1",  # noqa: S608 - fixed columns
            incident_id,
        )
        assert record is not None, incident_id
        return _incident(record)

    async def save_incident(self, incident: Incident) -> None:
        await self.tx.execute(
            f"""INSERT INTO notifier_incidents ({_INCIDENT})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                ON CONFLICT (id) DO UPDATE SET
                    status = EXCLUDED.status, message = EXCLUDED.message,
                    token_expires_at = EXCLUDED.token_expires_at,
                    last_event_at = EXCLUDED.last_event_at,
                    last_notified_at = EXCLUDED.last_notified_at,
                    notifications = EXCLUDED.notifications, duplicates = EXCLUDED.duplicates,
                    closed_at = EXCLUDED.closed_at, closed_by = EXCLUDED.closed_by""",  # noqa: S608 - fixed columns
            incident.id,
            incident.organization_id,
            incident.provider,
            incident.reason,
            incident.status,
            incident.credential_version,
            incident.message,
            incident.token_expires_at,
            incident.opened_at,
            incident.last_event_at,
            incident.last_notified_at,
            incident.notifications,
            incident.duplicates,
            incident.closed_at,
            incident.closed_by,
        )

    async def add_notification(
        self, incident: Incident, kind: Kind, sequence: int, media: Sequence[Medium], at: datetime
    ) -> None:
        await self.tx.execute(
            """INSERT INTO notifier_notifications
                   (id, incident_id, organization_id, provider, kind, sequence, media, state,
                    next_attempt_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)
               ON CONFLICT (incident_id, kind, sequence) DO NOTHING""",
            uuid.uuid4(),
            incident.id,
            incident.organization_id,
            incident.provider,
            kind,
            sequence,
            list(media),
            at,
        )

    async def cancel_unsent(self, incident_id: uuid.UUID) -> int:
        await self.tx.execute(
            """UPDATE notifier_notifications SET state = 'cancelled', updated_at = now()
               WHERE incident_id = $1 AND state = 'pending'""",
            incident_id,
        )
        status = await self.tx.execute(
            """UPDATE notifier_deliveries SET state = 'cancelled', updated_at = now()
               WHERE incident_id = $1 AND state = 'pending'""",
            incident_id,
        )
        return int(status.split()[-1])

    async def told_media(self, incident_id: uuid.UUID) -> list[Medium]:
        channels = await self.tx.fetch(
            """SELECT DISTINCT channel FROM notifier_deliveries
               WHERE incident_id = $1 AND state IN ('sent', 'uncertain', 'sending')""",
            incident_id,
        )
        found = {Channel(record["channel"]).medium for record in channels}
        return [medium for medium in ("slack", "email") if medium in found]

    async def claim_notifications(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        records = await self.tx.fetch(
            """UPDATE notifier_notifications SET
                   next_attempt_at = $2, attempts = attempts + 1, updated_at = now()
               WHERE id IN (
                   SELECT id FROM notifier_notifications
                   WHERE state = 'pending' AND next_attempt_at <= $1
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
               RETURNING id, incident_id, organization_id, provider, kind, sequence, media,
                         attempts""",
            now,
            lease_until,
            limit,
        )
        return [
            Notification(**{**dict(record), "media": tuple(record["media"])}) for record in records
        ]

    async def notification_state(self, notification_id: uuid.UUID) -> str:
        state = await self.tx.fetchval(
            "SELECT state FROM notifier_notifications WHERE id = $1 FOR UPDATE", notification_id
        )
        return str(state)

    async def set_notification(
        self,
        notification_id: uuid.UUID,
        state: str,
        *,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        await self.tx.execute(
            """UPDATE notifier_notifications SET state = $2,
                   next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4,
                   updated_at = now()
               WHERE id = $1""",
            notification_id,
            state,
            next_attempt_at,
            error,
        )

    async def original_slack_post(self, incident_id: uuid.UUID) -> Delivery | None:
        record = await self.tx.fetchrow(
            f"""SELECT {_DELIVERY} FROM notifier_deliveries d
                WHERE incident_id = $1 AND channel = 'slack_bot' AND action = 'post'
                  AND state = 'sent' AND provider_ref IS NOT NULL
                  AND provider_channel IS NOT NULL
                  AND EXISTS (SELECT FROM notifier_notifications n
                              WHERE n.id = d.notification_id AND n.kind = 'opened')
                ORDER BY sent_at LIMIT 1""",  # noqa: S608 - fixed columns
            incident_id,
        )
        return None if record is None else _delivery(record)

    async def add_deliveries(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        await self.tx.executemany(
            """INSERT INTO notifier_deliveries
                   (id, notification_id, incident_id, organization_id, provider, channel,
                    action, idempotency_key, state, next_attempt_at, target, payload)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11)
               ON CONFLICT (idempotency_key) DO NOTHING""",
            [
                (
                    d.id,
                    d.notification_id,
                    d.incident_id,
                    d.organization_id,
                    d.provider,
                    d.channel.value,
                    d.action,
                    d.idempotency_key,
                    now,
                    d.target,
                    d.payload,
                )
                for d in deliveries
            ],
        )

    async def abandoned(self, now: datetime, limit: int) -> list[Delivery]:
        records = await self.tx.fetch(
            f"""SELECT {_DELIVERY} FROM notifier_deliveries
                WHERE state = 'sending' AND lease_until < $1
                ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - fixed columns
            now,
            limit,
        )
        return [_delivery(record) for record in records]

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        records = await self.tx.fetch(
            f"""UPDATE notifier_deliveries SET
                    state = 'sending', attempts = attempts + 1, lease_until = $2,
                    updated_at = now()
                WHERE id IN (
                    SELECT id FROM notifier_deliveries
                    WHERE state = 'pending' AND next_attempt_at <= $1
                    ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING {_DELIVERY}""",  # noqa: S608 - fixed columns
            now,
            lease_until,
            limit,
        )
        return [_delivery(record) for record in records]

    async def finish(
        self,
        delivery_id: uuid.UUID,
        state: DeliveryState,
        *,
        now: datetime,
        sent: Sent | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        await self.tx.execute(
            """UPDATE notifier_deliveries SET
                   state = $2::varchar, lease_until = NULL, last_error = $3,
                   next_attempt_at = COALESCE($4, next_attempt_at),
                   provider_ref = COALESCE($5, provider_ref),
                   provider_channel = COALESCE($6, provider_channel),
                   sent_at = CASE WHEN $2::varchar = 'sent' THEN $7 ELSE sent_at END,
                   updated_at = now()
               WHERE id = $1""",
            delivery_id,
            state,
            error,
            next_attempt_at,
            sent.ref if sent else None,
            sent.channel_id if sent else None,
            now,
        )


class PostgresRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self.pool.acquire() as connection, connection.transaction():
            yield PostgresTransaction(connection)


async def deliveries_of(pool: asyncpg.Pool, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every delivery of an organization, oldest first (operators and tests)."""
    async with pool.acquire() as connection:
        records = await connection.fetch(
            """SELECT d.*, n.kind FROM notifier_deliveries d
               JOIN notifier_notifications n ON n.id = d.notification_id
               WHERE d.organization_id = $1 ORDER BY d.created_at, d.action""",
            organization_id,
        )
    return [dict(record) for record in records]
