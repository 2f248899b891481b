"""The ``Schedule`` port: due times across organizations; claims are range scans of partial
indexes holding exactly the claimable rows, ``status IN ('active', 'error')`` (migration 0002)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from connection_store.adapters.connections import connection_row
from connection_store.adapters.database import Connection
from connection_store.domain import ConnectionRow
from connection_store.service.ports import Backlog, Due

_COLUMNS = """id, organization_id, provider, auth_type, status, last_error_code,
    credential_version, token_expires_at, access_token_encrypted, refresh_token_encrypted,
    credential_fields_encrypted, metadata"""


def _claim(column: str) -> str:
    return f"""
    SELECT {_COLUMNS}
    FROM integration_connections
    WHERE status IN ('active', 'error') AND {column} <= $1
    ORDER BY {column}
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""  # noqa: S608 (constant column names)


def _reschedule(column: str) -> str:
    """New due times by primary key. The redundant ``c.id = ANY($1)`` lets the planner find the
    rows through the primary key whatever the table size (joining on ``u.id`` alone, it prefers
    a hash join over a sequential scan while the table is small)."""
    return f"""
    UPDATE integration_connections AS c SET {column} = u.due
    FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, due)
    WHERE c.id = u.id AND c.id = ANY($1::uuid[])"""  # noqa: S608 (constant column names)


CLAIM_REFRESH_SQL = _claim("next_refresh_at")
"""Due refreshes, oldest first: a range scan of ``integration_connections_refresh_sweep``."""
CLAIM_CHECK_SQL = _claim("next_check_at")
"""Due health checks, oldest first: a range scan of ``integration_connections_check_sweep``."""
RESCHEDULE_REFRESH_SQL = _reschedule("next_refresh_at")
RESCHEDULE_CHECK_SQL = _reschedule("next_check_at")

BACKLOG_SQL = """
    SELECT
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_refresh_at <= $1
            ORDER BY next_refresh_at LIMIT $2) AS r) AS refresh_due,
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_check_at <= $1
            ORDER BY next_check_at LIMIT $2) AS c) AS check_due,
        (SELECT count(*) FROM (
            SELECT 1 FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $2) AS o)
            AS outbox_unsent"""
"""Three bounded index scans: O(log n + cap), whatever the table size. The ORDER BY makes the
index the only sensible plan: without it a generic plan may pick a sequential scan that it
expects a LIMIT to cut short, which reads the whole table when little is due."""

_CLAIM: dict[Due, str] = {"refresh": CLAIM_REFRESH_SQL, "check": CLAIM_CHECK_SQL}
_RESCHEDULE: dict[Due, str] = {"refresh": RESCHEDULE_REFRESH_SQL, "check": RESCHEDULE_CHECK_SQL}


class PostgresSchedule:
    def __init__(self, connection: Connection) -> None:
        self.tx = connection

    async def claim(self, due: Due, now: datetime, limit: int) -> list[ConnectionRow]:
        return [connection_row(r) for r in await self.tx.fetch(_CLAIM[due], now, limit)]

    async def reschedule(
        self, due: Due, times: Sequence[tuple[uuid.UUID, datetime | None]]
    ) -> None:
        await self.tx.execute(
            _RESCHEDULE[due], [row_id for row_id, _ in times], [at for _, at in times]
        )

    async def backlog(self, now: datetime, cap: int) -> Backlog:
        row = await self.tx.fetchrow(BACKLOG_SQL, now, cap)
        assert row is not None
        return Backlog(row["refresh_due"], row["check_due"], row["outbox_unsent"], cap)
