"""Credentials for the platform's services (issue 12): a connection's credential in plaintext,
fresh for ``min_ttl_s``, refreshed on demand through the sweep's path (``token.expiring``
``on_demand`` in the outbox, answered by ``token.refreshed`` or ``connection.unhealthy``), one
refresh per connection across replicas (a claim on the row), every read audited."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from hub_catalog import (
    AuthMode,
    Catalog,
    PlatformCredentials,
    Provider,
    RefreshStrategy,
    tenant_values,
)
from hub_contracts import EncryptedCredential
from hub_keyring import Binding, KeyRing, KeyRingError
from hub_runtime.api_errors import ApiError, UnavailableError
from hub_runtime.outbox import OutboxMessage

from connection_store import domain, errors
from connection_store.domain import ConnectionRow
from connection_store.metrics import StoreMetrics
from connection_store.service import pages
from connection_store.service.due import DueWork
from connection_store.service.ports import CredentialRead, RefreshSignals, Store, Tenant
from connection_store.views import AccessLogItem, AccessLogPage, CredentialAccount, CredentialView


class Outcome(StrEnum):
    SERVED = "served"
    SERVED_PLATFORM = "served_platform"
    NOT_CONNECTED = "not_connected"
    RECONNECT_REQUIRED = "reconnect_required"
    REFRESH_UNAVAILABLE = "refresh_unavailable"
    PROVIDER_NOT_ALLOWED = "provider_not_allowed"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Reader:
    """Who is reading: the service token's ``sub`` and its ``providers`` claim."""

    service: str
    providers: frozenset[str]


