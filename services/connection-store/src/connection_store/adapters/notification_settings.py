"""The ``NotificationSettings`` port: one organization's ``notification_settings`` row."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from connection_store.adapters.database import Connection

_COLUMNS = "email_recipients, email_enabled, slack_enabled, email_from, updated_at"


class PostgresNotificationSettings:
    def __init__(self, connection: Connection, organization_id: uuid.UUID) -> None:
        self.tx = connection
        self.org = organization_id

    async def get(self) -> dict[str, Any] | None:
        record = await self.tx.fetchrow(
            f"SELECT {_COLUMNS} FROM notification_settings WHERE organization_id = $1",  # noqa: S608 - fixed column list
            self.org,
        )
        return None if record is None else dict(record)

    async def save(self, values: Mapping[str, Any], *, by: str) -> None:
        await self.tx.execute(
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
            self.org,
            values["email_recipients"],
            values["email_enabled"],
            values["slack_enabled"],
            values["email_from"],
            by,
        )
