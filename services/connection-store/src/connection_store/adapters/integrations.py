"""The service layer's storage port over PostgreSQL: one tenant transaction per use case.

Each session is a ``Database.tenant`` transaction (``hub_app`` role, row-level security on the
organization), and every statement also names the organization: two independent guards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from hub_contracts import Event

from connection_store.adapters import outbox
from connection_store.adapters.database import Connection, Database
from connection_store.service import ConnectionRow

_COLUMNS = """id, provider, status, auth_type, access_token_encrypted, refresh_token_encrypted,
    credential_fields_encrypted, credential_version, token_expires_at, scopes, account_id,
    account_name, metadata, settings, last_error, last_error_code, last_sync_at,
    last_checked_at, connected_at, disconnected_at, attempt_state, attempt_reason,
    attempt_message, attempt_at, next_refresh_at"""


def _row(record: asyncpg.Record) -> ConnectionRow:
    values = dict(record)
    sealed = {
        "access_token": values.pop("access_token_encrypted"),
        "refresh_token": values.pop("refresh_token_encrypted"),
        "fields": values.pop("credential_fields_encrypted") or {},
    }
    return ConnectionRow(sealed=sealed, **values)


class PostgresTenantSession:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def connection(self, provider: str, *, lock: bool = False) -> ConnectionRow | None:
        record = await self.tx.fetchrow(
            f"""SELECT {_COLUMNS} FROM integration_connections
                WHERE organization_id = $1 AND provider = $2 {"FOR UPDATE" if lock else ""}""",  # noqa: S608 - fixed column list
            self.org,
            provider,
        )
        return None if record is None else _row(record)

    async def connections(self) -> list[ConnectionRow]:
        records = await self.tx.fetch(
            f"SELECT {_COLUMNS} FROM integration_connections WHERE organization_id = $1",  # noqa: S608 - fixed column list
            self.org,
        )
        return [_row(record) for record in records]

    async def save_settings(
        self, provider: str, row_id: uuid.UUID, settings: dict[str, Any]
    ) -> None:
        await self.tx.execute(
            """INSERT INTO integration_connections (id, organization_id, provider, settings)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (organization_id, provider) DO UPDATE SET
                   settings = EXCLUDED.settings, updated_at = now()""",
            row_id,
            self.org,
            provider,
            settings,
        )

    async def reschedule(
        self, row_id: uuid.UUID, *, next_check_at: datetime, next_refresh_at: datetime | None
    ) -> None:
        await self.tx.execute(
            """UPDATE integration_connections
               SET next_check_at = $3, next_refresh_at = $4, updated_at = now()
               WHERE organization_id = $1 AND id = $2""",
            self.org,
            row_id,
            next_check_at,
            next_refresh_at,
        )

    async def disconnect(self, row_id: uuid.UUID, at: datetime) -> None:
        """Wipe every ciphertext and stop all scheduled work; settings stay for a reconnect."""
        await self.tx.execute(
            """UPDATE integration_connections SET
                   access_token_encrypted = NULL,
                   refresh_token_encrypted = NULL,
                   credential_fields_encrypted = '{}',
                   token_expires_at = NULL,
                   status = 'disconnected',
                   disconnected_at = $3,
                   last_error = NULL,
                   last_error_code = NULL,
                   next_refresh_at = NULL,
                   next_check_at = NULL,
                   attempt_state = NULL,
                   attempt_reason = NULL,
                   attempt_message = NULL,
                   updated_at = now()
               WHERE organization_id = $1 AND id = $2""",
            self.org,
            row_id,
            at,
        )

    async def flags(self) -> dict[str, bool]:
        records = await self.tx.fetch(
            "SELECT flag, enabled FROM organization_flags WHERE organization_id = $1", self.org
        )
        return {record["flag"]: record["enabled"] for record in records}

    async def save_flags(self, flags: Mapping[str, bool], *, by: str) -> None:
        await self.tx.execute(
            """INSERT INTO organization_flags (organization_id, flag, enabled, updated_by)
               SELECT $1, flag, enabled, $4
               FROM unnest($2::text[], $3::boolean[]) AS changes(flag, enabled)
               ON CONFLICT (organization_id, flag) DO UPDATE SET
                   enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by,
                   updated_at = now()""",
            self.org,
            list(flags),
            list(flags.values()),
            by,
        )

    async def enqueue(self, event: Event) -> None:
        if event.organization_id != self.org:
            raise ValueError("an event of another organization in this tenant's transaction")
        await outbox.enqueue(self.tx, event)


class PostgresTenantStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def session(self, organization_id: uuid.UUID) -> AsyncIterator[PostgresTenantSession]:
        async with self.db.tenant(organization_id) as connection:
            yield PostgresTenantSession(connection, organization_id)
