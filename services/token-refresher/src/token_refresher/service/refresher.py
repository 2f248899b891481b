"""The refresher: one ``token.expiring`` in, at most one outcome event out, by the auth mode's
refresh strategy (refresh grant, rotation, re-mint, reminder, none)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from hub_catalog import (
    AuthMode,
    AuthType,
    Catalog,
    CatalogError,
    PlatformCredentials,
    Provider,
    RefreshStrategy,
)
from hub_contracts import ConnectionUnhealthyV1, TokenExpiringV1, TokenRefreshedV1, UnhealthyReason
from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
)

from token_refresher import domain
from token_refresher.domain import CallResult, Outcome, SettledVersions
from token_refresher.errors import MissingCredentialError, NotInCatalogError
from token_refresher.metrics import Metrics
from token_refresher.service.critical import CriticalSections
from token_refresher.service.limits import CallLimits, Release
from token_refresher.service.ports import EventSink, Journal, Renewal, TokenSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """Retry and rate-limit numbers (from ``RefresherSettings``)."""

    attempts: int = 4
    retry_base_delay_s: float = 0.5
    retry_max_delay_s: float = 10.0
    rate_limit_max_wait_s: float = 15.0
    rate_limit_default_retry_after_s: float = 5.0
    rate_limit_max_retry_after_s: float = 3600.0
    queue_max_wait_s: float = 60.0


class _Retry(Enum):
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


@dataclass
class _Attempts:
    """Unavailable calls so far, and the rate-limit and queue waits spent, for one event."""

    failures: int = 0
    waited_s: float = 0.0
    queued_s: float = 0.0
    last_status: int | None = None


@dataclass
class Refresher:
    catalog: Catalog
    tokens: TokenSource
    sink: EventSink
    limits: CallLimits
    settled: SettledVersions
    metrics: Metrics
    policy: Policy = field(default_factory=Policy)
    service_name: str = "token-refresher"
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)
    journal: Journal | None = None
    """Where a ``token.refreshed`` is committed before anything else happens (its relay
    publishes it); without one (in-memory tests) it is published through ``sink``."""
    after_answer: Callable[[], None] | None = None
    """Fault injection (tests only, refused in production): called once a renewal is durable
    and before anything is published, the point where a crash used to brick a rotation."""
    critical: CriticalSections = field(default_factory=CriticalSections, init=False)

    # --- entry point ---------------------------------------------------------------------------

    async def handle(self, event: TokenExpiringV1) -> Outcome:
        """Handle one event; raises ``DeadLetterError`` when the event cannot be handled."""
        provider, mode = self._resolve(event)
        if mode.refresh == RefreshStrategy.NONE:
            return self._done(event, Outcome.NOT_REFRESHABLE)
        if event.refresh_strategy != mode.refresh.value:
            log.warning(
                "event and catalog disagree on the refresh strategy; the catalog wins",
                extra=_fields(event, event_strategy=event.refresh_strategy),
            )
        self.limits.enter(provider.id)
        try:
            outcome = await self._locked(event, provider, mode)
        except asyncio.CancelledError:
            log.info(
                "token.expiring handling cancelled (partition revoked or shutdown)",
                extra=_fields(
                    event, call_in_progress_finishes=self.critical.running_for(event.connection_id)
                ),
            )
            raise
        finally:
            self.limits.leave(provider.id)
        return self._done(event, outcome)

    async def drain(self, timeout_s: float) -> int:
        """Wait for the provider calls already sent (and their outcome events); return how many
        were still running at the timeout."""
        return await self.critical.drain(timeout_s)

    @property
    def calls_in_progress(self) -> int:
        return len(self.critical)

    async def _locked(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Outcome:
        """Under the connection's lock: drop a settled version, else apply the strategy."""
        release = await self.limits.connections.acquire(event.connection_id)
        try:
            if self.settled.is_settled(event.connection_id, event.credential_version):
                return Outcome.STALE
            if mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER:
                return await self._remind(event, provider)
            return await self._renew(event, provider, mode)
        finally:
            self.critical.release_after(event.connection_id, release)

    # --- strategies ----------------------------------------------------------------------------

    async def _remind(self, event: TokenExpiringV1, provider: Provider) -> Outcome:
        expires_at = event.token_expires_at
        if expires_at is not None and expires_at <= self.now():
            reason: UnhealthyReason = "expired"
            message = domain.expired_message(provider, expires_at)
            outcome = Outcome.EXPIRED
        else:
            reason, outcome = "reauth_soon", Outcome.REMINDED
            message = domain.reminder_message(provider, expires_at)

        async def publish() -> Outcome:
            await self.sink.publish(self._unhealthy(event, reason, message))
            self.settled.settle(event.connection_id, event.credential_version)
            return outcome

        result: Outcome = await self.critical.run(event.connection_id, publish(), lambda: None)
        return result

    async def _renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Outcome:
        """Call the provider until the event settles: wait out cool-downs, queue for a slot,
        back off after unavailable answers."""
        gate = self.limits.gate(provider.id)
        tries = _Attempts()
        while True:
            remaining = gate.cooldown_remaining()
            if remaining > 0:
                if not await self._wait_cooldown(remaining, tries):
                    return Outcome.DEFERRED_RATE_LIMITED
                continue
            release = await self._call_slot(provider, tries)
            if release is None:
                return Outcome.DEFERRED_BACKLOG
            if gate.cooldown_remaining() > 0:  # limited while this event waited for a slot
                release()
                continue
            result = await self.critical.run(
                event.connection_id, self._attempt(event, provider, mode, tries, release), release
            )
            if isinstance(result, Outcome):
                return result
            if result is _Retry.UNAVAILABLE:
                await self.sleep(
                    domain.backoff_s(
                        tries.failures,
                        self.policy.retry_base_delay_s,
                        self.policy.retry_max_delay_s,
                        self.rng,
                    )
                )

    async def _wait_cooldown(self, remaining: float, tries: _Attempts) -> bool:
        """Sleep through the provider's cool-down; ``False`` when that exceeds the event's
        rate-limit budget (it is deferred instead)."""
        if tries.waited_s + remaining > self.policy.rate_limit_max_wait_s:
            return False
        pause = remaining + self.rng.uniform(0, min(1.0, remaining / 10))
        await self.sleep(pause)
        tries.waited_s += pause
        return True

    async def _call_slot(self, provider: Provider, tries: _Attempts) -> Release | None:
        """A provider call slot, or ``None`` once the event has queued ``queue_max_wait_s``."""
        queued = time.monotonic()
        try:
            async with asyncio.timeout(self.policy.queue_max_wait_s - tries.queued_s):
                release = await self.limits.call_slot(provider.id)
        except TimeoutError:
            return None
        tries.queued_s += time.monotonic() - queued
        return release

    # --- one provider call (a critical section) -----------------------------------------------

    async def _attempt(
        self,
        event: TokenExpiringV1,
        provider: Provider,
        mode: AuthMode,
        tries: _Attempts,
        release: Release,
    ) -> Outcome | _Retry:
        """One provider call and, when it settles the event, the outcome event."""
        started = self.clock()
        try:
            try:
                renewal = await self.tokens.renew(event, provider, mode)
            finally:
                release()  # the provider slot; publishing the outcome needs none
        except MissingCredentialError as exc:
            return await self._missing_credential(event, provider, exc)
        except RateLimitedError as exc:
            self._called(provider, CallResult.RATE_LIMITED, started)
            return self._rate_limited(event, provider, exc)
        except (ProviderUnavailableError, ResponseTooLargeError) as exc:
            self._called(provider, CallResult.UNAVAILABLE, started)
            return await self._unavailable(event, provider, exc, tries)
        except CredentialRevokedError as exc:
            self._called(provider, CallResult.REVOKED, started)
            return await self._refused(event, provider, exc)
        except ProviderError as exc:  # rejected, or an unsafe destination: our request's fault
            self._called(provider, CallResult.REJECTED, started)
            return await self._refused(event, provider, exc)
        self._called(provider, CallResult.OK, started)
        return await self._refreshed(event, provider, renewal)

    async def _refreshed(
        self, event: TokenExpiringV1, provider: Provider, renewal: Renewal
    ) -> Outcome:
        self.limits.gate(provider.id).answered()
        refreshed = TokenRefreshedV1(
            organization_id=event.organization_id,
            provider=event.provider,
            connection_id=event.connection_id,
            credential_version=event.credential_version + 1,
            credentials=renewal.credentials,
            token_expires_at=renewal.token_expires_at,
            scopes=renewal.scopes,
        )
        if self.journal is None or not await self._journaled(refreshed):
            await self.sink.publish(refreshed)
        elif self.after_answer is not None:
            self.after_answer()
        self.settled.settle(event.connection_id, event.credential_version)
        return Outcome.REFRESHED

    async def _journaled(self, refreshed: TokenRefreshedV1) -> bool:
        """The renewal committed to the journal (a rotated refresh token survives a crash from
        here on); ``False`` when the database stayed away (it is published directly then)."""
        assert self.journal is not None
        try:
            await self.journal.record(refreshed)
        except Exception as exc:
            log.error(
                "journal unavailable; publishing the renewal directly",
                extra={"connection_id": str(refreshed.connection_id), "error": type(exc).__name__},
            )
            return False
        return True

    async def _missing_credential(
        self, event: TokenExpiringV1, provider: Provider, exc: MissingCredentialError
    ) -> Outcome:
        message = domain.missing_credential_message(provider, str(exc))
        await self.sink.publish(self._unhealthy(event, "invalid_credentials", message))
        return Outcome.INVALID_CREDENTIALS

    def _rate_limited(
        self, event: TokenExpiringV1, provider: Provider, exc: RateLimitedError
    ) -> _Retry:
        gate = self.limits.gate(provider.id)
        gate.rate_limited(
            domain.cooldown_s(
                exc.retry_after_s,
                default_s=self.policy.rate_limit_default_retry_after_s,
                max_s=self.policy.rate_limit_max_retry_after_s,
                consecutive=gate.consecutive_limits + (gate.cooldown_remaining() == 0),
            )
        )
        log.info("provider rate limited us", extra=_fields(event, code=exc.code))
        return _Retry.RATE_LIMITED

    async def _unavailable(
        self, event: TokenExpiringV1, provider: Provider, exc: ProviderError, tries: _Attempts
    ) -> Outcome | _Retry:
        tries.failures += 1
        tries.last_status = exc.status_code or tries.last_status
        if tries.failures < self.policy.attempts:
            log.info(
                "provider unavailable; retrying",
                extra=_fields(event, attempt=tries.failures, status=exc.status_code),
            )
            return _Retry.UNAVAILABLE
        message = domain.unavailable_message(provider, tries.failures, tries.last_status)
        await self.sink.publish(
            self._unhealthy(
                event, "provider_unavailable", message, status=tries.last_status, code=exc.code
            )
        )
        return Outcome.PROVIDER_UNAVAILABLE

    async def _refused(
        self, event: TokenExpiringV1, provider: Provider, exc: ProviderError
    ) -> Outcome:
        """The provider answered no. Revoked: the version is settled, so a redelivery makes no
        call. Anything else refused our request: ``misconfigured``."""
        self.limits.gate(provider.id).answered()
        status, code = exc.status_code, exc.code
        if isinstance(exc, CredentialRevokedError):
            message = domain.revoked_message(provider, status, code)
            await self.sink.publish(
                self._unhealthy(event, "revoked", message, status=status, code=code)
            )
            self.settled.settle(event.connection_id, event.credential_version)
            return Outcome.REVOKED
        message = domain.misconfigured_message(provider, status, code)
        await self.sink.publish(
            self._unhealthy(event, "misconfigured", message, status=status, code=code)
        )
        return Outcome.MISCONFIGURED

    # --- helpers -------------------------------------------------------------------------------

    def _resolve(self, event: TokenExpiringV1) -> tuple[Provider, AuthMode]:
        try:
            provider = self.catalog.tenant_provider(event.provider)
        except CatalogError:
            raise NotInCatalogError(
                event.provider, f"provider {event.provider!r} is not in the catalog"
            ) from None
        mode = provider.auth_mode(event.auth_type)
        if mode is None:
            raise NotInCatalogError(
                provider.id, f"{provider.id} has no auth mode {event.auth_type!r} in the catalog"
            )
        return provider, mode

    def _unhealthy(
        self,
        event: TokenExpiringV1,
        reason: UnhealthyReason,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> ConnectionUnhealthyV1:
        return ConnectionUnhealthyV1(
            organization_id=event.organization_id,
            provider=event.provider,
            connection_id=event.connection_id,
            credential_version=event.credential_version,
            reason=reason,
            message=message,
            detected_by=self.service_name,
            provider_status=status,
            provider_code=code[:200] if code else None,
            token_expires_at=event.token_expires_at,
        )

    def _called(self, provider: Provider, result: CallResult, started: float) -> None:
        self.metrics.call(provider.id, result.value, self.clock() - started)

    def _done(self, event: TokenExpiringV1, outcome: Outcome) -> Outcome:
        self.metrics.event(event.provider, outcome.value)
        quiet = outcome in (Outcome.STALE, Outcome.NOT_REFRESHABLE)
        loud = outcome in (
            Outcome.REVOKED,
            Outcome.PROVIDER_UNAVAILABLE,
            Outcome.MISCONFIGURED,
            Outcome.INVALID_CREDENTIALS,
        )
        level = logging.DEBUG if quiet else logging.WARNING if loud else logging.INFO
        log.log(level, "token.expiring handled", extra=_fields(event, outcome=outcome.value))
        return outcome


def _fields(event: TokenExpiringV1, **extra: Any) -> dict[str, Any]:
    return {
        "connection_id": str(event.connection_id),
        "provider": event.provider,
        "credential_version": event.credential_version,
        **extra,
    }


def warn_missing_platform_credentials(catalog: Catalog, platform: PlatformCredentials) -> None:
    """Log each provider whose refresh grants will fail for want of an OAuth client."""
    grants = (RefreshStrategy.REFRESH_GRANT, RefreshStrategy.ROTATING_REFRESH_GRANT)
    for provider in catalog.providers:
        refreshes = any(
            mode.type == AuthType.OAUTH2_AUTHORIZATION_CODE and mode.refresh in grants
            for mode in provider.auth_modes
        )
        missing = platform.missing(provider) if refreshes else []
        if missing:
            log.warning(
                "platform credentials missing: refreshes of this provider will fail",
                extra={"provider": provider.id, "missing": missing},
            )
