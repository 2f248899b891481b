"""The tenant REST API's use cases: integrations, settings, Sync now, disconnect, flags; each in
one ``Tenant`` transaction of the caller's organization, events to the outbox with the change."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub_catalog import WHERE, Catalog, Provider
from hub_contracts import ConnectionDisconnectedV1, Event, connection_id
from hub_runtime.outbox import OutboxMessage

from connection_store import domain, errors
from connection_store.domain import ConnectionRow
from connection_store.service import pages
from connection_store.service.due import DueWork
from connection_store.service.ports import Listings, Store
from connection_store.views import (
    AttemptView,
    FlagsView,
    FlagView,
    HistoryItem,
    HistoryPage,
    IntegrationDetail,
    IntegrationList,
    IntegrationSummary,
    SealedCredentialView,
    SettingsView,
    SyncAccepted,
    describe_setting,
)

REFRESH_MARGIN = timedelta(minutes=5)
"""Sync now also emits ``token.expiring`` when the scheduled refresh is due within this margin
(only for connections the refresh sweep would take)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Integrations:
    store: Store
    catalog: Catalog
    due: DueWork
    clock: Callable[[], datetime] = _now
    shared: frozenset[str] = frozenset()
    """Providers whose shared platform account is configured (``account_source`` "platform"
    for a brand without its own)."""
    listings: Listings | None = None
    """Where settings naming a resource (``x-resource``) are checked when saved."""

    async def overview(self, org: uuid.UUID) -> IntegrationList:
        async with self.store.tenant(org) as tx:
            rows = {row.provider: row for row in await tx.connections.all()}
        groups: dict[str, list[IntegrationSummary]] = {g.name: [] for g in self.catalog.groups}
        for provider in self.catalog.tenant_providers():
            summary = IntegrationSummary(**_summary(provider, rows.get(provider.id), self.shared))
            groups.setdefault(provider.group, []).append(summary)
        groups = {name: items for name, items in groups.items() if items}
        descriptions = {g.name: g.description for g in self.catalog.groups if g.name in groups}
        return IntegrationList(organization_id=org, groups=groups, group_descriptions=descriptions)

    async def detail(self, org: uuid.UUID, provider_id: str) -> IntegrationDetail:
        provider = self.catalog.tenant_provider(provider_id)
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id)
            overrides = await tx.flags.all()
        flags = self._flags(overrides, {provider.id: row.status} if row else {})
        return IntegrationDetail(
            **_summary(provider, row, self.shared),
            group=provider.group,
            connection_id=row.id if row else None,
            auth_type=row.auth_type if row else None,
            account_id=row.account_id if row else None,
            scopes=row.scopes if row else [],
            token_expires_at=row.token_expires_at if row else None,
            credential_version=row.credential_version if row else 0,
            credentials_present=row.credential_names if row else [],
            connected_at=row.connected_at if row else None,
            disconnected_at=row.disconnected_at if row else None,
            last_check_id=row.last_check_id if row else None,
            last_error_code=row.last_error_code if row else None,
            metadata=row.metadata if row else {},
            settings=row.settings if row else {},
            flags={
                name: view.effective
                for name, view in flags.details.items()
                if view.provider == provider.id
            },
        )

    async def sealed_credential(self, org: uuid.UUID, provider_id: str) -> SealedCredentialView:
        """The connection's credential as ciphertext, for a hub service; 404 unless it holds one."""
        provider = self.catalog.tenant_provider(provider_id)
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id)
        if row is None or not row.connected or not row.sealed:
            raise errors.NoCredentialError(f"{provider.name} holds no credential for this brand.")
        return SealedCredentialView(
            provider=provider.id,
            auth_type=row.auth_type,
            credential_version=row.credential_version,
            sealed=dict(row.sealed),
            metadata=dict(row.metadata),
        )

    async def update_settings(
        self,
        org: uuid.UUID,
        provider_id: str,
        patch: Mapping[str, Any],
        *,
        authorization: str | None = None,
    ) -> SettingsView:
        """Merge ``patch`` (JSON merge patch: ``null`` removes a setting), validate the result;
        a changed setting that names a resource must be among the brand's listed ones."""
        provider = self.catalog.tenant_provider(provider_id)
        if authorization is not None and self.listings is not None:
            await self._check_resources(org, provider, patch, authorization)
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id, lock=True)
            merged = {**(row.settings if row else {})}
            for name, value in patch.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            checked = check_settings(provider, merged)
            row_id = row.id if row else connection_id(org, provider.id)
            await tx.connections.save_settings(provider.id, row_id, checked)
        return SettingsView(provider=provider.id, settings=checked)

    async def _check_resources(
        self, org: uuid.UUID, provider: Provider, patch: Mapping[str, Any], authorization: str
    ) -> None:
        assert self.listings is not None
        named = [s for s in provider.settings if s.resource and patch.get(s.name) is not None]
        if not named:
            return
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id)
        if account_source(provider, row, self.shared) is None:
            return  # nothing to list with yet: the shape check is all there is
        merged = {**(row.settings if row else {}), **patch}
        checked = check_settings(provider, {k: v for k, v in merged.items() if v is not None})
        for setting in named:
            assert setting.resource is not None
            listing = provider.resources[setting.resource]
            params = {name: str(checked[name]) for name in listing.params if name in checked}
            items = await self.listings.items(
                org, provider.id, setting.resource, params, authorization=authorization
            )
            if items is None:
                continue  # nothing to list with yet: the shape check above is all there is
            for value in domain.resource_values(checked[setting.name]):
                if not domain.listed(value, items):
                    raise errors.InvalidSettingError(
                        f"Setting {setting.name!r} ({setting.label}): {value!r} is not among "
                        f"your {provider.name} {setting.resource.replace('_', ' ')}.",
                        field=setting.name,
                    )

    async def sync_now(self, org: uuid.UUID, provider_id: str) -> SyncAccepted:
        """``connection.check_due`` now, and ``token.expiring`` as the refresh sweep would send
        it when the refresh is due within ``REFRESH_MARGIN``."""
        provider = self.catalog.tenant_provider(provider_id)
        now = self.clock()
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id, lock=True)
            if row is None or not row.connected or row.credential_version < 1:
                status = row.status if row else "not_connected"
                raise errors.NotConnectedError(provider.id, provider.name, status)
            check = self.due.check(row, now, trigger="sync_now")
            if check.event is None:
                raise RuntimeError(f"{provider.id} cannot be checked: {check.skipped}")
            events: list[Event] = [check.event]
            next_refresh_at = row.next_refresh_at
            if _refresh_due_soon(row, now):
                refresh = self.due.refresh(row, now)
                if refresh.event is not None:
                    events.append(refresh.event)
                    next_refresh_at = refresh.next_at
            await tx.outbox.add([OutboxMessage.of(event) for event in events])
            assert check.next_at is not None
            await tx.connections.reschedule(
                row.id, next_check_at=check.next_at, next_refresh_at=next_refresh_at
            )
        return SyncAccepted(
            provider=provider.id,
            check_id=check.event.event_id,
            queued=[e.event_type for e in events],
        )

    async def disconnect(self, org: uuid.UUID, provider_id: str, *, by: str) -> None:
        provider = self.catalog.tenant_provider(provider_id)
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id, lock=True)
            if row is None or row.status in ("pending", "disconnected"):
                raise errors.NothingToDisconnectError(provider.id, provider.name)
            await tx.connections.disconnect(row.id, self.clock())
            event = ConnectionDisconnectedV1(
                organization_id=org,
                provider=provider.id,
                connection_id=row.id,
                disconnected_by=by[:200],
                reason="user_request",
                credentials=row.credentials(),
                metadata=dict(row.metadata),
            )
            await tx.outbox.add([OutboxMessage.of(event)])
            entry = domain.history_entry(event, provider)
            if entry is not None:
                await tx.history.record(entry)

    async def history(
        self, org: uuid.UUID, provider_id: str, *, limit: int, cursor: str | None
    ) -> HistoryPage:
        """The integration's timeline, newest first; ``cursor`` is the last page's
        ``next_cursor``."""
        provider = self.catalog.tenant_provider(provider_id)
        before = pages.before(cursor)
        async with self.store.tenant(org) as tx:
            records = await tx.history.page(provider.id, limit=limit + 1, before=before)
        shown, next_cursor = pages.page(records, limit)
        return HistoryPage(
            provider=provider.id,
            items=[
                HistoryItem(at=r.at, kind=r.kind, summary=r.summary, details=r.details)
                for r in shown
            ],
            next_cursor=next_cursor,
        )

    async def flags(self, org: uuid.UUID) -> FlagsView:
        async with self.store.tenant(org) as tx:
            overrides = await tx.flags.all()
            statuses = {row.provider: row.status for row in await tx.connections.all()}
        return self._flags(overrides, statuses)

    async def set_flags(self, org: uuid.UUID, changes: Mapping[str, bool], *, by: str) -> FlagsView:
        known = self.catalog.feature_flags
        for name in changes:
            if name not in known:
                raise errors.UnknownFlagError(name, sorted(known))
        async with self.store.tenant(org) as tx:
            for name, enabled in changes.items():
                flag = known[name]
                if not (enabled and flag.requires_connection and flag.provider):
                    continue
                row = await tx.connections.get(flag.provider, lock=True)
                if row is None or row.status != "active":
                    provider = self.catalog.get(flag.provider)
                    raise errors.ConnectionRequiredError(
                        name,
                        provider.id,
                        provider.name,
                        reconnect=row is not None and row.status in ("expired", "error"),
                    )
            await tx.flags.save(changes, by=by[:200])
            overrides = await tx.flags.all()
            statuses = {row.provider: row.status for row in await tx.connections.all()}
        return self._flags(overrides, statuses)

    def _flags(self, overrides: Mapping[str, bool], statuses: Mapping[str, str]) -> FlagsView:
        """Each flag's stored choice, and its effect now (``flags`` holds the effect: what
        platform code reads)."""
        details = {}
        for name, flag in self.catalog.feature_flags.items():
            enabled = overrides.get(name, flag.default)
            status = statuses.get(flag.provider) if flag.provider else None
            effective, reason = domain.flag_effect(
                enabled,
                flag.requires_connection,
                self.catalog.get(flag.provider) if flag.provider else None,
                status,
            )
            details[name] = FlagView(
                enabled=enabled,
                effective=effective,
                reason=reason,
                default=flag.default,
                overridden=name in overrides,
                requires_connection=flag.requires_connection,
                provider=flag.provider,
                connection_active=None if flag.provider is None else status == "active",
            )
        return FlagsView(
            flags={name: view.effective for name, view in details.items()}, details=details
        )


