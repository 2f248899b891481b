"""The ``Flags`` port: one organization's ``organization_flags`` rows."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from connection_store.adapters.database import Connection


class PostgresFlags:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def all(self) -> dict[str, bool]:
        records = await self.tx.fetch(
            "SELECT flag, enabled FROM organization_flags WHERE organization_id = $1", self.org
        )
        return {record["flag"]: record["enabled"] for record in records}

    async def save(self, changes: Mapping[str, bool], *, by: str) -> None:
        await self.tx.execute(
            """INSERT INTO organization_flags (organization_id, flag, enabled, updated_by)
               SELECT $1, flag, enabled, $4
               FROM unnest($2::text[], $3::boolean[]) AS changes(flag, enabled)
               ON CONFLICT (organization_id, flag) DO UPDATE SET
                   enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by,
                   updated_at = now()""",
            self.org,
            list(changes),
            list(changes.values()),
            by,
        )
