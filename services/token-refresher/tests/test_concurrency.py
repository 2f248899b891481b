"""One refresh per connection at a time; bounded concurrency overall and per provider; a call
already sent survives the cancellation of its event."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from hub_catalog import AuthMode, Catalog, Provider
from hub_contracts import TokenExpiringV1, TokenRefreshedV1
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from token_refresher.domain import Outcome
from token_refresher.service import Renewal

from .conftest import Recorder, RefresherFactory, connect, expiring, fault, refresh_calls


@dataclass
class SlowTokens:
    """A ``TokenSource`` that takes ``delay_s`` per provider and records what ran when."""

    delay_s: dict[str, float] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    peak_total: int = 0
    order: list[tuple[uuid.UUID, int]] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    async def renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Renewal:
        name = provider.id
        self.order.append((event.connection_id, event.credential_version))
        self.running[name] = self.running.get(name, 0) + 1
        self.peak[name] = max(self.peak.get(name, 0), self.running[name])
        self.peak_total = max(self.peak_total, sum(self.running.values()))
        try:
            await asyncio.sleep(self.delay_s.get(name, 0.01))
        finally:
            self.running[name] -= 1
        self.finished.append(name)
        assert event.credentials is not None
        return Renewal(
            credentials=event.credentials,
            token_expires_at=datetime.now(UTC) + timedelta(hours=1),
        )


def _event(catalog: Catalog, provider_id: str, ring: KeyRing, **kw: object) -> TokenExpiringV1:
    from hub_providers import TokenSet
    from pydantic import SecretStr

    tokens = TokenSet(access_token=SecretStr("at"), refresh_token=SecretStr("rt"))
    return expiring(ring, catalog.get(provider_id), tokens=tokens, **kw)  # type: ignore[arg-type]


async def test_twenty_concurrent_triggers_for_one_rotating_connection_refresh_once(
    make_refresher: RefresherFactory,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    """SECURITY.md 23, inside one process: 20 redelivered events of one Slack connection."""
    refresher = make_refresher(real_time=True)
    tokens = await connect(outbound, catalog, sandbox, "slack")
    first = expiring(ring, catalog.get("slack"), tokens=tokens)
    copies = [first.model_copy(update={"event_id": uuid.uuid4()}) for _ in range(20)]
    await fault(sandbox, "slack", "slow", delay=0.2)

    outcomes = await asyncio.gather(*(refresher.handle(e) for e in copies))

    assert outcomes.count(Outcome.REFRESHED) == 1
    assert outcomes.count(Outcome.STALE) == 19
    assert await refresh_calls(sandbox, "slack") == 1
    assert len(recorder.of(TokenRefreshedV1)) == 1


async def test_events_of_one_connection_run_one_at_a_time_in_arrival_order(
    make_refresher: RefresherFactory, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = SlowTokens(delay_s={"google_ads": 0.02})
    refresher = make_refresher(tokens=tokens, real_time=True)
    base = _event(catalog, "google_ads", ring, version=1)
    versions = [base.model_copy(update={"credential_version": v}) for v in (1, 2, 3)]

    outcomes = await asyncio.gather(*(refresher.handle(e) for e in versions))

    assert outcomes == [Outcome.REFRESHED] * 3
    assert tokens.order == [(base.connection_id, v) for v in (1, 2, 3)]
    assert tokens.peak["google_ads"] == 1


async def test_concurrency_is_bounded_overall_and_per_provider(
    make_refresher: RefresherFactory, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = SlowTokens(delay_s={"google_ads": 0.05, "google_drive": 0.05, "shopify": 0.05})
    refresher = make_refresher(
        tokens=tokens, real_time=True, max_concurrency=5, per_provider_concurrency=3
    )
    events = [
        _event(catalog, provider, ring)
        for provider in ("google_ads", "google_drive", "shopify")
        for _ in range(6)
    ]
    outcomes = await asyncio.gather(*(refresher.handle(e) for e in events))
    assert set(outcomes) == {Outcome.REFRESHED}
    assert max(tokens.peak.values()) == 3
    assert tokens.peak_total == 5


async def test_a_slow_provider_does_not_starve_the_others(
    make_refresher: RefresherFactory, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = SlowTokens(delay_s={"google_ads": 0.5, "shopify": 0.01})
    refresher = make_refresher(tokens=tokens, real_time=True, max_concurrency=6)
    slow = [_event(catalog, "google_ads", ring) for _ in range(8)]
    fast = [_event(catalog, "shopify", ring) for _ in range(8)]

    started = asyncio.get_running_loop().time()
    slow_tasks = [asyncio.create_task(refresher.handle(e)) for e in slow]
    await asyncio.sleep(0.01)
    fast_outcomes = await asyncio.gather(*(refresher.handle(e) for e in fast))
    fast_done = asyncio.get_running_loop().time() - started

    assert set(fast_outcomes) == {Outcome.REFRESHED}
    assert fast_done < 0.3, fast_done
    assert not any(task.done() for task in slow_tasks)
    await asyncio.gather(*slow_tasks)


async def test_events_stuck_behind_a_slow_provider_are_deferred_after_the_queue_wait(
    make_refresher: RefresherFactory, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = SlowTokens(delay_s={"google_ads": 0.3})
    refresher = make_refresher(
        tokens=tokens, real_time=True, per_provider_concurrency=2, queue_max_wait_s=0.1
    )
    events = [_event(catalog, "google_ads", ring) for _ in range(6)]
    outcomes = await asyncio.gather(*(refresher.handle(e) for e in events))
    # Two get the slots; the four behind them give up after 0.1 s instead of 0.3-0.6 s.
    assert outcomes.count(Outcome.REFRESHED) == 2
    assert outcomes.count(Outcome.DEFERRED_BACKLOG) == 4
    assert refresher.limits.gate("google_ads").pending == 0
    # Another provider is not held up meanwhile.
    assert await refresher.handle(_event(catalog, "shopify", ring)) == Outcome.REFRESHED


async def test_a_call_already_sent_finishes_and_is_published_when_its_event_is_cancelled(
    make_refresher: RefresherFactory, recorder: Recorder, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = SlowTokens(delay_s={"google_ads": 0.2})
    refresher = make_refresher(tokens=tokens, real_time=True)
    event = _event(catalog, "google_ads", ring)

    task = asyncio.create_task(refresher.handle(event))
    await asyncio.sleep(0.05)  # the call is in flight
    assert refresher.calls_in_progress == 1
    task.cancel()
    # A redelivery of the same event waits for the connection's lock, held until the call is
    # done, then finds the version settled.
    again = asyncio.create_task(refresher.handle(event))
    assert await refresher.drain(5.0) == 0
    assert await again == Outcome.STALE
    assert len(recorder.of(TokenRefreshedV1)) == 1
    assert len(tokens.order) == 1


async def test_drain_reports_calls_still_running_at_the_timeout(
    make_refresher: RefresherFactory, ring: KeyRing, catalog: Catalog
) -> None:
    tokens = SlowTokens(delay_s={"google_ads": 0.5})
    refresher = make_refresher(tokens=tokens, real_time=True)
    task = asyncio.create_task(refresher.handle(_event(catalog, "google_ads", ring)))
    await asyncio.sleep(0.05)
    assert await refresher.drain(0.01) == 1
    assert await task == Outcome.REFRESHED
