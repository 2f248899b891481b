"""SQL for the connection events. Every statement runs inside a tenant transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequestedV1,
    Credentials,
    Event,
    TokenRefreshedV1,
)

from connection_store.adapters.database import Connection


def credential_columns(credentials: Credentials) -> tuple[Any, Any, dict[str, Any]]:
    """The three ciphertext columns, as JSON objects."""

    def dump(value: Any) -> Any:
        return None if value is None else value.model_dump(mode="json")

    return (
        dump(credentials.access_token),
        dump(credentials.refresh_token),
        {name: dump(value) for name, value in credentials.fields.items()},
    )


async def first_time(connection: Connection, consumer: str, event: Event) -> bool:
    """Record that ``consumer`` handled ``event``; false when it already had (a redelivery)."""
    inserted = await connection.fetchval(
        """INSERT INTO processed_events (consumer, event_id, organization_id)
           VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true""",
        consumer,
        event.event_id,
        event.organization_id,
    )
    return bool(inserted)


async def record_attempt(
    connection: Connection, connection_id: uuid.UUID, event: ConnectionRequestedV1
) -> None:
    await connection.execute(
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
        connection_id,
        event.organization_id,
        event.provider,
        event.auth_type,
        event.flow_id,
        event.occurred_at,
    )


async def record_failure(
    connection: Connection, connection_id: uuid.UUID, event: ConnectionFailedV1
) -> None:
    """Mark the attempt failed. ``connection.requested`` travels on another topic, so the failure
    may arrive first: it creates the row then, and the later (older) request cannot undo it."""
    await connection.execute(
        """INSERT INTO integration_connections AS c
               (id, organization_id, provider, attempt_flow_id, attempt_state, attempt_reason,
                attempt_message, attempt_at)
           VALUES ($1, $2, $3, $4, 'failed', $5, $6, $7)
           ON CONFLICT (organization_id, provider) DO UPDATE SET
               attempt_state = 'failed', attempt_reason = EXCLUDED.attempt_reason,
               attempt_message = EXCLUDED.attempt_message, attempt_at = EXCLUDED.attempt_at,
               attempt_flow_id = COALESCE(EXCLUDED.attempt_flow_id, c.attempt_flow_id),
               updated_at = now()
           WHERE (EXCLUDED.attempt_flow_id IS NULL OR c.attempt_flow_id IS NULL
                  OR c.attempt_flow_id = EXCLUDED.attempt_flow_id)
             AND (c.attempt_at IS NULL OR c.attempt_at <= EXCLUDED.attempt_at)""",
        connection_id,
        event.organization_id,
        event.provider,
        event.flow_id,
        event.reason,
        event.message,
        event.occurred_at,
    )


async def establish(
    connection: Connection,
    event: ConnectionEstablishedV1,
    *,
    next_refresh_at: datetime | None,
    next_check_at: datetime,
) -> int:
    """Save a new credential as the active connection; returns its credential version."""
    access, refresh, fields = credential_columns(event.credentials)
    version: int = await connection.fetchval(
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
               updated_at = now()
           RETURNING credential_version""",
        event.connection_id,
        event.organization_id,
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
    connection: Connection, event: TokenRefreshedV1, *, next_refresh_at: datetime | None
) -> bool:
    """Save a refreshed credential unless the row already holds this version or a newer one."""
    access, refresh, fields = credential_columns(event.credentials)
    result: str = await connection.execute(
        """UPDATE integration_connections SET
               access_token_encrypted = $3,
               refresh_token_encrypted = COALESCE($4, refresh_token_encrypted),
               credential_fields_encrypted = credential_fields_encrypted || $5,
               credential_version = $6,
               token_expires_at = $7,
               scopes = COALESCE($8, scopes),
               last_sync_at = $9,
               next_refresh_at = $10,
               updated_at = now()
           WHERE organization_id = $1 AND provider = $2
             AND credential_version < $6 AND status <> 'disconnected'""",
        event.organization_id,
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


async def current(
    connection: Connection, organization_id: uuid.UUID, provider: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        """SELECT * FROM integration_connections
           WHERE organization_id = $1 AND provider = $2 FOR UPDATE""",
        organization_id,
        provider,
    )
    return row


async def set_health(
    connection: Connection,
    row_id: uuid.UUID,
    *,
    status: str,
    error: str | None,
    error_code: str | None,
    checked_at: datetime,
) -> None:
    await connection.execute(
        """UPDATE integration_connections SET
               status = $2, last_error = $3, last_error_code = $4,
               last_checked_at = GREATEST(last_checked_at, $5), updated_at = now()
           WHERE id = $1""",
        row_id,
        status,
        error,
        error_code,
        checked_at,
    )
