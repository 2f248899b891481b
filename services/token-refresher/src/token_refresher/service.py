"""The refresher: one ``token.expiring`` in, at most one outcome event out.

For each event: find the provider's auth mode in the catalog, take the connection's lock, drop
the event if its credential version is already settled, then apply the mode's strategy:

- ``refresh_grant`` / ``rotating_refresh_grant``: a refresh-token grant (Authlib, behind the
  ``TokenSource`` port). The new access token and, when the provider rotated it, the new refresh
  token go out together in one ``token.refreshed`` (version + 1);
- ``remint``: a new token minted from the stored secret (Yotpo, PayPal);
- ``long_lived_reminder``: no provider call; ``connection.unhealthy`` with reason
  ``reauth_soon`` (or ``expired`` once the credential has ended) carrying ``token_expires_at``;
- ``none``: nothing.

Failures are classified once: revoked → ``connection.unhealthy`` ``revoked``, no retry;
unavailable → backoff and jitter, ``provider_unavailable`` after ``attempts`` calls; rate
limited → the provider cools down for its ``Retry-After`` and the event waits (up to
``rate_limit_max_wait_s``), then is deferred to the store's next sweep, never reported; any
other refusal → ``misconfigured``.

A provider call and the publication of its outcome form one critical section, run as its own
task: cancelling the event (partition revoked, shutdown) does not cancel a call already sent,
and ``drain`` waits for those, so a rotated refresh token is never lost between a provider's
answer and ``token.refreshed`` unless the process dies.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from hub_catalog import AuthMode, Catalog, Provider, RefreshStrategy
from hub_contracts import (
    ConnectionUnhealthyV1,
    Credentials,
    Event,
    TokenExpiringV1,
    TokenRefreshedV1,
    UnhealthyReason,
)

from token_refresher import domain
from token_refresher.domain import CallResult, Outcome, SettledVersions
from token_refresher.errors import (
    CredentialRevokedError,
    MissingCredentialError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    UnknownProviderError,
)
from token_refresher.limits import Limits, Release
from token_refresher.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Renewal:
    """A fresh credential, already encrypted for its connection."""

    credentials: Credentials
    token_expires_at: datetime | None
    scopes: list[str] | None = None


class TokenSource(Protocol):
    """Decrypts the stored credential, asks the provider for a new one, encrypts the answer.

    Raises ``token_refresher.errors``: ``RateLimitedError``, ``ProviderUnavailableError``,
    ``CredentialRevokedError``, ``ProviderRejectedError``, ``MissingCredentialError`` (before
    any call), ``UndecryptableError`` (before any call).
    """

    async def renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Renewal:
        """The renewed credential of ``event``'s connection."""


class EventSink(Protocol):
    async def publish(self, event: Event) -> None:
        """Publish and wait for the broker's acknowledgement (raise if it never comes)."""


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
    """Unavailable calls so far, and the rate-limit wait spent, for one event."""

    failures: int = 0
    waited_s: float = 0.0
    queued_s: float = 0.0
    last_status: int | None = None


