"""The platform's shared accounts are checked on their own, and only the operators hear of one
that fails: a metric their alert reads and an error log, never a brand's event."""

from __future__ import annotations

import logging

import httpx
import pytest
from health_monitor.adapters.prober import ProviderProber
from health_monitor.metrics import Metrics
from health_monitor.service import HealthMonitor, PlatformAccounts, Policy
from hub_catalog import Catalog, PlatformCredentials
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from provider_sandbox import example_value, platform_environment

from .conftest import Recorder, Sleeps, fault


def _healthy(metrics: Metrics) -> dict[str, float]:
    return {
        sample.labels["provider"]: sample.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        if family.name == "health_monitor_platform_account_healthy"
        for sample in family.samples
    }


@pytest.fixture
def shared_keys(catalog: Catalog) -> dict[str, str]:
    """A key the sandbox accepts for every shared account of the Resend and Retell kind."""
    return {
        "RESEND_API_KEY": example_value(catalog.get("resend").auth.fields[0]),
        "RETELL_API_KEY": example_value(catalog.get("retell").auth.fields[0]),
    }


@pytest.fixture
def accounts(
    catalog: Catalog,
    keyring: KeyRing,
    outbound: OutboundHttp,
    recorder: Recorder,
    sleeps: Sleeps,
    shared_keys: dict[str, str],
) -> PlatformAccounts:
    platform = PlatformCredentials({**platform_environment(catalog), **shared_keys})
    metrics = Metrics()
    monitor = HealthMonitor(
        catalog,
        keyring,
        platform,
        ProviderProber(outbound),
        recorder,
        policy=Policy(attempts=2),
        metrics=metrics,
        sleep=sleeps,
    )
    return PlatformAccounts(catalog, monitor, metrics)


async def test_a_revoked_platform_account_alerts_the_operators_and_no_brand(
    accounts: PlatformAccounts,
    sandbox: httpx.AsyncClient,
    recorder: Recorder,
    shared_keys: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert {p.id for p in accounts.configured} >= {"resend", "retell"}

    await accounts.tick()
    assert _healthy(accounts.metrics)["resend"] == 1
    assert _healthy(accounts.metrics)["retell"] == 1

    await sandbox.post("/_sandbox/resend/revoke", json={"token": shared_keys["RESEND_API_KEY"]})
    with caplog.at_level(logging.ERROR):
        await accounts.tick()

    assert _healthy(accounts.metrics)["resend"] == 0
    assert _healthy(accounts.metrics)["retell"] == 1
    assert recorder.events == []  # no brand is told: the account is the operators'
    (line,) = [r for r in caplog.records if r.getMessage() == "platform account unhealthy"]
    assert line.provider == "resend"  # type: ignore[attr-defined]
    assert "RESEND_API_KEY" in line.action  # type: ignore[attr-defined]
    assert shared_keys["RESEND_API_KEY"] not in caplog.text


async def test_an_outage_marks_the_account_down_only_after_every_try_and_it_recovers(
    accounts: PlatformAccounts, sandbox: httpx.AsyncClient
) -> None:
    await fault(sandbox, "retell", "unavailable")
    await accounts.tick()
    assert _healthy(accounts.metrics)["retell"] == 0
    assert accounts.healthy["retell"] is False

    await fault(sandbox, "retell", "ok")
    await accounts.tick()
    assert _healthy(accounts.metrics)["retell"] == 1


async def test_an_unconfigured_shared_account_is_not_checked(
    catalog: Catalog,
    keyring: KeyRing,
    outbound: OutboundHttp,
    recorder: Recorder,
    sleeps: Sleeps,
) -> None:
    platform = PlatformCredentials(platform_environment(catalog))
    monitor = HealthMonitor(catalog, keyring, platform, ProviderProber(outbound), recorder)
    accounts = PlatformAccounts(catalog, monitor, monitor.metrics)
    configured = {p.id for p in accounts.configured}
    await accounts.tick()
    assert set(_healthy(accounts.metrics)) == configured
    assert "resend" not in configured
