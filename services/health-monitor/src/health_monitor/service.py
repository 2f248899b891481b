"""One health check, from ``connection.check_due`` to a reported transition (or none).

For each event: find the provider and auth mode in the catalog, decrypt the credential with the
key ring, check the stored values' shape, then prove the credential the way the catalog says
(``request``: the cheapest authenticated call; ``token_mint``: mint a token; ``best_effort``: no
call at all), classify the answer (``domain``), retry what is transient within this run (N tries
with jittered backoff; a ``Retry-After`` longer than ``retry_max_delay_s`` ends the run without a
verdict), and report a transition against the status the check was due in.

Concurrency: every provider call holds a slot of the global limit and one of its provider's;
slots are released during backoff, so one provider's outage never holds the others up.

Memory (lost on restart, on purpose small): per connection, our latest report. A check due
within ``memory_grace_s`` after that report may carry the status from before it was applied (a
redelivery, or a sweep and a Sync now in quick succession), so the remembered one wins: each
change is reported once. After a restart the carried status alone decides (worst case: one
repeated report, applied idempotently by the store and de-duplicated by the notifier).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from hub_catalog import AuthMode, Catalog, Provider, Scope
from hub_contracts import (
    ConnectionCheckDueV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Event,
)
from hub_keyring import Binding, KeyRing, KeyRingError
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from health_monitor import domain
from health_monitor.domain import Outcome, Plan, Previous, Reply, Transition, Verdict
from health_monitor.errors import (
    UndecryptableCredentialError,
    UnknownAuthModeError,
    UnknownProviderError,
)
from health_monitor.metrics import Metrics

log = logging.getLogger(__name__)

DETECTED_BY = "health-monitor"


class Prober(Protocol):
    """Sends the catalog's proving request (or mint) and reads the answer."""

    async def probe(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> Reply: ...


class Publisher(Protocol):
    async def publish(self, event: Event) -> None: ...


class Platform(Protocol):
    """The operator's platform credentials (TikTok's app id and secret,
    Google Ads' developer token)."""

    def missing(self, provider: Provider) -> list[str]: ...

    def values(self, provider: Provider) -> dict[str, str]: ...


@dataclass(frozen=True)
class Policy:
    max_concurrency: int = 64
    per_provider_concurrency: int = 8
    attempts: int = 3
    retry_base_delay_s: float = 0.5
    retry_max_delay_s: float = 5.0
    memory_size: int = 100_000
    memory_grace_s: float = 30.0


@dataclass(frozen=True)
class Report:
    """What one check found and reported (for tests, logs and metrics)."""

    verdict: Verdict
    previous: Previous
    transition: Transition | None
    event: Event | None


class Limits:
    """Bounded concurrency overall and per provider."""

    def __init__(self, overall: int, per_provider: int) -> None:
        self._overall = asyncio.Semaphore(overall)
        self._per_provider = per_provider
        self._providers: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, provider: str) -> AsyncIterator[None]:
        own = self._providers.get(provider)
        if own is None:
            own = self._providers[provider] = asyncio.Semaphore(self._per_provider)
        async with own, self._overall:  # the provider's first: a busy provider holds no global slot
            yield


@dataclass(frozen=True)
class _Remembered:
    credential_version: int
    previous: Previous
    at: datetime


