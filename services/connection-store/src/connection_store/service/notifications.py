"""Who hears about a connection that needs attention (the organization's notification settings),
and the notifier's context: those settings, the connection's facts, and the brand's Slack and
Resend credentials as stored ciphertext (the notifier decrypts when it sends, SECURITY.md 14)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hub_catalog import Catalog

from connection_store.domain import ConnectionRow
from connection_store.service.ports import Store
from connection_store.views import (
    ConnectionFacts,
    NotificationContext,
    NotificationSettingsPatch,
    NotificationSettingsView,
    ResendTarget,
    SlackTarget,
)

DEFAULTS: dict[str, Any] = {
    "email_recipients": [],
    "email_enabled": True,
    "slack_enabled": True,
    "email_from": None,
}


@dataclass
class Notifications:
    store: Store
    catalog: Catalog

    async def settings(self, org: uuid.UUID) -> NotificationSettingsView:
        async with self.store.tenant(org) as tx:
            return _view(await tx.notification_settings.get())

    async def update(
        self, org: uuid.UUID, patch: NotificationSettingsPatch, *, by: str
    ) -> NotificationSettingsView:
        """Fields left out keep their value, ``null`` restores the default; each recipient once."""
        async with self.store.tenant(org) as tx:
            current = await tx.notification_settings.get() or DEFAULTS
            merged = {name: current[name] for name in DEFAULTS}
            for name in patch.model_fields_set:
                value = getattr(patch, name)
                merged[name] = DEFAULTS[name] if value is None else value
            merged["email_recipients"] = _unique(merged["email_recipients"])
            await tx.notification_settings.save(merged, by=by[:200])
            return _view(await tx.notification_settings.get())

    async def context(self, org: uuid.UUID, provider_id: str) -> NotificationContext:
        """Everything the notifier needs to tell ``org`` about ``provider_id`` (ciphertext only)."""
        subject = self.catalog.tenant_provider(provider_id).id
        async with self.store.tenant(org) as tx:
            settings = await tx.notification_settings.get()
            rows = {
                row.provider: row
                for row in await tx.connections.all(sorted({subject, "slack", "resend"}))
            }
        return NotificationContext(
            organization_id=org,
            settings=_view(settings),
            connection=self._facts(rows.get(subject)),
            slack=_slack(rows.get("slack")),
            resend=_resend(rows.get("resend")),
        )

    def _facts(self, row: ConnectionRow | None) -> ConnectionFacts | None:
        if row is None:
            return None
        return ConnectionFacts(
            provider=row.provider,
            name=self.catalog.get(row.provider).name,
            status=row.status,
            account_id=row.account_id,
            account_name=row.account_name,
            last_error_code=row.last_error_code,
            token_expires_at=row.token_expires_at,
            credential_version=row.credential_version,
        )


def _view(row: dict[str, Any] | None) -> NotificationSettingsView:
    return NotificationSettingsView(**(row or DEFAULTS))


def _unique(addresses: list[str]) -> list[str]:
    """Each address once (case-insensitively), in the order given."""
    kept: dict[str, str] = {}
    for address in addresses:
        kept.setdefault(address.lower(), address)
    return list(kept.values())


def _slack(row: ConnectionRow | None) -> SlackTarget | None:
    token = row.sealed.get("access_token") if row else None
    if row is None or row.status != "active" or token is None:
        return None
    return SlackTarget(
        credential_version=row.credential_version,
        access_token=token,
        team=row.account_name,
        channel_routing=dict(row.settings.get("channel_routing") or {}),
        default_channel=row.settings.get("default_channel"),
    )


def _resend(row: ConnectionRow | None) -> ResendTarget | None:
    fields = (row.sealed.get("fields") or {}) if row else {}
    if row is None or row.status != "active" or fields.get("api_key") is None:
        return None
    return ResendTarget(credential_version=row.credential_version, api_key=fields["api_key"])