def _refresh_due_soon(row: ConnectionRow, now: datetime) -> bool:
    due = row.next_refresh_at
    return due is not None and due <= now + REFRESH_MARGIN and row.status in domain.REFRESHABLE


def check_settings(provider: Provider, values: Mapping[str, Any]) -> dict[str, Any]:
    """``Provider.check_settings`` with a message that says what each setting accepts."""
    fields = {setting.name: setting for setting in provider.settings}
    for name, value in values.items():
        setting = fields.get(name)
        if setting is None:
            accepted = ", ".join(fields) or "none"
            raise errors.InvalidSettingError(
                f"{provider.name} has no setting {name!r}; its settings are: {accepted}.",
                field=name,
            )
        try:
            setting.check(value)
        except ValueError:
            raise errors.InvalidSettingError(
                f"Setting {name!r} ({setting.label}) must be {describe_setting(setting)}.",
                field=name,
            ) from None
    try:
        return provider.check_settings(values)
    except ValueError as error:
        raise errors.InvalidSettingError(f"{provider.name}: {error}.") from None


def account_source(
    provider: Provider, row: ConnectionRow | None, shared: frozenset[str]
) -> str | None:
    """Whose account the brand's integration uses: its own while it holds a credential, else the
    platform's shared one when configured, else none. Connecting its own key switches to it;
    disconnecting it switches back."""
    if row is not None and row.connected:
        return "brand"
    return "platform" if provider.id in shared else None