class Memory:
    """Our latest report per connection (bounded, least recently used out)."""

    def __init__(self, size: int, grace_s: float) -> None:
        self._size = size
        self._grace = timedelta(seconds=grace_s)
        self._entries: OrderedDict[uuid.UUID, _Remembered] = OrderedDict()

    def previous(self, event: ConnectionCheckDueV1) -> Previous:
        carried = Previous(event.status, event.last_error_code)
        entry = self._entries.get(event.connection_id)
        if entry is None or entry.credential_version != event.credential_version:
            return carried
        if event.occurred_at < entry.at + self._grace:
            return entry.previous
        return carried

    def remember(self, event: ConnectionCheckDueV1, previous: Previous, at: datetime) -> None:
        if self._size == 0:
            return
        self._entries[event.connection_id] = _Remembered(event.credential_version, previous, at)
        self._entries.move_to_end(event.connection_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class HealthMonitor:
    def __init__(
        self,
        catalog: Catalog,
        keyring: KeyRing,
        platform: Platform,
        prober: Prober,
        publisher: Publisher,
        *,
        policy: Policy | None = None,
        metrics: Metrics | None = None,
        tracer_provider: TracerProvider | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.catalog = catalog
        self.keyring = keyring
        self.platform = platform
        self.prober = prober
        self.publisher = publisher
        self.policy = policy or Policy()
        self.metrics = metrics or Metrics()
        self.limits = Limits(self.policy.max_concurrency, self.policy.per_provider_concurrency)
        self.memory = Memory(self.policy.memory_size, self.policy.memory_grace_s)
        self.tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self.sleep = sleep

    async def check(self, event: ConnectionCheckDueV1) -> Report:
        started = time.monotonic()
        with self.tracer.start_as_current_span(
            "health check",
            attributes={
                "hub.connection_id": str(event.connection_id),
                "hub.organization_id": str(event.organization_id),
                "hub.provider": event.provider,
                "hub.trigger": event.trigger,
            },
        ) as span:
            provider, mode = self._resolve(event)
            verdict = await self._verdict(event, provider, mode)
            previous = self.memory.previous(event)
            kind = domain.transition(previous, verdict)
            reported = await self._report(event, provider, mode, verdict, kind)
            span.set_attribute("hub.outcome", verdict.outcome.value)
            if kind is not None:
                span.set_attribute("hub.reported", kind.value)
        seconds = time.monotonic() - started
        self.metrics.checked(provider.id, verdict.outcome.value, event.trigger, seconds)
        log.info(
            "health check finished",
            extra={
                "connection_id": str(event.connection_id),
                "organization_id": str(event.organization_id),
                "provider": provider.id,
                "trigger": event.trigger,
                "outcome": verdict.outcome.value,
                "provider_status": verdict.status_code,
                "provider_code": verdict.code,
                "attempts": verdict.attempts,
                "status_before": previous.status,
                "reported": kind.value if kind else None,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
        return Report(verdict, previous, kind, reported)

    def _resolve(self, event: ConnectionCheckDueV1) -> tuple[Provider, AuthMode]:
        try:
            provider = self.catalog.get(event.provider)
        except KeyError:
            raise UnknownProviderError(f"no provider {event.provider!r} in the catalog") from None
        if provider.scope != Scope.TENANT:
            raise UnknownProviderError(f"{provider.id} is a platform provider, not a connection")
        try:
            return provider, domain.auth_mode(provider, event.auth_type)
        except (KeyError, ValueError):
            raise UnknownAuthModeError(
                f"{provider.id} has no auth mode {event.auth_type!r}"
            ) from None

    def _decrypt(self, event: ConnectionCheckDueV1) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, sealed in event.credentials.items():
            binding = Binding(event.organization_id, event.provider, name)
            try:
                values[name] = self.keyring.decrypt(sealed, binding).get_secret_value()
            except KeyRingError as exc:
                raise UndecryptableCredentialError(
                    f"{event.provider} {name} of connection {event.connection_id} does not "
                    f"decrypt ({type(exc).__name__})"
                ) from None
        return values

    async def _verdict(
        self, event: ConnectionCheckDueV1, provider: Provider, mode: AuthMode
    ) -> Verdict:
        credentials = self._decrypt(event)
        bad = domain.bad_value(mode, credentials)
        if bad is not None:
            return Verdict(Outcome.MALFORMED, field=bad, attempts=0)
        plan = domain.plan(provider, mode)
        if plan == Plan.SHAPE:
            # best_effort (the catalog's checks.note says why): well-shaped values prove nothing.
            return Verdict(Outcome.UNVERIFIABLE, attempts=0)
        names = domain.platform_names(provider, mode, plan)
        needed = {c.env for c in provider.platform_credentials if c.name in names}
        missing = sorted(needed & set(self.platform.missing(provider)))
        if missing:
            log.error(
                "platform credentials missing: cannot check",
                extra={"provider": provider.id, "missing": missing},
            )
            return Verdict(Outcome.UNVERIFIABLE, code="platform_credentials_missing", attempts=0)
        values = {
            **self.platform.values(provider),
            **domain.tenant_values(provider, event.metadata),
            **credentials,
        }
        return await self._probe(provider, mode, plan, values)

    async def _probe(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> Verdict:
        attempt = 0
        while True:
            attempt += 1
            async with self.limits.slot(provider.id):
                self.metrics.in_flight += 1
                try:
                    reply = await self.prober.probe(provider, mode, plan, values)
                finally:
                    self.metrics.in_flight -= 1
            outcome = domain.outcome_of(reply)
            verdict = Verdict(outcome, reply.status_code, reply.code, attempts=attempt)
            if outcome not in domain.TRANSIENT or attempt >= self.policy.attempts:
                return verdict
            delay = self._backoff(attempt, outcome, reply.retry_after_s)
            if delay is None:
                return verdict
            await self.sleep(delay)

    def _backoff(self, attempt: int, outcome: Outcome, retry_after_s: float | None) -> float | None:
        """Seconds before the next try; ``None`` when a rate limit outlasts this run."""
        cap = self.policy.retry_max_delay_s
        if outcome == Outcome.RATE_LIMITED and retry_after_s is not None and retry_after_s > cap:
            return None
        backoff = self.policy.retry_base_delay_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
        return float(min(max(backoff, retry_after_s or 0.0), cap))

    async def _report(
        self,
        event: ConnectionCheckDueV1,
        provider: Provider,
        mode: AuthMode,
        verdict: Verdict,
        kind: Transition | None,
    ) -> Event | None:
        if kind is None:
            return None
        reported: Event
        if kind == Transition.RECOVERED:
            reported = ConnectionRecoveredV1(
                organization_id=event.organization_id,
                provider=event.provider,
                connection_id=event.connection_id,
                credential_version=event.credential_version,
                detected_by=DETECTED_BY,
            )
            after, reason = Previous("active"), "recovered"
        else:
            assert verdict.reason is not None
            reported = ConnectionUnhealthyV1(
                organization_id=event.organization_id,
                provider=event.provider,
                connection_id=event.connection_id,
                credential_version=event.credential_version,
                detected_by=DETECTED_BY,
                reason=verdict.reason,
                message=domain.message(provider, mode, verdict),
                provider_status=verdict.status_code,
                provider_code=verdict.code,
            )
            after, reason = Previous.after_unhealthy(verdict.reason), verdict.reason
        await self.publisher.publish(reported)
        self.memory.remember(event, after, reported.occurred_at)
        self.metrics.reported(reported.event_type, reason)
        return reported
