"""Every tenant-scope catalog provider against the sandbox: healthy, revoked, rate limited and
outage, each classified and reported right (the catalog grows, so does this test)."""

from __future__ import annotations

import httpx
import pytest
from health_monitor.domain import Outcome, Transition
from health_monitor.service import HealthMonitor
from hub_catalog import HealthCheckMode, Scope
from hub_contracts import ConnectionRecoveredV1, ConnectionUnhealthyV1
from hub_keyring import KeyRing
from provider_sandbox.recordings import load_recordings

from .conftest import BEST_EFFORT, CATALOG, PROVED, Connect, Recorder, Sleeps, calls, due, fault


def _endpoint(provider_id: str) -> str:
    mode = CATALOG.get(provider_id).checks.health_mode
    return "mint" if mode == HealthCheckMode.TOKEN_MINT else "health"


def test_every_tenant_provider_is_covered() -> None:
    tenant = {p.id for p in CATALOG.providers if p.scope == Scope.TENANT}
    assert set(PROVED) | set(BEST_EFFORT) == tenant
    assert {"ga4", "clarity"} <= set(BEST_EFFORT)
    assert {"yotpo", "paypal"} <= {p for p in PROVED if _endpoint(p) == "mint"}


@pytest.mark.parametrize("provider_id", PROVED)
async def test_healthy_connection_recovers_from_error_and_stays_quiet_when_active(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
) -> None:
    provider, values = await connected(provider_id)

    quiet = await monitor.check(due(keyring, provider, values, status="active"))
    back = await monitor.check(
        due(keyring, provider, values, status="error", last_error_code="provider_unavailable")
    )

    assert quiet.verdict.outcome == Outcome.HEALTHY
    assert quiet.transition is None
    assert back.transition == Transition.RECOVERED
    assert len(recorder.events) == 1
    recovered = recorder.events[0]
    assert isinstance(recovered, ConnectionRecoveredV1)
    assert recovered.detected_by == "health-monitor"
    assert (await calls(sandbox, provider_id))[_endpoint(provider_id)] == 2


@pytest.mark.parametrize("provider_id", PROVED)
async def test_revoked_credential_is_reported_once_with_the_next_step(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
) -> None:
    provider, values = await connected(provider_id)
    await fault(sandbox, provider_id, "revoked")

    first = await monitor.check(due(keyring, provider, values, status="active"))
    again = await monitor.check(
        due(keyring, provider, values, status="expired", last_error_code="revoked")
    )

    assert first.verdict.outcome == Outcome.REVOKED
    assert first.verdict.attempts == 1
    assert again.verdict.outcome == Outcome.REVOKED
    assert again.transition is None
    [unhealthy] = recorder.events
    assert isinstance(unhealthy, ConnectionUnhealthyV1)
    assert unhealthy.reason == "revoked"
    assert unhealthy.message.startswith(provider.name)
    assert "Settings → Integrations" in unhealthy.message
    assert unhealthy.provider_status == provider.errors.revoked[0].status[0]  # type: ignore[index]


@pytest.mark.parametrize("provider_id", PROVED)
async def test_rate_limited_is_retried_and_never_unhealthy(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
    sleeps: Sleeps,
) -> None:
    provider, values = await connected(provider_id)
    await fault(sandbox, provider_id, "rate_limited", retry_after=1)

    short = await monitor.check(due(keyring, provider, values, status="active"))
    await fault(sandbox, provider_id, "rate_limited", retry_after=3600)
    long = await monitor.check(due(keyring, provider, values, status="active"))

    assert short.verdict.outcome == Outcome.RATE_LIMITED
    assert short.verdict.attempts == monitor.policy.attempts
    assert long.verdict.outcome == Outcome.RATE_LIMITED
    n = monitor.policy.attempts
    limited = load_recordings()[provider_id].answers["rate_limited"]
    if limited.status == 429 or "retry-after" in {h.lower() for h in limited.headers}:
        # An hour's Retry-After is not waited for: the next due check tries again.
        assert long.verdict.attempts == 1
        assert len(sleeps.delays) == n - 1
    else:
        # A body-coded limit (Meta code 17, TikTok 40100) says nothing about when: backoff.
        assert long.verdict.attempts == n
    assert recorder.events == []
    assert max(sleeps.delays) <= monitor.policy.retry_max_delay_s


@pytest.mark.parametrize("provider_id", PROVED)
async def test_outage_is_unhealthy_only_after_n_consecutive_failures(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
) -> None:
    provider, values = await connected(provider_id)
    await fault(sandbox, provider_id, "unavailable")

    down = await monitor.check(due(keyring, provider, values, status="active"))
    still = await monitor.check(
        due(keyring, provider, values, status="error", last_error_code="provider_unavailable")
    )

    n = monitor.policy.attempts
    assert down.verdict.outcome == Outcome.UNAVAILABLE
    assert down.verdict.attempts == n
    assert (await calls(sandbox, provider_id))[_endpoint(provider_id)] == 2 * n
    assert still.transition is None
    [unhealthy] = recorder.events
    assert isinstance(unhealthy, ConnectionUnhealthyV1)
    assert unhealthy.reason == "provider_unavailable"
    assert unhealthy.provider_status == 503
    assert f"{n} times in a row" in unhealthy.message


@pytest.mark.parametrize("provider_id", PROVED)
async def test_outage_during_revocation_never_hides_nor_replaces_the_dead_credential(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
) -> None:
    provider, values = await connected(provider_id)
    await fault(sandbox, provider_id, "unavailable")

    report = await monitor.check(
        due(keyring, provider, values, status="expired", last_error_code="revoked")
    )

    assert report.verdict.outcome == Outcome.UNAVAILABLE
    assert report.transition is None
    assert recorder.events == []


@pytest.mark.parametrize("provider_id", BEST_EFFORT)
async def test_best_effort_provider_is_never_called_and_never_claimed_healthy(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
    sandbox: httpx.AsyncClient,
) -> None:
    provider, values = await connected(provider_id)
    assert provider.checks.note  # the catalog says why

    report = await monitor.check(
        due(keyring, provider, values, status="error", last_error_code="misconfigured")
    )

    assert report.verdict.outcome == Outcome.UNVERIFIABLE
    assert report.transition is None
    assert recorder.events == []
    assert await calls(sandbox, provider_id) == {}


@pytest.mark.parametrize("provider_id", BEST_EFFORT)
async def test_best_effort_provider_with_a_malformed_value_is_reported(
    provider_id: str,
    connected: Connect,
    monitor: HealthMonitor,
    keyring: KeyRing,
    recorder: Recorder,
) -> None:
    provider, values = await connected(provider_id)
    secret = next(f for f in provider.auth.fields if f.secret)
    values[secret.name] = "has space"

    report = await monitor.check(due(keyring, provider, values, status="active"))

    assert report.verdict.outcome == Outcome.MALFORMED
    [unhealthy] = recorder.events
    assert isinstance(unhealthy, ConnectionUnhealthyV1)
    assert unhealthy.reason == "invalid_credentials"
    assert unhealthy.message == (
        f"The stored {secret.label} for {provider.name} is missing or not in the expected "
        f"format — enter it again in Settings → Integrations → {provider.name}."
    )