@dataclass
class _Verdict:
    """What one look at the row decided: a view to serve, an error to raise, or a refresh."""

    outcome: Outcome | None = None
    view: CredentialView | None = None
    error: ApiError | None = None
    version: int | None = None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Credentials:
    store: Store
    catalog: Catalog
    due: DueWork
    ring: KeyRing | None
    signals: RefreshSignals
    metrics: StoreMetrics
    platform: PlatformCredentials
    wait_s: float = 10.0
    retry_after_s: int = 5
    poll_s: float = 0.5
    clock: Callable[[], datetime] = _now
    monotonic: Callable[[], float] = field(default=time.monotonic)

    async def read(
        self, reader: Reader, org: uuid.UUID, provider_id: str, *, min_ttl_s: int
    ) -> CredentialView:
        provider = self.catalog.tenant_provider(provider_id)
        if provider.id not in reader.providers:
            await self._record(reader, org, provider, Outcome.PROVIDER_NOT_ALLOWED, None)
            raise errors.ForbiddenError(
                f"This service token may not read {provider.name} credentials: ask for a token "
                f"whose 'providers' claim names {provider.id!r}.",
                code="provider_not_allowed",
            )
        if self.ring is None:
            raise UnavailableError(
                "This store has no CREDENTIAL_KEYS, so it cannot serve credentials.",
                code="credentials_unconfigured",
            )
        now = self.clock()
        async with self.store.tenant(org) as tx:
            row = await tx.connections.get(provider.id)
            verdict = self._judge(org, provider, row, now, min_ttl_s, refreshed=False)
            claimed = False
            if verdict.outcome is None and row is not None:
                claimed = await self._ask_refresh(tx, row, now)
                if not claimed and _recently_failed(row, now, self.retry_after_s):
                    verdict = self._unavailable(provider, "the last refresh failed moments ago")
            if verdict.outcome is not None:
                await tx.credential_reads.record(self._read(reader, provider, verdict, now))
        if verdict.outcome is None and row is not None:
            verdict = await self._wait(reader, org, provider, row, min_ttl_s, claimed=claimed)
        return self._finish(reader, provider, verdict)

    async def access_log(
        self, org: uuid.UUID, provider_id: str, *, limit: int, cursor: str | None
    ) -> AccessLogPage:
        """Who read the credential, newest first; ``cursor`` is the last page's ``next_cursor``."""
        provider = self.catalog.tenant_provider(provider_id)
        before = pages.before(cursor)
        async with self.store.tenant(org) as tx:
            records = await tx.credential_reads.page(provider.id, limit=limit + 1, before=before)
        shown, next_cursor = pages.page(records, limit)
        return AccessLogPage(
            provider=provider.id,
            items=[
                AccessLogItem(
                    at=r.read.at,
                    service=r.read.service,
                    outcome=r.read.outcome,
                    credential_version=r.read.credential_version,
                )
                for r in shown
            ],
            next_cursor=next_cursor,
        )

    # --- one look at the row -------------------------------------------------------------------

    def _judge(
        self,
        org: uuid.UUID,
        provider: Provider,
        row: ConnectionRow | None,
        now: datetime,
        min_ttl_s: int,
        *,
        refreshed: bool,
    ) -> _Verdict:
        """Serve, refuse, or ``_Verdict()`` (no outcome): a refresh is needed. ``refreshed``:
        the row holds a newer credential than the one that was too old, so any unexpired
        token is served (the provider issued no longer one)."""
        if row is None or row.status in ("pending", "disconnected") or row.credential_version < 1:
            shared = self.platform.shared(provider)
            if shared is not None:
                return _Verdict(Outcome.SERVED_PLATFORM, view=_platform_view(org, provider, shared))
            return _Verdict(
                Outcome.NOT_CONNECTED, error=errors.CredentialNotConnectedError(provider.name)
            )
        mode = provider.auth_mode(row.auth_type)
        if row.status == "expired" or mode is None:
            return self._reconnect(provider, row)
        expires = row.token_expires_at
        expired = expires is not None and expires <= now
        can_refresh = mode.refresh not in (
            RefreshStrategy.NONE,
            RefreshStrategy.LONG_LIVED_REMINDER,
        )
        wanted = _wanted_ttl(mode, min_ttl_s)
        if domain.fresh_enough(expires, now, wanted) or (
            not expired and (refreshed or not can_refresh)
        ):
            return self._serve(org, provider, mode, row)
        if not can_refresh:
            return self._reconnect(provider, row)
        return _Verdict()

    def _serve(
        self, org: uuid.UUID, provider: Provider, mode: AuthMode, row: ConnectionRow
    ) -> _Verdict:
        assert self.ring is not None
        sealed = row.credentials()
        names = domain.served_field_names(mode)
        fields: dict[str, str] = {}
        try:
            if sealed.access_token is not None:
                fields["access_token"] = self._open(
                    sealed.access_token, org, provider, "access_token"
                )
            for name, value in sealed.fields.items():
                if name in names:
                    fields[name] = self._open(value, org, provider, name)
        except KeyRingError:
            return _Verdict(
                Outcome.UNREADABLE,
                error=UnavailableError(
                    f"The stored {provider.name} credential cannot be decrypted with this "
                    "store's CREDENTIAL_KEYS; an operator must check the key ring.",
                    code="credential_unreadable",
                ),
                version=row.credential_version,
            )
        fields |= tenant_values(provider, row.metadata)
        view = CredentialView(
            organization_id=org,
            provider=provider.id,
            auth_type=row.auth_type,
            fields=fields,
            expires_at=row.token_expires_at,
            account=CredentialAccount(id=row.account_id, name=row.account_name),
            metadata={**row.metadata, "account_source": "brand"},
            credential_version=row.credential_version,
        )
        return _Verdict(Outcome.SERVED, view=view, version=row.credential_version)

    def _open(
        self, ciphertext: EncryptedCredential, org: uuid.UUID, provider: Provider, name: str
    ) -> str:
        assert self.ring is not None
        return self.ring.decrypt(ciphertext, Binding(org, provider.id, name)).get_secret_value()

    def _reconnect(self, provider: Provider, row: ConnectionRow) -> _Verdict:
        message = domain.reconnect_step(provider, row.status, row.last_error_code)
        return _Verdict(
            Outcome.RECONNECT_REQUIRED,
            error=errors.ReconnectRequiredError(message),
            version=row.credential_version,
        )

    def _unavailable(self, provider: Provider, why: str) -> _Verdict:
        return _Verdict(
            Outcome.REFRESH_UNAVAILABLE,
            error=errors.RefreshUnavailableError(
                f"The {provider.name} token needs a refresh and {why}; the old token is not "
                f"handed out once it is too old. Retry after {self.retry_after_s} s.",
                retry_after_s=self.retry_after_s,
            ),
        )

    # --- the on-demand refresh -----------------------------------------------------------------

    async def _ask_refresh(self, tx: Tenant, row: ConnectionRow, now: datetime) -> bool:
        """Claim the refresh and write its ``token.expiring`` in the same transaction, unless
        another read (here or on another replica) holds the claim, or it just failed."""
        if _recently_failed(row, now, self.retry_after_s):
            return False
        stale_before = now - timedelta(seconds=self.wait_s)
        if not await tx.connections.claim_refresh(
            row.id, row.credential_version, now=now, stale_before=stale_before
        ):
            return False
        planned = self.due.refresh(row, now, trigger="on_demand")
        if planned.event is None:
            return False
        await tx.outbox.add([OutboxMessage.of(planned.event)])
        return True

    async def _wait(
        self,
        reader: Reader,
        org: uuid.UUID,
        provider: Provider,
        before: ConnectionRow,
        min_ttl_s: int,
        *,
        claimed: bool,
    ) -> _Verdict:
        """Until the row holds a newer credential, the refresh failed, or ``wait_s`` passed."""
        role = "claimed" if claimed else "joined"
        started = self.monotonic()
        deadline = started + self.wait_s
        asked_at = self.clock()
        while True:
            remaining = deadline - self.monotonic()
            if remaining > 0:
                await self.signals.wait(before.id, min(self.poll_s, remaining))
            now = self.clock()
            async with self.store.tenant(org) as tx:
                row = await tx.connections.get(provider.id)
                verdict, result = self._after_wait(
                    org, provider, before, row, now, min_ttl_s, asked_at
                )
                if verdict is None and self.monotonic() >= deadline:
                    verdict, result = (
                        self._unavailable(provider, "it did not finish in time"),
                        "timeout",
                    )
                if verdict is not None:
                    await tx.credential_reads.record(self._read(reader, provider, verdict, now))
            if verdict is not None:
                self.metrics.on_demand_refreshes.labels(provider.id, role, result).inc()
                self.metrics.refresh_wait.labels(provider.id).observe(self.monotonic() - started)
                return verdict

    def _after_wait(
        self,
        org: uuid.UUID,
        provider: Provider,
        before: ConnectionRow,
        row: ConnectionRow | None,
        now: datetime,
        min_ttl_s: int,
        asked_at: datetime,
    ) -> tuple[_Verdict | None, str]:
        if (
            row is None
            or row.credential_version > before.credential_version
            or row.status
            in (
                "expired",
                "disconnected",
                "pending",
            )
        ):
            verdict = self._judge(org, provider, row, now, min_ttl_s, refreshed=True)
            if verdict.outcome is None:  # a newer credential that has already expired
                return self._unavailable(provider, "the refreshed token expired at once"), "failed"
            return verdict, "refreshed" if verdict.outcome == Outcome.SERVED else str(
                verdict.outcome.value
            )
        failed = row.refresh_failed_at
        if (
            row.refresh_requested_at is None
            and failed is not None
            and failed >= asked_at - timedelta(seconds=1)
        ):
            return self._unavailable(
                provider, f"{provider.name} did not answer the refresh"
            ), "failed"
        return None, ""

    # --- audit and metrics ---------------------------------------------------------------------

    def _read(
        self, reader: Reader, provider: Provider, verdict: _Verdict, now: datetime
    ) -> CredentialRead:
        assert verdict.outcome is not None
        version = verdict.view.credential_version if verdict.view is not None else verdict.version
        return CredentialRead(
            provider=provider.id,
            service=reader.service,
            outcome=verdict.outcome.value,
            credential_version=version,
            at=now,
        )

    async def _record(
        self,
        reader: Reader,
        org: uuid.UUID,
        provider: Provider,
        outcome: Outcome,
        version: int | None,
    ) -> None:
        now = self.clock()
        async with self.store.tenant(org) as tx:
            await tx.credential_reads.record(
                CredentialRead(provider.id, reader.service, outcome.value, version, now)
            )
        self.metrics.credential_reads.labels(reader.service, provider.id, outcome.value).inc()

    def _finish(self, reader: Reader, provider: Provider, verdict: _Verdict) -> CredentialView:
        assert verdict.outcome is not None
        self.metrics.credential_reads.labels(
            reader.service, provider.id, verdict.outcome.value
        ).inc()
        if verdict.error is not None:
            raise verdict.error
        assert verdict.view is not None
        return verdict.view


def _recently_failed(row: ConnectionRow, now: datetime, retry_after_s: int) -> bool:
    failed = row.refresh_failed_at
    return failed is not None and now - failed < timedelta(seconds=retry_after_s)


def _wanted_ttl(mode: AuthMode, min_ttl_s: int) -> int:
    """``min_ttl_s``, but never more than half the lifetime the provider issues: a fresh token
    must count as fresh, or every read would refresh."""
    lifetime = mode.access_token_lifetime_s
    return min_ttl_s if lifetime is None else min(min_ttl_s, lifetime // 2)


def _platform_view(org: uuid.UUID, provider: Provider, shared: dict[str, str]) -> CredentialView:
    return CredentialView(
        organization_id=org,
        provider=provider.id,
        auth_type=provider.auth.type.value,
        fields=shared,
        expires_at=None,
        account=CredentialAccount(id=None, name=f"{provider.name} (platform account)"),
        metadata={"account_source": "platform"},
        credential_version=0,
    )
