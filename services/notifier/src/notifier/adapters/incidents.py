"""The ``Incidents`` port: ``notifier_incidents`` (at most one open per connection)."""

from __future__ import annotations

import uuid

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from notifier.domain.incidents import Incident

_INCIDENT = """id, organization_id, provider, reason, status, credential_version, message,
    token_expires_at, opened_at, last_event_at, last_notified_at, notifications, duplicates,
    closed_at, closed_by"""


def _incident(record: asyncpg.Record) -> Incident:
    return Incident(**dict(record))


class PostgresIncidents:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self.connection = connection

    async def open_one(self, organization_id: uuid.UUID, provider: str) -> Incident | None:
        record = await self.connection.fetchrow(
            f"""SELECT {_INCIDENT} FROM notifier_incidents
                WHERE organization_id = $1 AND provider = $2 AND status = 'open'""",  # noqa: S608 - fixed columns
            organization_id,
            provider,
        )
        return None if record is None else _incident(record)

    async def get(self, incident_id: uuid.UUID) -> Incident:
        record = await self.connection.fetchrow(
            f"SELECT {_INCIDENT} FROM notifier_incidents WHERE id = $1",  # noqa: S608 - fixed columns
            incident_id,
        )
        assert record is not None, incident_id
        return _incident(record)

    async def save(self, incident: Incident) -> None:
        await self.connection.execute(
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
