"""The check's orchestration: retries, memory, limits, failures that cannot be checked, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from health_monitor.adapters.prober import ProviderProber
from health_monitor.domain import Outcome, Plan, Transition
from health_monitor.errors import (
    UndecryptableCredentialError,
    UnknownAuthModeError,
    UnknownProviderError,
)
from health_monitor.service import HealthMonitor, Policy
from hub_catalog import AuthMode, Catalog, PlatformCredentials, Provider
from hub_contracts import ConnectionUnhealthyV1
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from hub_providers.errors import CredentialRevokedError, ProviderError, ProviderUnavailableError
from hub_runtime.logging import JsonFormatter

from .conftest import CATALOG, Connect, MonitorFactory, Recorder, Sleeps, due, fault


def _down(status: int | None = None) -> ProviderError:
    return ProviderUnavailableError("slack", "Slack did not answer", status_code=status)


def _revoked() -> ProviderError:
    return CredentialRevokedError("slack", "Slack revoked the token", status_code=401)


class Scripted:
    """A prober failing (or succeeding: ``None``) from a script, recording concurrency."""

    def __init__(self, *failures: ProviderError | None, delay: float = 0.0) -> None:
        self.failures = list(failures)
        self.delay = delay
        self.calls = 0
        self.running: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0

    async def probe(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> None:
        self.calls += 1
        self.running[provider.id] += 1
        self.peak[provider.id] = max(self.peak[provider.id], self.running[provider.id])
        self.peak_total = max(self.peak_total, sum(self.running.values()))
        try:
            await asyncio.sleep(self.delay)
            failure = self.failures.pop(0) if self.failures else None
            if failure is not None:
                raise failure
        finally:
            self.running[provider.id] -= 1


def _monitor(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    prober: Any,
    recorder: Recorder,
    sleeps: Sleeps,
    **policy: Any,
) -> HealthMonitor:
    return HealthMonitor(
        catalog, keyring, platform, prober, recorder, policy=Policy(**policy), sleep=sleeps
    )


SLACK = CATALOG.get("slack")
TOKEN = {"access_token": "xoxb-canary-7f3a9c"}


async def test_one_blip_never_alarms(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(_down(502), _down(), None)
    monitor = _monitor(catalog, keyring, platform, prober, recorder, sleeps, attempts=3)

    report = await monitor.check(due(keyring, SLACK, TOKEN))

    assert report.verdict.outcome == Outcome.HEALTHY
    assert report.verdict.attempts == 3
    assert recorder.events == []
    assert len(sleeps.delays) == 2
    assert sleeps.delays[1] > sleeps.delays[0] / 3  # doubling backoff, jittered


async def test_every_check_reports_what_it_found_healthy_too(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(None, _revoked())
    monitor = _monitor(catalog, keyring, platform, prober, recorder, sleeps, attempts=1)
    healthy, revoked = due(keyring, SLACK, TOKEN), due(keyring, SLACK, TOKEN)

    await monitor.check(healthy)
    await monitor.check(revoked)

    assert [(c.check_id, c.outcome) for c in recorder.checked] == [
        (healthy.event_id, "healthy"),
        (revoked.event_id, "revoked"),
    ]
    assert recorder.checked[1].provider_status == 401
    assert all(c.credential_version == healthy.credential_version for c in recorder.checked)
    assert [e.event_type for e in recorder.events] == ["connection.unhealthy"]


async def test_a_check_that_cannot_be_made_still_reports_an_error(
    monitor: HealthMonitor, keyring: KeyRing, recorder: Recorder
) -> None:
    other = KeyRing([("test1", os.urandom(32))])
    event = due(other, SLACK, TOKEN)
    with pytest.raises(UndecryptableCredentialError):
        await monitor.check(event)
    assert [(c.check_id, c.outcome) for c in recorder.checked] == [(event.event_id, "error")]


async def test_n_is_a_setting(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(*[_down(503) for _ in range(5)])
    monitor = _monitor(catalog, keyring, platform, prober, recorder, sleeps, attempts=5)

    report = await monitor.check(due(keyring, SLACK, TOKEN))

    assert report.verdict.attempts == 5
    assert report.transition == Transition.UNHEALTHY
    assert prober.calls == 5


async def test_a_redelivered_or_overlapping_check_reports_a_change_once(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(*[_revoked() for _ in range(3)])
    monitor = _monitor(catalog, keyring, platform, prober, recorder, sleeps)
    event = due(keyring, SLACK, TOKEN, status="active")
    sync_now = event.model_copy(
        update={"event_id": uuid.uuid4(), "trigger": "sync_now", "occurred_at": event.occurred_at}
    )

    first = await monitor.check(event)
    redelivered = await monitor.check(event)
    overlapping = await monitor.check(sync_now)

    assert first.transition == Transition.UNHEALTHY
    assert redelivered.transition is None
    assert overlapping.transition is None
    assert len(recorder.events) == 1


async def test_the_carried_status_decides_once_the_store_had_time_to_apply_the_report(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(_revoked(), None)
    monitor = _monitor(catalog, keyring, platform, prober, recorder, sleeps, memory_grace_s=30)
    event = due(keyring, SLACK, TOKEN, status="active")
    await monitor.check(event)
    later = event.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "status": "expired",
            "last_error_code": "revoked",
            "occurred_at": event.occurred_at + timedelta(minutes=5),
        }
    )

    report = await monitor.check(later)

    assert report.transition == Transition.RECOVERED
    assert [e.event_type for e in recorder.events] == [
        "connection.unhealthy",
        "connection.recovered",
    ]


async def test_a_new_credential_version_is_judged_on_its_own(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(_revoked(), _revoked())
    monitor = _monitor(catalog, keyring, platform, prober, recorder, sleeps)
    event = due(keyring, SLACK, TOKEN, status="active")
    await monitor.check(event)
    reconnected = event.model_copy(update={"event_id": uuid.uuid4(), "credential_version": 2})

    report = await monitor.check(reconnected)

    assert report.transition == Transition.UNHEALTHY
    assert len(recorder.events) == 2


async def test_concurrency_is_bounded_overall_and_per_provider(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    prober = Scripted(delay=0.01)
    monitor = _monitor(
        catalog,
        keyring,
        platform,
        prober,
        recorder,
        sleeps,
        max_concurrency=5,
        per_provider_concurrency=2,
    )
    providers = ["slack", "resend", "retell", "lob", "fairing"]
    events = []
    for provider_id in providers:
        provider = catalog.get(provider_id)
        values = (
            TOKEN
            if provider.auth.oauth
            else {field.name: "valid-value-123" for field in provider.auth.fields}
        )
        events += [due(keyring, provider, values) for _ in range(10)]

    await asyncio.gather(*(monitor.check(e) for e in events))

    assert prober.calls == 50
    assert max(prober.peak.values()) == 2
    assert prober.peak_total == 5


async def test_provider_unknown_to_the_catalog_cannot_be_checked(
    monitor: HealthMonitor, keyring: KeyRing
) -> None:
    event = due(keyring, SLACK, TOKEN).model_copy(update={"provider": "myspace"})
    with pytest.raises(UnknownProviderError):
        await monitor.check(event)
    platform_one = due(keyring, SLACK, TOKEN).model_copy(update={"provider": "sentry"})
    with pytest.raises(UnknownProviderError):
        await monitor.check(platform_one)


async def test_auth_mode_unknown_to_the_provider_cannot_be_checked(
    monitor: HealthMonitor, keyring: KeyRing
) -> None:
    event = due(keyring, SLACK, TOKEN).model_copy(update={"auth_type": "api_key"})
    with pytest.raises(UnknownAuthModeError):
        await monitor.check(event)


async def test_a_ciphertext_no_key_opens_fails_closed(
    monitor: HealthMonitor, keyring: KeyRing
) -> None:
    other = KeyRing([("test1", os.urandom(32))])
    with pytest.raises(UndecryptableCredentialError, match="access_token"):
        await monitor.check(due(other, SLACK, TOKEN))
    moved = due(keyring, SLACK, TOKEN).model_copy(update={"organization_id": uuid.uuid4()})
    with pytest.raises(UndecryptableCredentialError):
        await monitor.check(moved)


async def test_missing_platform_credentials_are_the_operators_problem_not_the_brands(
    catalog: Catalog, keyring: KeyRing, recorder: Recorder, sleeps: Sleeps
) -> None:
    prober = Scripted()
    monitor = _monitor(catalog, keyring, PlatformCredentials({}), prober, recorder, sleeps)
    tiktok = catalog.get("tiktok_ads")

    report = await monitor.check(due(keyring, tiktok, {"access_token": "t" * 20}, status="error"))

    assert report.verdict.outcome == Outcome.UNVERIFIABLE
    assert report.transition is None
    assert prober.calls == 0


async def test_shopify_is_checked_at_the_connections_own_shop(
    connected: Connect, monitor: HealthMonitor, keyring: KeyRing, recorder: Recorder
) -> None:
    shopify, values = await connected("shopify")
    elsewhere = due(keyring, shopify, values).model_copy(update={"metadata": {"shop": "other"}})
    outside = due(keyring, shopify, values).model_copy(
        update={"metadata": {"shop": "acme.evil.example"}}
    )

    home = await monitor.check(due(keyring, shopify, values))
    foreign = await monitor.check(elsewhere)
    refused = await monitor.check(outside)

    assert home.verdict.outcome == Outcome.HEALTHY
    assert foreign.verdict.outcome == Outcome.REVOKED  # the sandbox binds tokens to their shop
    assert refused.verdict.outcome == Outcome.MISCONFIGURED
    assert refused.verdict.code == "destination_refused"


async def test_a_revoked_api_key_and_a_revoked_token_are_told_apart_from_outages(
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
) -> None:
    slack, token = await connected("slack")
    resend, key = await connected("resend")
    await sandbox.post("/_sandbox/slack/revoke", json={"token": token["access_token"]})
    await sandbox.post("/_sandbox/resend/revoke", json={"token": key["api_key"]})

    revoked_token = await monitor.check(due(keyring, slack, token))
    revoked_key = await monitor.check(due(keyring, resend, key))

    assert revoked_token.verdict.outcome == Outcome.REVOKED
    assert revoked_token.verdict.code == "invalid_auth"  # Slack's HTTP 200 ok:false, as recorded
    assert revoked_key.verdict.outcome == Outcome.REVOKED
    assert [e.reason for e in recorder.events if isinstance(e, ConnectionUnhealthyV1)] == [
        "revoked",
        "revoked",
    ]


async def test_a_slow_provider_counts_as_an_outage(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    sandbox: httpx.AsyncClient,
    recorder: Recorder,
    sleeps: Sleeps,
    connected: Connect,
) -> None:
    retell, key = await connected("retell")
    await fault(sandbox, "retell", "slow", delay=1.0)
    from hub_providers import policy_for

    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(host)

    hasty = OutboundHttp(
        catalog,
        policy_for(catalog, total_timeout_s=0.05),
        transport=sandbox._transport,
        resolver=no_dns,
    )
    monitor = _monitor(catalog, keyring, platform, ProviderProber(hasty), recorder, sleeps)

    report = await monitor.check(due(keyring, retell, key))

    assert report.verdict.outcome == Outcome.UNAVAILABLE
    assert report.verdict.status_code is None
    assert "(no answer)" in recorder.events[0].message  # type: ignore[attr-defined]


async def test_no_secret_reaches_an_event_a_log_line_or_a_message(
    make_monitor: MonitorFactory,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = make_monitor()
    canary = "canary-secret-7f3a9c-key"
    await sandbox.post("/_sandbox/resend/revoke", json={"token": canary})
    caplog.set_level(logging.DEBUG)
    formatter = JsonFormatter("health-monitor")

    await monitor.check(due(keyring, CATALOG.get("resend"), {"api_key": canary}))
    await fault(sandbox, "resend", "unavailable")
    await monitor.check(due(keyring, CATALOG.get("resend"), {"api_key": canary}))

    lines = [formatter.format(record) for record in caplog.records]
    assert any(json.loads(line).get("outcome") == "revoked" for line in lines)
    assert [e.reason for e in recorder.events] == ["revoked", "provider_unavailable"]
    outputs = [
        *lines,
        *(e.model_dump_json() for e in recorder.events),
        monitor.metrics.render().decode(),
    ]
    assert not [text for text in outputs if canary in text]
