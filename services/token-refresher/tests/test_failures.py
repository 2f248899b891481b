"""Each failure class, driven by the sandbox's fault switches: revoked, unavailable (5xx and
timeouts), rate limited (429 with Retry-After, body-coded limits), refused, bad stored data."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from hub_catalog import Catalog, PlatformCredentials
from hub_contracts import ConnectionUnhealthyV1, TokenRefreshedV1
from hub_keyring import KeyRing
from hub_providers import OutboundHttp, TokenSet
from provider_sandbox import platform_environment
from pydantic import SecretStr
from token_refresher.adapters.token_source import ProviderTokens
from token_refresher.domain import Outcome
from token_refresher.errors import NotInCatalogError, UndecryptableError
from token_refresher.service import Refresher

from .conftest import (
    FakeClock,
    Recorder,
    RefresherFactory,
    calls,
    connect,
    expiring,
    fault,
    oauth_mode,
    refresh_calls,
)


async def _google(
    outbound: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient, ring: KeyRing, **kw: Any
) -> Any:
    tokens = await connect(outbound, catalog, sandbox, "google_ads")
    return expiring(ring, catalog.get("google_ads"), tokens=tokens, **kw)


# --- revoked: no retry, reconnect ----------------------------------------------------------------


async def test_refresh_marks_connection_revoked_when_invalid_grant(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    event = await _google(outbound, catalog, sandbox, ring)
    await fault(sandbox, "google_ads", "revoked")

    assert await refresher.handle(event) == Outcome.REVOKED
    # A redelivery is dropped: the provider is asked once, the brand told once.
    assert await refresher.handle(event) == Outcome.STALE

    [report] = recorder.events
    assert isinstance(report, ConnectionUnhealthyV1)
    assert report.reason == "revoked"
    assert report.provider_status == 400
    assert report.provider_code == "invalid_grant"
    assert report.message.endswith("Reconnect Google Ads in Settings → Integrations.")
    assert await refresh_calls(sandbox, "google_ads") == 1


async def test_slack_revoked_refresh_token_in_a_200_body_is_revoked(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    tokens = await connect(outbound, catalog, sandbox, "slack")
    await fault(sandbox, "slack", "invalid_grant")
    event = expiring(ring, catalog.get("slack"), tokens=tokens)

    assert await refresher.handle(event) == Outcome.REVOKED
    [report] = recorder.of(ConnectionUnhealthyV1)
    assert report.provider_status == 200
    assert report.provider_code == "invalid_refresh_token"
    assert await refresh_calls(sandbox, "slack") == 1


async def test_a_spent_rotating_refresh_token_reads_as_revoked(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    shopify = catalog.get("shopify")
    tokens = await connect(outbound, catalog, sandbox, "shopify")
    first = expiring(ring, shopify, tokens=tokens)
    assert await refresher.handle(first) == Outcome.REFRESHED
    # The same refresh token again, as a second refresher without the version check would do.
    replay = expiring(ring, shopify, tokens=tokens, connection_id=first.connection_id)
    other = await _fresh_refresher(refresher)
    assert await other.handle(replay) == Outcome.REVOKED


async def _fresh_refresher(like: Refresher) -> Refresher:
    from token_refresher.domain import SettledVersions
    from token_refresher.metrics import Metrics
    from token_refresher.service import CallLimits

    return Refresher(
        catalog=like.catalog,
        tokens=like.tokens,
        sink=like.sink,
        limits=CallLimits(max_concurrency=4, per_provider_concurrency=4),
        settled=SettledVersions(),
        metrics=Metrics(),
    )


# --- unavailable: backoff with jitter, then provider_unavailable -----------------------------


async def test_outage_is_retried_with_backoff_then_reported_unavailable(
    make_refresher: RefresherFactory,
    recorder: Recorder,
    clock: FakeClock,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    refresher = make_refresher(attempts=4, retry_base_delay_s=1.0, retry_max_delay_s=3.0)
    event = await _google(outbound, catalog, sandbox, ring)
    await fault(sandbox, "google_ads", "unavailable")

    assert await refresher.handle(event) == Outcome.PROVIDER_UNAVAILABLE

    assert await refresh_calls(sandbox, "google_ads") == 4
    # Three pauses between four calls: 1, 2, 3 (capped) seconds, each jittered to half..whole.
    assert len(clock.sleeps) == 3
    for pause, ceiling in zip(clock.sleeps, (1.0, 2.0, 3.0), strict=True):
        assert ceiling / 2 <= pause <= ceiling
    [report] = recorder.events
    assert isinstance(report, ConnectionUnhealthyV1)
    assert report.reason == "provider_unavailable"
    assert report.provider_status == 503
    assert "after 4 tries" in report.message


async def test_outage_that_ends_is_not_reported(
    make_refresher: RefresherFactory,
    recorder: Recorder,
    clock: FakeClock,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    refresher = make_refresher(attempts=4)
    event = await _google(outbound, catalog, sandbox, ring)
    await fault(sandbox, "google_ads", "unavailable")
    clock.on_sleep = lambda _: fault(sandbox, "google_ads", "ok")

    assert await refresher.handle(event) == Outcome.REFRESHED
    assert await refresh_calls(sandbox, "google_ads") == 2
    assert recorder.of(ConnectionUnhealthyV1) == []


async def test_a_timeout_counts_as_unavailable(
    catalog: Catalog,
    ring: KeyRing,
    platform: PlatformCredentials,
    sandbox: httpx.AsyncClient,
    outbound: OutboundHttp,
    make_refresher: RefresherFactory,
    recorder: Recorder,
) -> None:
    from hub_providers import OutboundPolicy

    impatient = OutboundHttp(
        catalog,
        OutboundPolicy(total_timeout_s=0.2, trusted_hosts=frozenset({"sandbox.test"})),
        transport=sandbox._transport,
    )
    refresher = make_refresher(tokens=ProviderTokens(impatient, ring, platform), attempts=2)
    event = await _google(outbound, catalog, sandbox, ring)
    await fault(sandbox, "google_ads", "slow", delay=1.0)

    assert await refresher.handle(event) == Outcome.PROVIDER_UNAVAILABLE
    [report] = recorder.events
    assert isinstance(report, ConnectionUnhealthyV1)
    assert report.provider_status is None


# --- rate limited: Retry-After honoured, never unhealthy -----------------------------------------


async def test_rate_limit_waits_retry_after_then_refreshes(
    refresher: Refresher,
    recorder: Recorder,
    clock: FakeClock,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    event = await _google(outbound, catalog, sandbox, ring)
    await fault(sandbox, "google_ads", "rate_limited", retry_after=7)
    clock.on_sleep = lambda _: fault(sandbox, "google_ads", "ok")

    assert await refresher.handle(event) == Outcome.REFRESHED

    [pause] = clock.sleeps
    assert 7 <= pause <= 7.8
    assert await refresh_calls(sandbox, "google_ads") == 2
    assert recorder.of(ConnectionUnhealthyV1) == []
    assert refresher.metrics.calls[("google_ads", "rate_limited")] == 1


async def test_rate_limit_beyond_the_wait_budget_is_deferred_to_the_next_sweep(
    make_refresher: RefresherFactory,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    refresher = make_refresher(rate_limit_max_wait_s=15)
    first = await _google(outbound, catalog, sandbox, ring)
    second = await _google(outbound, catalog, sandbox, ring)
    await fault(sandbox, "google_ads", "rate_limited", retry_after=120)

    assert await refresher.handle(first) == Outcome.DEFERRED_RATE_LIMITED
    # The provider cools down: the next connection does not even call.
    assert await refresher.handle(second) == Outcome.DEFERRED_RATE_LIMITED
    assert await refresh_calls(sandbox, "google_ads") == 1
    assert recorder.events == []
    # Deferred is not settled: the store's next sweep gets a real try.
    assert not refresher.settled.is_settled(first.connection_id, first.credential_version)


async def test_a_429_storm_costs_one_call_per_cool_down_not_one_per_event(
    make_refresher: RefresherFactory,
    recorder: Recorder,
    clock: FakeClock,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    import asyncio

    # Real time (several events sleep at once): a 1 s Retry-After, a 3 s budget.
    refresher = make_refresher(real_time=True, rate_limit_max_wait_s=3, per_provider_concurrency=4)
    events = [await _google(outbound, catalog, sandbox, ring) for _ in range(20)]
    await fault(sandbox, "google_ads", "rate_limited", retry_after=1)

    outcomes = await asyncio.gather(*(refresher.handle(e) for e in events))

    assert set(outcomes) == {Outcome.DEFERRED_RATE_LIMITED}
    calls_made = await refresh_calls(sandbox, "google_ads")
    # The first wave (4 slots) learns of the limit; then one probe per cool-down over the 3 s
    # budget, not one call per waiting event.
    assert 4 <= calls_made <= 4 + 3 + 1, calls_made
    assert recorder.events == []


async def test_body_coded_rate_limit_is_a_rate_limit(
    catalog: Catalog,
    ring: KeyRing,
    platform: PlatformCredentials,
    make_refresher: RefresherFactory,
    recorder: Recorder,
    clock: FakeClock,
) -> None:
    """Shopify's GraphQL-style ``THROTTLED`` in a 200 body, as the catalog lists it."""
    answers = 0

    def shopify(request: httpx.Request) -> httpx.Response:
        nonlocal answers
        answers += 1
        if answers == 1:
            return httpx.Response(200, json={"errors": [{"extensions": {"code": "THROTTLED"}}]})
        return httpx.Response(
            200, json={"access_token": "new-access", "refresh_token": "new-rt", "expires_in": 60}
        )

    throttled = OutboundHttp(
        catalog, transport=httpx.MockTransport(shopify), resolver=_sandbox_only
    )
    refresher = make_refresher(tokens=ProviderTokens(throttled, ring, platform))
    tokens = TokenSet(access_token=SecretStr("at"), refresh_token=SecretStr("rt"))
    event = expiring(ring, catalog.get("shopify"), tokens=tokens)

    assert await refresher.handle(event) == Outcome.REFRESHED
    assert answers == 2
    assert len(clock.sleeps) == 1  # the default cool-down, no Retry-After given
    assert refresher.metrics.calls[("shopify", "rate_limited")] == 1
    assert recorder.of(ConnectionUnhealthyV1) == []