def _summary(
    provider: Provider, row: ConnectionRow | None, shared: frozenset[str] = frozenset()
) -> dict[str, Any]:
    attempt = None
    if row is not None and row.attempt_state in ("connecting", "failed"):
        attempt = AttemptView(
            state="connecting" if row.attempt_state == "connecting" else "failed",
            reason=row.attempt_reason,
            message=row.attempt_message,
            at=row.attempt_at,
        )
    step = None
    if row is not None:
        step = domain.next_step(provider, row.status, row.last_error_code)
        if (
            step is None
            and attempt is not None
            and attempt.state == "failed"
            and row.status != "active"  # an abandoned reconnect of a working connection
        ):
            step = f"Connect {provider.name} again in {WHERE}."
    return {
        "id": provider.id,
        "name": provider.name,
        "category": provider.category,
        "tier": provider.tier.value,
        "configured_in": [place.value for place in provider.configured_in],
        "status": domain.integration_status(row),
        "connected": row is not None and row.connected,
        "account_name": row.account_name if row else None,
        "account_source": account_source(provider, row, shared),
        "platform_account_available": provider.id in shared,
        "last_sync_at": row.last_sync_at if row else None,
        "last_error": row.last_error if row else None,
        "next_step": step,
        "attempt": attempt,
        "last_checked_at": row.last_checked_at if row else None,
        "last_check_outcome": row.last_check_outcome if row else None,
    }
