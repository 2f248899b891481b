"""The ``Ciphertexts`` port: every row's stored ciphertext, for key rotation (``hub_worker``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from connection_store.adapters.connections import connection_row
from connection_store.adapters.database import Connection
from connection_store.domain import ConnectionRow

PENDING_SQL = """
    SELECT id, organization_id, provider, status, access_token_encrypted,
           refresh_token_encrypted, credential_fields_encrypted
    FROM integration_connections
    WHERE access_token_encrypted->>'key_id' <> $1
       OR refresh_token_encrypted->>'key_id' <> $1
       OR EXISTS (SELECT 1 FROM jsonb_each(credential_fields_encrypted) AS f
                  WHERE f.value->>'key_id' <> $1)
    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"""


class PostgresCiphertexts:
    def __init__(self, connection: Connection) -> None:
        self.tx = connection

    async def pending(self, key_id: str, limit: int) -> list[ConnectionRow]:
        return [connection_row(r) for r in await self.tx.fetch(PENDING_SQL, key_id, limit)]

    async def save(self, row_id: uuid.UUID, sealed: Mapping[str, Any]) -> None:
        await self.tx.execute(
            """UPDATE integration_connections SET access_token_encrypted = $2,
                   refresh_token_encrypted = $3, credential_fields_encrypted = $4
               WHERE id = $1""",
            row_id,
            sealed["access_token"],
            sealed["refresh_token"],
            sealed["fields"],
        )