async def _sandbox_only(host: str, port: int) -> list[str]:
    raise AssertionError(host)


# --- refused requests and bad stored data ------------------------------------------------------


async def test_a_refused_client_is_misconfigured_not_revoked(
    catalog: Catalog,
    ring: KeyRing,
    outbound: OutboundHttp,
    sandbox: httpx.AsyncClient,
    make_refresher: RefresherFactory,
    recorder: Recorder,
) -> None:
    tokens = await connect(outbound, catalog, sandbox, "slack")
    environment = platform_environment(catalog) | {"SLACK_CLIENT_SECRET": "wrong"}
    refresher = make_refresher(
        tokens=ProviderTokens(outbound, ring, PlatformCredentials(environment))
    )
    event = expiring(ring, catalog.get("slack"), tokens=tokens)

    assert await refresher.handle(event) == Outcome.MISCONFIGURED
    [report] = recorder.events
    assert isinstance(report, ConnectionUnhealthyV1)
    assert report.reason == "misconfigured"
    assert "operator" in report.message


async def test_shopify_without_its_shop_is_misconfigured(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    tokens = await connect(outbound, catalog, sandbox, "shopify")
    event = expiring(ring, catalog.get("shopify"), tokens=tokens, metadata={})
    assert await refresher.handle(event) == Outcome.MISCONFIGURED
    assert await calls(sandbox, "shopify") == {
        "authorize": 1,
        "token": 1,
        "token.authorization_code": 1,
    }


async def test_no_refresh_token_asks_for_a_reconnect(
    refresher: Refresher, recorder: Recorder, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = TokenSet(access_token=SecretStr("sbx-google_ads-at-x"))
    event = expiring(ring, catalog.get("google_ads"), tokens=tokens)
    assert await refresher.handle(event) == Outcome.INVALID_CREDENTIALS
    [report] = recorder.events
    assert isinstance(report, ConnectionUnhealthyV1)
    assert report.reason == "invalid_credentials"
    assert "no refresh token" in report.message


async def test_ciphertext_from_another_key_ring_is_dead_lettered(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    tokens = await connect(outbound, catalog, sandbox, "google_ads")
    stranger = KeyRing([("test1", os.urandom(32))])
    event = expiring(ring, catalog.get("google_ads"), tokens=tokens, ring_for_sealing=stranger)
    with pytest.raises(UndecryptableError) as caught:
        await refresher.handle(event)
    assert caught.value.reason == "undecryptable_credential"
    assert await refresh_calls(sandbox, "google_ads") == 0
    assert recorder.events == []


@pytest.mark.parametrize(
    ("provider", "auth_type"), [("nope_provider", "api_key"), ("google_ads", "api_key")]
)
async def test_unknown_provider_or_auth_mode_is_dead_lettered(
    provider: str, auth_type: str, refresher: Refresher, ring: KeyRing, catalog: Catalog
) -> None:
    event = expiring(ring, catalog.get("google_ads")).model_copy(
        update={"provider": provider, "auth_type": auth_type}
    )
    with pytest.raises(NotInCatalogError):
        await refresher.handle(event)


async def test_rotating_refresh_is_saved_whole_or_not_at_all(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    """Both tokens of a rotation travel in one event; when that event cannot be published the
    refresh is not reported at all (the handler fails, so the record is redelivered) and no
    event carrying only one of the tokens goes out."""
    slack = catalog.get("slack")
    tokens = await connect(outbound, catalog, sandbox, "slack")
    event = expiring(ring, slack, mode=oauth_mode(slack), tokens=tokens)
    assert await refresher.handle(event) == Outcome.REFRESHED
    [refreshed] = recorder.of(TokenRefreshedV1)
    assert refreshed.credentials.access_token is not None
    assert refreshed.credentials.refresh_token is not None
    assert refreshed.credentials.refresh_token != event.credentials.refresh_token  # type: ignore[union-attr]

    other = expiring(
        ring,
        slack,
        mode=oauth_mode(slack),
        tokens=await connect(outbound, catalog, sandbox, "slack"),
    )
    recorder.fail = RuntimeError("broker gone")
    with pytest.raises(RuntimeError, match="broker gone"):
        await refresher.handle(other)
    recorder.fail = None
    assert recorder.events == [refreshed]
