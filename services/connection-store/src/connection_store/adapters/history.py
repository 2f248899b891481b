"""The ``History`` port: one organization's ``integration_history`` rows."""

from __future__ import annotations

import json
import uuid

from connection_store.adapters.database import Connection
from connection_store.domain import HistoryEntry, HistoryRecord


class PostgresHistory:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def record(self, entry: HistoryEntry) -> None:
        await self.tx.execute(
            """INSERT INTO integration_history
                   (organization_id, provider, at, kind, summary, event_id, details)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
               ON CONFLICT DO NOTHING""",
            self.org,
            entry.provider,
            entry.at,
            entry.kind,
            entry.summary,
            entry.event_id,
            json.dumps(entry.details),
        )

    async def page(self, provider: str, *, limit: int, before: int | None) -> list[HistoryRecord]:
        records = await self.tx.fetch(
            """SELECT id, at, kind, summary, details FROM integration_history
               WHERE organization_id = $1 AND provider = $2 AND ($3::bigint IS NULL OR id < $3)
               ORDER BY id DESC LIMIT $4""",
            self.org,
            provider,
            before,
            limit,
        )
        return [
            HistoryRecord(
                id=r["id"],
                at=r["at"],
                kind=r["kind"],
                summary=r["summary"],
                details=json.loads(r["details"]) if isinstance(r["details"], str) else r["details"],
            )
            for r in records
        ]
