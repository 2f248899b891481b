"""The use cases behind the REST API, over a storage port; no I/O library here.

Every method takes the organization from the caller's authenticated principal (the HTTP layer
never passes anything else) and runs in one ``TenantSession``: one transaction that sees only that
organization's rows. Events go to the outbox in the same transaction as the change they describe.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from hub_catalog import Catalog, Provider, RefreshStrategy, Scope
from hub_contracts import (
    ConnectionCheckDueV1,
    ConnectionDisconnectedV1,
    Credentials,
    Event,
    TokenExpiringV1,
    connection_id,
)

from connection_store import domain, errors
from connection_store.views import (
    AttemptView,
    FlagsView,
    FlagView,
    IntegrationDetail,
    IntegrationList,
    IntegrationStatus,
    IntegrationSummary,
    SettingsView,
    SyncAccepted,
    describe_setting,
)

REFRESH_MARGIN = timedelta(minutes=5)
"""Sync now also emits ``token.expiring`` when the scheduled refresh is due within this margin
(only for active or erroring connections whose auth mode refreshes or reminds, as the refresh
sweep)."""
REFRESHABLE = frozenset({"active", "error"})
"""Statuses whose credential is still kept fresh: an outage or a permission problem does not
stop refreshes; an expired (revoked) credential cannot be refreshed."""
_CHECKABLE: dict[str, Literal["active", "error", "expired"]] = {
    "active": "active",
    "error": "error",
    "expired": "expired",
}
"""Statuses of a connection that holds a credential (Sync now checks it)."""
_STATUSES: dict[str, IntegrationStatus] = {**_CHECKABLE, "disconnected": "disconnected"}


@dataclass(frozen=True)
class ConnectionRow:
    """One ``integration_connections`` row as the API needs it.

    ``sealed`` is the ciphertext exactly as stored (``Credentials`` JSON); it goes into events and
    never into a view.
    """

    id: uuid.UUID
    provider: str
    status: str
    auth_type: str | None = None
    sealed: Mapping[str, Any] = field(default_factory=dict, repr=False)
    credential_version: int = 0
    token_expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    account_id: str | None = None
    account_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    last_error_code: str | None = None
    last_sync_at: datetime | None = None
    last_checked_at: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    attempt_state: str | None = None
    attempt_reason: str | None = None
    attempt_message: str | None = None
    attempt_at: datetime | None = None
    next_refresh_at: datetime | None = None

    @property
    def credential_names(self) -> list[str]:
        names = [n for n in ("access_token", "refresh_token") if self.sealed.get(n) is not None]
        return names + sorted(self.sealed.get("fields") or {})

    def credentials(self) -> Credentials:
        return Credentials.model_validate_json(json.dumps(dict(self.sealed)))


class TenantSession(Protocol):
    """One transaction of one organization (row-level security applies)."""

    async def connection(self, provider: str, *, lock: bool = False) -> ConnectionRow | None: ...

    async def connections(self) -> list[ConnectionRow]: ...

    async def save_settings(
        self, provider: str, row_id: uuid.UUID, settings: dict[str, Any]
    ) -> None: ...

    async def reschedule(
        self, row_id: uuid.UUID, *, next_check_at: datetime, next_refresh_at: datetime | None
    ) -> None: ...

    async def disconnect(self, row_id: uuid.UUID, at: datetime) -> None: ...

    async def flags(self) -> dict[str, bool]: ...

    async def save_flags(self, flags: Mapping[str, bool], *, by: str) -> None: ...

    async def enqueue(self, event: Event) -> None: ...


class TenantStore(Protocol):
    def session(self, organization_id: uuid.UUID) -> AbstractAsyncContextManager[TenantSession]: ...


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Integrations:
    store: TenantStore
    catalog: Catalog
    check_interval_s: int
    check_jitter: float
    refresh_retry_s: int
    clock: Callable[[], datetime] = _now

    def tenant_provider(self, provider_id: str) -> Provider:
        """The catalog provider named in a path; admin-page slugs with hyphens are accepted."""
        try:
            provider = self.catalog.get(provider_id.replace("-", "_"))
        except KeyError:
            raise errors.UnknownProviderError(provider_id) from None
        if provider.scope != Scope.TENANT:
            raise errors.PlatformProviderError(provider.id, provider.name)
        return provider

    async def overview(self, org: uuid.UUID) -> IntegrationList:
        async with self.store.session(org) as session:
            rows = {row.provider: row for row in await session.connections()}
        groups: dict[str, list[IntegrationSummary]] = {}
        for provider in self.catalog.tenant_providers():
            summary = IntegrationSummary(**_summary(provider, rows.get(provider.id)))
            groups.setdefault(provider.group, []).append(summary)
        return IntegrationList(organization_id=org, groups=groups)

    async def detail(self, org: uuid.UUID, provider_id: str) -> IntegrationDetail:
        provider = self.tenant_provider(provider_id)
        async with self.store.session(org) as session:
            row = await session.connection(provider.id)
            overrides = await session.flags()
        flags = self._flags(overrides, {provider.id: row.status} if row else {})
        return IntegrationDetail(
            **_summary(provider, row),
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
            last_checked_at=row.last_checked_at if row else None,
            last_error_code=row.last_error_code if row else None,
            metadata=row.metadata if row else {},
            settings=row.settings if row else {},
            flags={
                name: view.enabled
                for name, view in flags.details.items()
                if view.provider == provider.id
            },
        )

    async def update_settings(
        self, org: uuid.UUID, provider_id: str, patch: Mapping[str, Any]
    ) -> SettingsView:
        """Merge ``patch`` (JSON merge patch: ``null`` removes a setting), validate the result."""
        provider = self.tenant_provider(provider_id)
        async with self.store.session(org) as session:
            row = await session.connection(provider.id, lock=True)
            merged = {**(row.settings if row else {})}
            for name, value in patch.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            checked = check_settings(provider, merged)
            row_id = row.id if row else connection_id(org, provider.id)
            await session.save_settings(provider.id, row_id, checked)
        return SettingsView(provider=provider.id, settings=checked)

    async def sync_now(self, org: uuid.UUID, provider_id: str) -> SyncAccepted:
        provider = self.tenant_provider(provider_id)
        now = self.clock()
        async with self.store.session(org) as session:
            row = await session.connection(provider.id, lock=True)
            if row is None or row.status not in _CHECKABLE or row.credential_version < 1:
                status = row.status if row else "not_connected"
                raise errors.NotConnectedError(provider.id, provider.name, status)
            mode = domain.auth_mode(provider, row.auth_type)
            credentials = row.credentials()
            events: list[Event] = [
                ConnectionCheckDueV1(
                    organization_id=org,
                    provider=provider.id,
                    connection_id=row.id,
                    credential_version=row.credential_version,
                    auth_type=mode.type.value,
                    trigger="sync_now",
                    status=_CHECKABLE[row.status],
                    last_error_code=row.last_error_code,
                    credentials=credentials,
                    metadata=row.metadata,
                )
            ]
            next_refresh_at = row.next_refresh_at
            due = next_refresh_at is not None and next_refresh_at <= now + REFRESH_MARGIN
            if due and row.status in REFRESHABLE and mode.refresh != RefreshStrategy.NONE:
                # As the sweep does it: one reminder per credential that cannot be refreshed;
                # a refresh is due again after refresh_retry_s if no token.refreshed arrives.
                reminder = mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER
                events.append(
                    TokenExpiringV1(
                        organization_id=org,
                        provider=provider.id,
                        connection_id=row.id,
                        credential_version=row.credential_version,
                        auth_type=mode.type.value,
                        metadata=row.metadata,
                        refresh_strategy=mode.refresh.value,
                        token_expires_at=row.token_expires_at,
                        credentials=None if reminder else credentials,
                    )
                )
                retry_at = now + timedelta(seconds=self.refresh_retry_s)
                next_refresh_at = None if reminder else retry_at
            for event in events:
                await session.enqueue(event)
            await session.reschedule(
                row.id,
                next_check_at=domain.next_check_at(now, self.check_interval_s, self.check_jitter),
                next_refresh_at=next_refresh_at,
            )
        return SyncAccepted(provider=provider.id, queued=[e.event_type for e in events])

    async def disconnect(self, org: uuid.UUID, provider_id: str, *, by: str) -> None:
        provider = self.tenant_provider(provider_id)
        async with self.store.session(org) as session:
            row = await session.connection(provider.id, lock=True)
            if row is None or row.status in ("pending", "disconnected"):
                raise errors.NothingToDisconnectError(provider.id, provider.name)
            await session.disconnect(row.id, self.clock())
            await session.enqueue(
                ConnectionDisconnectedV1(
                    organization_id=org,
                    provider=provider.id,
                    connection_id=row.id,
                    disconnected_by=by[:200],
                    reason="user_request",
                    credentials=row.credentials(),
                )
            )

    async def flags(self, org: uuid.UUID) -> FlagsView:
        async with self.store.session(org) as session:
            overrides = await session.flags()
            statuses = {row.provider: row.status for row in await session.connections()}
        return self._flags(overrides, statuses)

    async def set_flags(self, org: uuid.UUID, changes: Mapping[str, bool], *, by: str) -> FlagsView:
        known = self.catalog.feature_flags
        for name in changes:
            if name not in known:
                raise errors.UnknownFlagError(name, sorted(known))
        async with self.store.session(org) as session:
            for name, enabled in changes.items():
                flag = known[name]
                if not (enabled and flag.requires_connection and flag.provider):
                    continue
                row = await session.connection(flag.provider, lock=True)
                if row is None or row.status != "active":
                    provider = self.catalog.get(flag.provider)
                    raise errors.ConnectionRequiredError(
                        name,
                        provider.id,
                        provider.name,
                        reconnect=row is not None and row.status in ("expired", "error"),
                    )
            await session.save_flags(changes, by=by[:200])
            overrides = await session.flags()
            statuses = {row.provider: row.status for row in await session.connections()}
        return self._flags(overrides, statuses)

    def _flags(self, overrides: Mapping[str, bool], statuses: Mapping[str, str]) -> FlagsView:
        details = {
            name: FlagView(
                enabled=overrides.get(name, flag.default),
                default=flag.default,
                overridden=name in overrides,
                requires_connection=flag.requires_connection,
                provider=flag.provider,
                connection_active=(
                    None if flag.provider is None else statuses.get(flag.provider) == "active"
                ),
            )
            for name, flag in self.catalog.feature_flags.items()
        }
        return FlagsView(
            flags={name: view.enabled for name, view in details.items()}, details=details
        )


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


def integration_status(row: ConnectionRow | None) -> IntegrationStatus:
    """The hub's status of a connection: ``connecting`` while a first attempt or a reconnect of
    a connection without an active credential is in progress."""
    if row is None:
        return "not_connected"
    if row.attempt_state == "connecting" and row.status != "active":
        return "connecting"
    return _STATUSES.get(row.status, "not_connected")


def _summary(provider: Provider, row: ConnectionRow | None) -> dict[str, Any]:
    status = integration_status(row)
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
        if step is None and attempt is not None and attempt.state == "failed":
            step = f"Connect {provider.name} again in {errors.WHERE}."
    return {
        "id": provider.id,
        "name": provider.name,
        "category": provider.category,
        "tier": provider.tier.value,
        "configured_in": [place.value for place in provider.configured_in],
        "status": status,
        "connected": row is not None and row.status in _CHECKABLE,
        "account_name": row.account_name if row else None,
        "last_sync_at": row.last_sync_at if row else None,
        "last_error": row.last_error if row else None,
        "next_step": step,
        "attempt": attempt,
    }
