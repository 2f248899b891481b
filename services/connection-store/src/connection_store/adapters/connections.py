"""The ``Connections`` port: one organization's ``integration_connections`` rows.

Every statement runs inside a tenant transaction and also names the organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg
from hub_contracts import (
    ConnectionCheckedV1,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequested,
    Credentials,
    TokenRefreshedV1,
)

from connection_store.adapters.database import Connection
from connection_store.domain import ConnectionRow

REFRESH_CHANNEL = "credential_refresh"
"""The NOTIFY channel of settled on-demand refreshes; the payload is the connection id."""

COLUMNS = """id, organization_id, provider, status, auth_type, access_token_encrypted,
    refresh_token_encrypted, credential_fields_encrypted, credential_version, token_expires_at,
    scopes, account_id, account_name, metadata, settings, last_error, last_error_code,
    last_sync_at, last_checked_at, connected_at, disconnected_at, attempt_state, attempt_reason,
    attempt_message, attempt_at, next_refresh_at, last_check_outcome, last_check_id,
    refresh_requested_at, refresh_failed_at"""


def connection_row(record: asyncpg.Record) -> ConnectionRow:
    """A row as the use cases see it (any subset of ``COLUMNS``), the ciphertext as ``sealed``."""
    values = dict(record)
    sealed = {
        "access_token": values.pop("access_token_encrypted"),
        "refresh_token": values.pop("refresh_token_encrypted"),
        "fields": values.pop("credential_fields_encrypted") or {},
    }
    return ConnectionRow(sealed=sealed, **values)


def credential_columns(credentials: Credentials) -> tuple[Any, Any, dict[str, Any]]:
    """The three ciphertext columns, as JSON objects."""

    def dump(value: Any) -> Any:
        return None if value is None else value.model_dump(mode="json")

    return (
        dump(credentials.access_token),
        dump(credentials.refresh_token),
        {name: dump(value) for name, value in credentials.fields.items()},
    )


class PostgresConnections:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def get(self, provider: str, *, lock: bool = False) -> ConnectionRow | None:
        record = await self.tx.fetchrow(
            f"""SELECT {COLUMNS} FROM integration_connections
                WHERE organization_id = $1 AND provider = $2 {"FOR UPDATE" if lock else ""}""",  # noqa: S608 - fixed column list
            self.org,
            provider,
        )
        return None if record is None else connection_row(record)

    async def all(self, providers: Collection[str] | None = None) -> list[ConnectionRow]:
        if providers is None:
            records = await self.tx.fetch(
                f"SELECT {COLUMNS} FROM integration_connections WHERE organization_id = $1",  # noqa: S608 - fixed column list
                self.org,
            )
        else:
            records = await self.tx.fetch(
                f"""SELECT {COLUMNS} FROM integration_connections
                    WHERE organization_id = $1 AND provider = ANY($2::text[])""",  # noqa: S608 - fixed column list
                self.org,
                list(providers),
            )
        return [connection_row(record) for record in records]

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
                   refresh_requested_at = NULL,
                   refresh_failed_at = NULL,
                   updated_at = now()
               WHERE organization_id = $1 AND id = $2""",
            self.org,
            row_id,
            at,
        )

    async def record_attempt(self, row_id: uuid.UUID, event: ConnectionRequested) -> None:
        await self.tx.execute(
            """INSERT INTO integration_connections AS c
                   (id, organization_id, provider, auth_type, attempt_flow_id, attempt_state,
                    attempt_at)
               VALUES ($1, $2, $3, $4, $5, 'connecting', $6)
               ON CONFLICT (organization_id, provider) DO UPDATE SET
                   attempt_flow_id = EXCLUDED.attempt_flow_id,
                   attempt_state = 'connecting',
                   attempt_reason = NULL,
                   attempt_message = NULL,
                   attempt_at = EXCLUDED.attempt_at,
                   updated_at = now()
               WHERE c.attempt_at IS NULL OR c.attempt_at <= EXCLUDED.attempt_at""",
            row_id,
            self.org,
            event.provider,
            event.auth_type,
            event.flow_id,
            event.occurred_at,
        )

    async def record_failure(self, row_id: uuid.UUID, event: ConnectionFailedV1) -> None:
        """Mark the attempt failed. ``connection.requested`` travels on another topic, so the
        failure may arrive first, while the row still names an earlier attempt: it applies when
        its flow began after that attempt (``requested_at``), and the later (older) request
        cannot undo it."""
        await self.tx.execute(
            """INSERT INTO integration_connections AS c
                   (id, organization_id, provider, attempt_flow_id, attempt_state,
                    attempt_reason, attempt_message, attempt_at)
               VALUES ($1, $2, $3, $4, 'failed', $5, $6, $7)
               ON CONFLICT (organization_id, provider) DO UPDATE SET
                   attempt_state = 'failed', attempt_reason = EXCLUDED.attempt_reason,
                   attempt_message = EXCLUDED.attempt_message, attempt_at = EXCLUDED.attempt_at,
                   attempt_flow_id = COALESCE(EXCLUDED.attempt_flow_id, c.attempt_flow_id),
                   updated_at = now()
               WHERE (EXCLUDED.attempt_flow_id IS NULL OR c.attempt_flow_id IS NULL
                      OR c.attempt_flow_id = EXCLUDED.attempt_flow_id
                      OR c.attempt_at IS NULL OR c.attempt_at <= $8::timestamptz)
                 AND (c.attempt_at IS NULL OR c.attempt_at <= EXCLUDED.attempt_at)""",
            row_id,
            self.org,
            event.provider,
            event.flow_id,
            event.reason,
            event.message,
            event.occurred_at,
            event.requested_at,
        )

    async def establish(
        self,
        event: ConnectionEstablishedV1,
        *,
        next_refresh_at: datetime | None,
        next_check_at: datetime,
    ) -> int:
        access, refresh, fields = credential_columns(event.credentials)
        version: int = await self.tx.fetchval(
            """INSERT INTO integration_connections AS c
                   (id, organization_id, provider, auth_type, access_token_encrypted,
                    refresh_token_encrypted, credential_fields_encrypted, credential_version,
                    token_expires_at, scopes, account_id, account_name, metadata, status,
                    connected_at, last_sync_at, next_refresh_at, next_check_at, attempt_flow_id,
                    attempt_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12, 'active', $13, $13,
                       $14, $15, $16, $13)
               ON CONFLICT (organization_id, provider) DO UPDATE SET
                   auth_type = EXCLUDED.auth_type,
                   access_token_encrypted = EXCLUDED.access_token_encrypted,
                   refresh_token_encrypted = EXCLUDED.refresh_token_encrypted,
                   credential_fields_encrypted = EXCLUDED.credential_fields_encrypted,
                   credential_version = c.credential_version + 1,
                   token_expires_at = EXCLUDED.token_expires_at,
                   scopes = EXCLUDED.scopes,
                   account_id = EXCLUDED.account_id,
                   account_name = EXCLUDED.account_name,
                   metadata = EXCLUDED.metadata,
                   status = 'active',
                   last_error = NULL,
                   last_error_code = NULL,
                   connected_at = EXCLUDED.connected_at,
                   disconnected_at = NULL,
                   last_sync_at = EXCLUDED.last_sync_at,
                   next_refresh_at = EXCLUDED.next_refresh_at,
                   next_check_at = EXCLUDED.next_check_at,
                   attempt_state = NULL,
                   attempt_reason = NULL,
                   attempt_message = NULL,
                   attempt_flow_id = EXCLUDED.attempt_flow_id,
                   attempt_at = EXCLUDED.attempt_at,
                   refresh_requested_at = NULL,
                   refresh_failed_at = NULL,
                   updated_at = now()
               RETURNING credential_version""",
            event.connection_id,
            self.org,
            event.provider,
            event.auth_type,
            access,
            refresh,
            fields,
            event.token_expires_at,
            event.scopes,
            event.account.id,
            event.account.name,
            event.metadata,
            event.occurred_at,
            next_refresh_at,
            next_check_at,
            event.flow_id,
        )
        return version

    async def apply_refresh(
        self, event: TokenRefreshedV1, *, next_refresh_at: datetime | None
    ) -> bool:
        access, refresh, fields = credential_columns(event.credentials)
        result: str = await self.tx.execute(
            """UPDATE integration_connections SET
                   access_token_encrypted = $3,
                   refresh_token_encrypted = COALESCE($4, refresh_token_encrypted),
                   credential_fields_encrypted = credential_fields_encrypted || $5,
                   credential_version = $6,
                   token_expires_at = $7,
                   scopes = COALESCE($8, scopes),
                   last_sync_at = $9,
                   next_refresh_at = $10,
                   refresh_failed_at = NULL,
                   updated_at = now()
               WHERE organization_id = $1 AND provider = $2
                 AND credential_version < $6 AND status <> 'disconnected'""",
            self.org,
            event.provider,
            access,
            refresh,
            fields,
            event.credential_version,
            event.token_expires_at,
            event.scopes,
            event.occurred_at,
            next_refresh_at,
        )
        return result.endswith(" 1")

    async def set_health(
        self,
        row_id: uuid.UUID,
        *,
        status: str,
        error: str | None,
        error_code: str | None,
        checked_at: datetime,
    ) -> None:
        await self.tx.execute(
            """UPDATE integration_connections SET
                   status = $3, last_error = $4, last_error_code = $5,
                   last_checked_at = GREATEST(last_checked_at, $6), updated_at = now()
               WHERE organization_id = $1 AND id = $2""",
            self.org,
            row_id,
            status,
            error,
            error_code,
            checked_at,
        )

    async def record_check(self, row_id: uuid.UUID, event: ConnectionCheckedV1) -> bool:
        """Record a finished check unless a newer one is recorded; a healthy one is a sync."""
        result: str = await self.tx.execute(
            """UPDATE integration_connections SET
                   last_checked_at = GREATEST(last_checked_at, $3),
                   last_check_outcome = $4::text,
                   last_check_id = $5,
                   last_sync_at = CASE WHEN $4::text = 'healthy'
                       THEN GREATEST(last_sync_at, $3) ELSE last_sync_at END,
                   updated_at = now()
               WHERE organization_id = $1 AND id = $2
                 AND (last_checked_at IS NULL OR last_checked_at <= $3
                      OR last_check_id IS NULL)""",
            self.org,
            row_id,
            event.checked_at,
            event.outcome,
            event.check_id,
        )
        return result.endswith(" 1")

    async def claim_refresh(
        self, row_id: uuid.UUID, version: int, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Claim the on-demand refresh of ``version`` unless another request (on any replica)
        holds a claim younger than ``stale_before``; the claim commits with the outbox event."""
        result: str = await self.tx.execute(
            """UPDATE integration_connections SET refresh_requested_at = $4
               WHERE organization_id = $1 AND id = $2 AND credential_version = $3
                 AND (refresh_requested_at IS NULL OR refresh_requested_at < $5)""",
            self.org,
            row_id,
            version,
            now,
            stale_before,
        )
        return result.endswith(" 1")

    async def settle_refresh(self, row_id: uuid.UUID, *, failed_at: datetime | None) -> None:
        """An answer to an on-demand refresh arrived: drop the claim and wake every waiter
        (``NOTIFY credential_refresh``, delivered at commit to every replica)."""
        settled = await self.tx.fetchval(
            """UPDATE integration_connections
               SET refresh_requested_at = NULL,
                   refresh_failed_at = COALESCE($3, refresh_failed_at)
               WHERE organization_id = $1 AND id = $2 AND refresh_requested_at IS NOT NULL
               RETURNING id""",
            self.org,
            row_id,
            failed_at,
        )
        if settled is not None:
            await self.tx.execute("SELECT pg_notify($1, $2)", REFRESH_CHANNEL, str(row_id))