@dataclass
class Refresher:
    catalog: Catalog
    tokens: TokenSource
    sink: EventSink
    limits: Limits
    settled: SettledVersions
    metrics: Metrics
    policy: Policy = field(default_factory=Policy)
    service_name: str = "token-refresher"
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rng: random.Random = field(default_factory=random.Random)
    _critical: set[asyncio.Task[Any]] = field(default_factory=set, init=False)
    _critical_of: dict[uuid.UUID, asyncio.Task[Any]] = field(default_factory=dict, init=False)

    # --- entry point ---------------------------------------------------------------------------

    async def handle(self, event: TokenExpiringV1) -> Outcome:
        """Handle one event; raises ``DeadLetterError`` when the event cannot be handled."""
        provider, mode = self._resolve(event)
        if mode.refresh == RefreshStrategy.NONE:
            return self._done(event, Outcome.NOT_REFRESHABLE)
        if event.refresh_strategy != mode.refresh.value:
            log.warning(
                "event and catalog disagree on the refresh strategy; the catalog wins",
                extra=self._fields(event, event_strategy=event.refresh_strategy),
            )
        self.limits.enter(provider.id)
        try:
            release = await self.limits.connections.acquire(event.connection_id)
            try:
                if self.settled.is_settled(event.connection_id, event.credential_version):
                    outcome = Outcome.STALE
                elif mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER:
                    outcome = await self._remind(event, provider)
                else:
                    outcome = await self._renew(event, provider, mode)
            finally:
                self._release_after_critical(event.connection_id, release)
        except asyncio.CancelledError:
            calling = event.connection_id in self._critical_of
            log.info(
                "token.expiring handling cancelled (partition revoked or shutdown)",
                extra=self._fields(event, call_in_progress_finishes=calling),
            )
            raise
        finally:
            self.limits.leave(provider.id)
        return self._done(event, outcome)

    async def drain(self, timeout_s: float) -> int:
        """Wait for the provider calls already sent (and their outcome events); return how many
        were still running at the timeout."""
        running = set(self._critical)
        if not running:
            return 0
        _, still = await asyncio.wait(running, timeout=timeout_s)
        return len(still)

    @property
    def calls_in_progress(self) -> int:
        return len(self._critical)

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

        result: Outcome = await self._critically(event.connection_id, publish(), lambda: None)
        return result

    async def _renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Outcome:
        gate = self.limits.gate(provider.id)
        tries = _Attempts()
        while True:
            remaining = gate.cooldown_remaining()
            if remaining > 0:
                if tries.waited_s + remaining > self.policy.rate_limit_max_wait_s:
                    return Outcome.DEFERRED_RATE_LIMITED
                pause = remaining + self.rng.uniform(0, min(1.0, remaining / 10))
                await self.sleep(pause)
                tries.waited_s += pause
                continue
            queued = time.monotonic()
            try:
                async with asyncio.timeout(self.policy.queue_max_wait_s - tries.queued_s):
                    release = await self.limits.call_slot(provider.id)
            except TimeoutError:
                return Outcome.DEFERRED_BACKLOG
            tries.queued_s += time.monotonic() - queued
            if gate.cooldown_remaining() > 0:  # limited while this event waited for a slot
                release()
                continue
            result = await self._critically(
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

    async def _attempt(
        self,
        event: TokenExpiringV1,
        provider: Provider,
        mode: AuthMode,
        tries: _Attempts,
        release: Release,
    ) -> Outcome | _Retry:
        """One provider call and, when it settles the event, the outcome event (critical)."""
        gate = self.limits.gate(provider.id)
        started = self.clock()
        try:
            try:
                renewal = await self.tokens.renew(event, provider, mode)
            finally:
                release()  # the provider slot; publishing the outcome needs none
        except MissingCredentialError as exc:
            message = domain.missing_credential_message(provider, str(exc))
            await self.sink.publish(self._unhealthy(event, "invalid_credentials", message))
            return Outcome.INVALID_CREDENTIALS
        except RateLimitedError as exc:
            self._called(provider, CallResult.RATE_LIMITED, started)
            gate.rate_limited(
                domain.cooldown_s(
                    exc.retry_after_s,
                    default_s=self.policy.rate_limit_default_retry_after_s,
                    max_s=self.policy.rate_limit_max_retry_after_s,
                    consecutive=gate.consecutive_limits + 1,
                )
            )
            log.info("provider rate limited us", extra=self._fields(event, code=exc.code))
            return _Retry.RATE_LIMITED
        except ProviderUnavailableError as exc:
            self._called(provider, CallResult.UNAVAILABLE, started)
            tries.failures += 1
            tries.last_status = exc.status_code or tries.last_status
            if tries.failures < self.policy.attempts:
                log.info(
                    "provider unavailable; retrying",
                    extra=self._fields(event, attempt=tries.failures, status=exc.status_code),
                )
                return _Retry.UNAVAILABLE
            message = domain.unavailable_message(provider, tries.failures, tries.last_status)
            await self.sink.publish(
                self._unhealthy(
                    event, "provider_unavailable", message, status=tries.last_status, code=exc.code
                )
            )
            return Outcome.PROVIDER_UNAVAILABLE
        except CredentialRevokedError as exc:
            self._called(provider, CallResult.REVOKED, started)
            gate.answered()
            message = domain.revoked_message(provider, exc.status_code, exc.code)
            await self.sink.publish(
                self._unhealthy(event, "revoked", message, status=exc.status_code, code=exc.code)
            )
            self.settled.settle(event.connection_id, event.credential_version)
            return Outcome.REVOKED
        except ProviderRejectedError as exc:
            self._called(provider, CallResult.REJECTED, started)
            gate.answered()
            message = domain.misconfigured_message(provider, exc.status_code, exc.code)
            await self.sink.publish(
                self._unhealthy(
                    event, "misconfigured", message, status=exc.status_code, code=exc.code
                )
            )
            return Outcome.MISCONFIGURED
        self._called(provider, CallResult.OK, started)
        gate.answered()
        await self.sink.publish(
            TokenRefreshedV1(
                organization_id=event.organization_id,
                provider=event.provider,
                connection_id=event.connection_id,
                credential_version=event.credential_version + 1,
                credentials=renewal.credentials,
                token_expires_at=renewal.token_expires_at,
                scopes=renewal.scopes,
            )
        )
        self.settled.settle(event.connection_id, event.credential_version)
        return Outcome.REFRESHED

    # --- critical sections -----------------------------------------------------------------------

    async def _critically(
        self, connection_id: uuid.UUID, work: Coroutine[Any, Any, Any], release: Release
    ) -> Any:
        """Run ``work`` as its own task that cancelling the caller does not stop."""
        task = asyncio.create_task(work)
        self._critical.add(task)
        self._critical_of[connection_id] = task

        def finished(done: asyncio.Task[Any]) -> None:
            self._critical.discard(done)
            if self._critical_of.get(connection_id) is done:
                del self._critical_of[connection_id]
            release()
            if not done.cancelled() and done.exception() is not None:
                log.debug(
                    "critical section failed",
                    extra={"error": type(done.exception()).__name__},
                )

        task.add_done_callback(finished)
        return await asyncio.shield(task)

    def _release_after_critical(self, connection_id: uuid.UUID, release: Release) -> None:
        """Free the connection's lock, but not before a call in progress for it has finished."""
        running = self._critical_of.get(connection_id)
        if running is not None and not running.done():
            running.add_done_callback(lambda _: release())
        else:
            release()

    # --- helpers -------------------------------------------------------------------------------

    def _resolve(self, event: TokenExpiringV1) -> tuple[Provider, AuthMode]:
        try:
            provider = self.catalog.get(event.provider)
        except KeyError:
            raise UnknownProviderError(
                event.provider, f"provider {event.provider!r} is not in the catalog"
            ) from None
        for mode in provider.auth_modes:
            if mode.type.value == event.auth_type:
                return provider, mode
        raise UnknownProviderError(
            provider.id, f"{provider.id} has no auth mode {event.auth_type!r} in the catalog"
        )

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
        log.log(level, "token.expiring handled", extra=self._fields(event, outcome=outcome.value))
        return outcome

    @staticmethod
    def _fields(event: TokenExpiringV1, **extra: Any) -> dict[str, Any]:
        return {
            "connection_id": str(event.connection_id),
            "provider": event.provider,
            "credential_version": event.credential_version,
            **extra,
        }
