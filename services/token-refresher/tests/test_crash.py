"""A refresher killed with SIGKILL in the middle of a batch of due connections, then restarted:
every due connection is refreshed exactly once (one ``token.refreshed`` each, none lost).

The killed process never commits (a commit interval longer than the test), so its successor
reads every event again: those already refreshed must be dropped by the credential-version
projection, those in flight or not started must be refreshed."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    Credentials,
    Event,
    TokenRefreshedV1,
    Topic,
    connection_id,
)
from hub_keyring import Binding
from hub_localstack.services import ServiceProcess
from hub_runtime import publish_event
from hub_runtime.metrics import sample

from .stack import (
    about,
    connect_at,
    eventually,
    metrics_of,
    outbound_to,
    producer,
    read_topic,
    refresher,
    ring_of,
    sandbox_calls,
    sandbox_fault,
    token_calls,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

N = 120
CONCURRENCY = 8
SETTINGS = {
    "TOKEN_REFRESHER_PER_PROVIDER_CONCURRENCY": str(CONCURRENCY),
    "TOKEN_REFRESHER_MAX_CONCURRENCY": str(CONCURRENCY),
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def store(hub_env: dict[str, str], logs: Path) -> Iterator[ServiceProcess]:
    with ServiceProcess(
        "connection-store",
        "connection_store",
        {**hub_env, "CONNECTION_STORE_SWEEP_INTERVAL_S": "0.3"},
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    ) as process:
        yield process


def _refreshed(events: list[Event], ids: list[uuid.UUID]) -> Counter[uuid.UUID]:
    mine = about(ids)
    return Counter(e.connection_id for e in events if isinstance(e, TokenRefreshedV1) and mine(e))


async def _all_swept(database_url: str, ids: list[uuid.UUID]) -> bool:
    """Every row exists and the sweep has emitted its token.expiring (rescheduled it)."""
    connection = await asyncpg.connect(database_url)
    try:
        swept = await connection.fetchval(
            """SELECT count(*) FROM integration_connections
               WHERE id = ANY($1::uuid[]) AND next_refresh_at > now()""",
            ids,
        )
        unsent = await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    finally:
        await connection.close()
    return bool(swept == len(ids) and unsent == 0)


async def _versions(database_url: str, ids: list[uuid.UUID]) -> Counter[int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT credential_version FROM integration_connections WHERE id = ANY($1::uuid[])",
            ids,
        )
    finally:
        await connection.close()
    return Counter(row["credential_version"] for row in rows)


async def test_sigkill_mid_batch_then_restart_refreshes_each_due_connection_once(
    store: ServiceProcess,
    hub_env: dict[str, str],
    logs: Path,
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
) -> None:
    http = outbound_to(sandbox_url)
    semaphore = asyncio.Semaphore(16)

    async def one() -> ConnectionEstablishedV1:
        async with semaphore:
            tokens = await connect_at(http, sandbox_url, "google_ads", browser=browser)
        org = uuid.uuid4()
        ring = ring_of(hub_env)
        assert tokens.refresh_token is not None
        return ConnectionEstablishedV1(
            organization_id=org,
            provider="google_ads",
            connection_id=connection_id(org, "google_ads"),
            auth_type="oauth2_authorization_code",
            credentials=Credentials(
                access_token=ring.encrypt(
                    tokens.access_token, Binding(org, "google_ads", "access_token")
                ),
                refresh_token=ring.encrypt(
                    tokens.refresh_token, Binding(org, "google_ads", "refresh_token")
                ),
            ),
            # Issued an hour ago, expiring within the lead: due at once.
            occurred_at=datetime.now(UTC) - timedelta(minutes=58),
            token_expires_at=datetime.now(UTC) + timedelta(minutes=2),
            account=Account(name="Acme"),
        )

    async with httpx.AsyncClient() as browser:
        connections = await asyncio.gather(*(one() for _ in range(N)))
    await http.aclose()
    ids = [c.connection_id for c in connections]
    before = token_calls(await sandbox_calls(sandbox_url), "google_ads")

    first = refresher(
        hub_env, logs, "token-refresher-killed", TOKEN_REFRESHER_COMMIT_INTERVAL_S="600", **SETTINGS
    )
    second = refresher(hub_env, logs, "token-refresher-restarted", **SETTINGS)
    await sandbox_fault(sandbox_url, "google_ads", "slow", delay=0.25)
    try:
        # Every connection is due and its token.expiring is waiting before a refresher runs:
        # the killed process takes them as one batch.
        async with producer(kafka_bootstrap) as bus:
            await asyncio.gather(*(publish_event(bus, c) for c in connections))
        await eventually(lambda: _all_swept(database_url, ids), timeout_s=60)
        await asyncio.to_thread(first.start)

        async def a_third_done() -> int:
            done = _counter(await metrics_of(first), "refreshed")
            return done if done >= N // 3 else 0

        done_at_kill = await eventually(a_third_done, timeout_s=60, every_s=0.02)
        first.kill()  # SIGKILL: no drain, no commit; calls in flight die with it
        assert done_at_kill < N - CONCURRENCY, "the kill came too late to be mid-batch"

        await asyncio.to_thread(second.start)

        async def all_done() -> bool:
            return (await _versions(database_url, ids))[2] == N

        await eventually(all_done, timeout_s=90)
        text = await metrics_of(second)
    finally:
        await sandbox_fault(sandbox_url, "google_ads", "ok")
        second.stop()
        first.stop()

    assert await _versions(database_url, ids) == Counter({2: N})
    published = await read_topic(
        kafka_bootstrap,
        Topic.TOKEN_REFRESHED,
        until=lambda seen: len(_refreshed(seen, ids)) == N,
        settle_s=2.0,
    )
    per_connection = _refreshed(published, ids)
    assert set(per_connection.values()) == {1}, "a connection was refreshed twice"
    assert len(per_connection) == N

    calls = token_calls(await sandbox_calls(sandbox_url), "google_ads") - before
    # Calls in flight when the process died were answered by the sandbox but never published;
    # those connections were refreshed again after the restart (Google's refresh token does not
    # rotate, so that is harmless): the calls in flight plus answers not yet published.
    assert N <= calls <= N + 2 * CONCURRENCY, calls
    # The restarted process read all N events again (nothing was committed): it dropped those
    # the killed one had refreshed and refreshed the rest.
    stale = _counter(text, "stale")
    refreshed = _counter(text, "refreshed")
    assert stale + refreshed == N, text
    assert stale >= done_at_kill


def _counter(metrics: str, outcome: str) -> int:
    events = "token_refresher_events_total"
    return int(sample(metrics, events, provider="google_ads", outcome=outcome))
