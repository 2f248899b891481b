"""The ``CredentialReads`` and ``ReadRetention`` ports: the append-only ``credential_reads``
audit (one organization's rows; the retention purge across organizations)."""

from __future__ import annotations

import uuid
from datetime import datetime

from connection_store.adapters.database import Connection
from connection_store.service.ports import CredentialRead, CredentialReadRecord


class PostgresCredentialReads:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def record(self, read: CredentialRead) -> None:
        await self.tx.execute(
            """INSERT INTO credential_reads
                   (organization_id, provider, service, outcome, credential_version, at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            self.org,
            read.provider,
            read.service[:100],
            read.outcome,
            read.credential_version,
            read.at,
        )

    async def page(
        self, provider: str, *, limit: int, before: int | None
    ) -> list[CredentialReadRecord]:
        records = await self.tx.fetch(
            """SELECT id, provider, service, outcome, credential_version, at
               FROM credential_reads
               WHERE organization_id = $1 AND provider = $2 AND ($3::bigint IS NULL OR id < $3)
               ORDER BY id DESC LIMIT $4""",
            self.org,
            provider,
            before,
            limit,
        )
        return [
            CredentialReadRecord(
                id=r["id"],
                read=CredentialRead(
                    provider=r["provider"],
                    service=r["service"],
                    outcome=r["outcome"],
                    credential_version=r["credential_version"],
                    at=r["at"],
                ),
            )
            for r in records
        ]


class PostgresReadRetention:
    def __init__(self, connection: Connection) -> None:
        self.tx = connection

    async def purge(self, before: datetime, limit: int) -> int:
        result: str = await self.tx.execute(
            """DELETE FROM credential_reads WHERE id IN (
                   SELECT id FROM credential_reads WHERE at < $1 ORDER BY at LIMIT $2)""",
            before,
            limit,
        )
        return int(result.rsplit(" ", 1)[-1])
