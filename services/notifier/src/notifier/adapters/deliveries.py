"""The ``Deliveries`` port: ``notifier_deliveries``, claimed with ``FOR UPDATE SKIP LOCKED`` and a
lease; one row per message, channel and action (unique idempotency key)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from notifier.domain.deliveries import Delivery, DeliveryState, Sent
from notifier.domain.routing import Channel, Medium

_DELIVERY = """id, notification_id, incident_id, organization_id, provider, channel, action,
    idempotency_key, target, payload, attempts, provider_ref, provider_channel, traceparent"""


def _delivery(record: asyncpg.Record) -> Delivery:
    values = dict(record)
    return Delivery(**{**values, "channel": Channel(values["channel"])})


class PostgresDeliveries:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self.connection = connection

    async def add(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        await self.connection.executemany(
            """INSERT INTO notifier_deliveries
                   (id, notification_id, incident_id, organization_id, provider, channel,
                    action, idempotency_key, state, next_attempt_at, target, payload,
                    traceparent)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11,
                       (SELECT traceparent FROM notifier_notifications WHERE id = $2))
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

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        records = await self.connection.fetch(
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

    async def abandoned(self, now: datetime, limit: int) -> list[Delivery]:
        records = await self.connection.fetch(
            f"""SELECT {_DELIVERY} FROM notifier_deliveries
                WHERE state = 'sending' AND lease_until < $1
                ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - fixed columns
            now,
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
        await self.connection.execute(
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

    async def cancel_pending(self, incident_id: uuid.UUID) -> None:
        await self.connection.execute(
            """UPDATE notifier_deliveries SET state = 'cancelled', updated_at = now()
               WHERE incident_id = $1 AND state = 'pending'""",
            incident_id,
        )

    async def told_media(self, incident_id: uuid.UUID) -> list[Medium]:
        channels = await self.connection.fetch(
            """SELECT DISTINCT channel FROM notifier_deliveries
               WHERE incident_id = $1 AND state IN ('sent', 'uncertain', 'sending')""",
            incident_id,
        )
        found = {Channel(record["channel"]).medium for record in channels}
        return [medium for medium in ("slack", "email") if medium in found]

    async def original_slack_post(self, incident_id: uuid.UUID) -> Delivery | None:
        record = await self.connection.fetchrow(
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

    async def of_organization(self, organization_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every delivery of an organization with its notification's kind, oldest first (for
        operators and tests; not a port method)."""
        records = await self.connection.fetch(
            """SELECT d.*, n.kind FROM notifier_deliveries d
               JOIN notifier_notifications n ON n.id = d.notification_id
               WHERE d.organization_id = $1 ORDER BY d.created_at, d.action""",
            organization_id,
        )
        return [dict(record) for record in records]
