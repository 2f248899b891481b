"""The ``Notifications`` port: ``notifier_notifications``, claimed with ``FOR UPDATE SKIP LOCKED``
and a lease so replicas share them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from asyncpg.pool import PoolConnectionProxy
from hub_runtime.telemetry import current_traceparent

from notifier.domain.deliveries import Notification
from notifier.domain.incidents import Incident
from notifier.domain.routing import Kind, Medium


class PostgresNotifications:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self.connection = connection

    async def add(
        self, incident: Incident, kind: Kind, sequence: int, media: Sequence[Medium], at: datetime
    ) -> None:
        await self.connection.execute(
            """INSERT INTO notifier_notifications
                   (id, incident_id, organization_id, provider, kind, sequence, media, state,
                    next_attempt_at, traceparent)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)
               ON CONFLICT (incident_id, kind, sequence) DO NOTHING""",
            uuid.uuid4(),
            incident.id,
            incident.organization_id,
            incident.provider,
            kind,
            sequence,
            list(media),
            at,
            current_traceparent(),
        )

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Notification]:
        records = await self.connection.fetch(
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

    async def state(self, notification_id: uuid.UUID) -> str:
        state = await self.connection.fetchval(
            "SELECT state FROM notifier_notifications WHERE id = $1 FOR UPDATE", notification_id
        )
        return str(state)

    async def set(
        self,
        notification_id: uuid.UUID,
        state: str,
        *,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        await self.connection.execute(
            """UPDATE notifier_notifications SET state = $2,
                   next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4,
                   updated_at = now()
               WHERE id = $1""",
            notification_id,
            state,
            next_attempt_at,
            error,
        )

    async def cancel_pending(self, incident_id: uuid.UUID) -> None:
        await self.connection.execute(
            """UPDATE notifier_notifications SET state = 'cancelled', updated_at = now()
               WHERE incident_id = $1 AND state = 'pending'""",
            incident_id,
        )
