"""One health check, from ``connection.check_due`` to a reported transition (or none)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import hub_catalog
from hub_catalog import AuthMode, Catalog, PlatformCredentials, Provider, tenant_values
from hub_contracts import (
    CheckOutcome,
    ConnectionCheckDueV1,
    ConnectionCheckedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Event,
)
from hub_keyring import Binding, KeyRing, KeyRingError
from hub_providers.errors import ProviderError
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from health_monitor import domain
from health_monitor.domain import Outcome, Plan, Previous, Transition, Verdict
from health_monitor.errors import (
    PermanentCheckError,
    UndecryptableCredentialError,
    UnknownAuthModeError,
    UnknownProviderError,
)
from health_monitor.metrics import Metrics
from health_monitor.service.memory import ReportMemory
from health_monitor.service.ports import Prober, Publisher
from health_monitor.service.slots import CallSlots

log = logging.getLogger(__name__)

DETECTED_BY = "health-monitor"


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
    checked: ConnectionCheckedV1 | None = None


class HealthMonitor:
    def __init__(
        self,
        catalog: Catalog,
        keyring: KeyRing,
        platform_credentials: PlatformCredentials,
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
        self.platform_credentials = platform_credentials
        self.prober = prober
        self.publisher = publisher
        self.policy = policy or Policy()
        self.metrics = metrics or Metrics()
        self.slots = CallSlots(self.policy.max_concurrency, self.policy.per_provider_concurrency)
        self.memory = ReportMemory(self.policy.memory_size, self.policy.memory_grace_s)
        self.tracer_provider = tracer_provider
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
            try:
                provider, mode = self._resolve(event)
                verdict = await self._verdict(event, provider, mode)
            except PermanentCheckError:
                # The check could not be made: still reported, so "Sync now" ends visibly.
                await self.publisher.publish(_checked(event, "error"))
                raise
            previous = self.memory.previous(event)
            kind = domain.transition(previous, verdict)
            reported = await self._report(event, provider, mode, verdict, kind)
            checked = _checked(event, verdict.outcome.value, verdict)
            await self.publisher.publish(checked)
            span.set_attribute("hub.outcome", verdict.outcome.value)
            if kind is not None:
                span.set_attribute("hub.reported", kind.value)
        report = Report(verdict, previous, kind, reported, checked)
        self._finished(event, provider, report, time.monotonic() - started)
        return report

    def _resolve(self, event: ConnectionCheckDueV1) -> tuple[Provider, AuthMode]:
        """The connection's provider and auth mode in the catalog."""
        try:
            provider = self.catalog.tenant_provider(event.provider)
        except hub_catalog.UnknownProviderError:
            raise UnknownProviderError(f"no provider {event.provider!r} in the catalog") from None
        except hub_catalog.PlatformProviderError as exc:
            raise UnknownProviderError(
                f"{exc.provider} is a platform provider, not a connection"
            ) from None
        mode = provider.auth_mode(event.auth_type)
        if mode is None:
            raise UnknownAuthModeError(f"{provider.id} has no auth mode {event.auth_type!r}")
        return provider, mode

    async def _verdict(
        self, event: ConnectionCheckDueV1, provider: Provider, mode: AuthMode
    ) -> Verdict:
        """Shape first, then the proof the catalog names, if it can be made."""
        credentials = self._decrypt(event)
        bad = domain.bad_value(mode, credentials)
        if bad is not None:
            return Verdict(Outcome.MALFORMED, field=bad, attempts=0)
        plan = domain.plan(provider, mode)
        if plan == Plan.SHAPE:
            # best_effort (the catalog's checks.note says why): well-shaped values prove nothing.
            return Verdict(Outcome.UNVERIFIABLE, attempts=0)
        if self._platform_credentials_missing(provider, mode, plan):
            return Verdict(Outcome.UNVERIFIABLE, code="platform_credentials_missing", attempts=0)
        values = {
            **self.platform_credentials.values(provider),
            **tenant_values(provider, event.metadata),
            **credentials,
        }
        return await self._prove(provider, mode, plan, values)

    async def check_platform_account(self, provider: Provider) -> Verdict | None:
        """The platform's shared account at ``provider`` (its default mode), proved like a
        brand's credential; ``None`` when that account is not configured."""
        shared = self.platform_credentials.shared(provider)
        if shared is None:
            return None
        mode = provider.auth_modes[0]
        bad = domain.bad_value(mode, shared)
        if bad is not None:
            return Verdict(Outcome.MALFORMED, field=bad, attempts=0)
        plan = domain.plan(provider, mode)
        if plan == Plan.SHAPE:
            return Verdict(Outcome.UNVERIFIABLE, attempts=0)
        return await self._prove(
            provider, mode, plan, {**self.platform_credentials.values(provider), **shared}
        )

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

    def _platform_credentials_missing(self, provider: Provider, mode: AuthMode, plan: Plan) -> bool:
        """The operator's problem, never the brand's: logged, and the check proves nothing."""
        names = domain.platform_names(provider, mode, plan)
        needed = {c.env for c in provider.platform_credentials if c.name in names}
        missing = sorted(needed & set(self.platform_credentials.missing(provider)))
        if missing:
            log.error(
                "platform credentials missing: cannot check",
                extra={"provider": provider.id, "missing": missing},
            )
        return bool(missing)

    async def _prove(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> Verdict:
        """Up to ``policy.attempts`` calls while the outcome is transient, with backoff."""
        attempt = 0
        while True:
            attempt += 1
            failure = await self._call(provider, mode, plan, values)
            verdict = Verdict.of(failure, attempts=attempt)
            if verdict.outcome not in domain.TRANSIENT or attempt >= self.policy.attempts:
                return verdict
            delay = self._backoff(attempt, verdict.outcome, domain.retry_after(failure))
            if delay is None:
                return verdict
            await self.sleep(delay)

    async def _call(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> ProviderError | None:
        """One provider call in a slot; the failure, or ``None`` when it proved the credential."""
        async with self.slots.slot(provider.id):
            self.metrics.in_flight += 1
            try:
                await self.prober.probe(provider, mode, plan, values)
            except ProviderError as failure:
                return failure
            finally:
                self.metrics.in_flight -= 1
        return None

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
        """Publish the transition, remember it, count it."""
        if kind is None:
            return None
        reported, after = _transition_event(event, provider, mode, verdict, kind)
        await self.publisher.publish(reported)
        self.memory.remember(event, after, reported.occurred_at)
        self.metrics.reported(reported.event_type, verdict.reason or "recovered")
        return reported

    def _finished(
        self, event: ConnectionCheckDueV1, provider: Provider, report: Report, seconds: float
    ) -> None:
        verdict = report.verdict
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
                "status_before": report.previous.status,
                "reported": report.transition.value if report.transition else None,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


def _checked(
    event: ConnectionCheckDueV1, outcome: CheckOutcome, verdict: Verdict | None = None
) -> ConnectionCheckedV1:
    """What one check found, answering ``event`` (its ``event_id`` is the check id)."""
    return ConnectionCheckedV1(
        organization_id=event.organization_id,
        provider=event.provider,
        connection_id=event.connection_id,
        credential_version=event.credential_version,
        check_id=event.event_id,
        trigger=event.trigger,
        outcome=outcome,
        checked_at=datetime.now(UTC),
        detected_by=DETECTED_BY,
        provider_status=verdict.status_code if verdict else None,
        provider_code=verdict.code if verdict else None,
    )


def _transition_event(
    event: ConnectionCheckDueV1,
    provider: Provider,
    mode: AuthMode,
    verdict: Verdict,
    kind: Transition,
) -> tuple[Event, Previous]:
    """The event that reports ``kind``, and the state it leaves the connection in."""
    about: dict[str, Any] = {
        "organization_id": event.organization_id,
        "provider": event.provider,
        "connection_id": event.connection_id,
        "credential_version": event.credential_version,
        "detected_by": DETECTED_BY,
    }
    if kind == Transition.RECOVERED:
        return ConnectionRecoveredV1(**about), Previous("active")
    assert verdict.reason is not None
    unhealthy = ConnectionUnhealthyV1(
        **about,
        reason=verdict.reason,
        message=domain.message(provider, mode, verdict),
        provider_status=verdict.status_code,
        provider_code=verdict.code,
    )
    return unhealthy, Previous.after_unhealthy(verdict.reason)
