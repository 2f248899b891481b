"""SQL for notification settings and the notifier's context. Tenant transactions only."""

from __future__ import annotations

import uuid
from typing import Any

from connection_store.adapters.database import Connection

_SETTINGS = "email_recipients, email_enabled, slack_enabled, email_from, updated_at"


async def settings(tx: Connection, org: uuid.UUID) -> dict[str, Any] | None:
    record = await tx.fetchrow(
        f"SELECT {_SETTINGS} FROM notification_settings WHERE organization_id = $1",  # noqa: S608 - fixed column list
        org,
    )
    return None if record is None else dict(record)


async def save_settings(tx: Connection, org: uuid.UUID, values: dict[str, Any], *, by: str) -> None:
    await tx.execute(
        """INSERT INTO notification_settings
               (organization_id, email_recipients, email_enabled, slack_enabled, email_from,
                updated_by)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (organization_id) DO UPDATE SET
               email_recipients = EXCLUDED.email_recipients,
               email_enabled = EXCLUDED.email_enabled,
               slack_enabled = EXCLUDED.slack_enabled,
               email_from = EXCLUDED.email_from,
               updated_by = EXCLUDED.updated_by,
               updated_at = now()""",
        org,
        values["email_recipients"],
        values["email_enabled"],
        values["slack_enabled"],
        values["email_from"],
        by,
    )


async def connections(tx: Connection, org: uuid.UUID, providers: list[str]) -> list[dict[str, Any]]:
    """The rows the notifier needs: the connection it talks about, Slack and Resend."""
    records = await tx.fetch(
        """SELECT provider, status, account_id, account_name, last_error_code, token_expires_at,
                  credential_version, access_token_encrypted, credential_fields_encrypted,
                  settings
           FROM integration_connections
           WHERE organization_id = $1 AND provider = ANY($2::text[])""",
        org,
        providers,
    )
    return [dict(record) for record in records]
