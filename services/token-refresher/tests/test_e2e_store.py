"""End to end with connection-store, both as processes, on the real PostgreSQL, broker and the
sandbox process: the store's sweep finds a credential within its lead time, the refresher
refreshes it, the store shows the new expiry and version; a revoked credential ends expired
with a message saying what to do; a 429 storm is waited out without a hot loop."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from hub_catalog import load_catalog
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    ConnectionUnhealthyV1,
    Credentials,
    Topic,
    connection_id,
    dlq_topic,
)
from hub_keyring import Binding
from hub_localstack.services import ServiceProcess
from hub_providers import OutboundHttp, TokenSet
from hub_runtime import publish_event
from hub_runtime.metrics import sample
from pydantic import SecretStr

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

CATALOG = load_catalog()
RETRY_S = 3
"""The store's refresh_retry_s here: a deferred refresh comes back after 3 s, not 5 minutes."""


@pytest.fixture(scope="module")
def services(
    hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("e2e-store")
    store = ServiceProcess(
        "connection-store",
        "connection_store",
        {
            **hub_env,
            "CONNECTION_STORE_SWEEP_INTERVAL_S": "0.3",
            "CONNECTION_STORE_REFRESH_RETRY_S": str(RETRY_S),
        },
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    )
    worker = refresher(
        hub_env,
        logs,
        TOKEN_REFRESHER_RATE_LIMIT_MAX_WAIT_S="2",
        # Google's documented 403 rate limit has no Retry-After: the default cool-down applies.
        TOKEN_REFRESHER_RATE_LIMIT_DEFAULT_RETRY_AFTER_S="2",
        TOKEN_REFRESHER_RETRY_BASE_DELAY_S="0.05",
    )
    with store, worker:
        yield {"store": store, "refresher": worker}


@pytest.fixture
async def http(sandbox_url: str) -> AsyncIterator[OutboundHttp]:
    outbound = outbound_to(sandbox_url)
    yield outbound
    await outbound.aclose()


@pytest.fixture
async def bus(kafka_bootstrap: str) -> AsyncIterator[KafkaBroker]:
    async with producer(kafka_bootstrap) as broker:
        yield broker


def _token(hub_env: dict[str, str], org: uuid.UUID) -> str:
    issued = subprocess.run(
        [sys.executable, "-m", "connection_store.issuer", "--org", str(org)],
        env=hub_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return issued.stdout.strip()


class StoreView:
    """``GET /v1/orgs/{org}/integrations/{provider}`` as the admin console reads it."""

    def __init__(self, store: ServiceProcess, hub_env: dict[str, str]) -> None:
        self.store = store
        self.hub_env = hub_env
        self.tokens: dict[uuid.UUID, str] = {}

    async def detail(self, org: uuid.UUID, provider: str) -> dict[str, Any]:
        if org not in self.tokens:
            self.tokens[org] = await asyncio.to_thread(_token, self.hub_env, org)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(
                f"{self.store.url}/v1/orgs/{org}/integrations/{provider}",
                headers={"Authorization": f"Bearer {self.tokens[org]}"},
            )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
def view(services: dict[str, ServiceProcess], hub_env: dict[str, str]) -> StoreView:
    return StoreView(services["store"], hub_env)


async def _establish(
    bus: KafkaBroker,
    hub_env: dict[str, str],
    provider_id: str,
    tokens: TokenSet,
    *,
    expires_in_s: float = 120,
    issued_s_ago: float = 3480,
) -> ConnectionEstablishedV1:
    """The gateway's ``connection.established``: a credential that expires within the lead
    (issued an hour ago by default, so it is due at once)."""
    org = uuid.uuid4()
    ring = ring_of(hub_env)

    def seal(name: str, value: str) -> Any:
        return ring.encrypt(value, Binding(org, provider_id, name))

    refresh = tokens.refresh_token
    event = ConnectionEstablishedV1(
        organization_id=org,
        provider=provider_id,
        connection_id=connection_id(org, provider_id),
        auth_type="oauth2_authorization_code",
        credentials=Credentials(
            access_token=seal("access_token", tokens.access_token.get_secret_value()),
            refresh_token=seal("refresh_token", refresh.get_secret_value()) if refresh else None,
        ),
        occurred_at=datetime.now(UTC) - timedelta(seconds=issued_s_ago),
        token_expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
        scopes=tokens.scopes,
        account=Account(id="acct-1", name="Acme"),
    )
    await publish_event(bus, event)
    return event


async def _connect_and_wait_for_a_refresh(
    view: StoreView, http: OutboundHttp, bus: KafkaBroker, hub_env: dict[str, str], sandbox_url: str
) -> tuple[ConnectionEstablishedV1, dict[str, Any]]:
    """Connect Google Ads (its token within the lead time) and wait until the sweep and the
    refresher have renewed it: credential version 2."""
    tokens = await connect_at(http, sandbox_url, "google_ads")
    established = await _establish(bus, hub_env, "google_ads", tokens)

    async def refreshed() -> dict[str, Any] | None:
        body = await view.detail(established.organization_id, "google_ads")
        return body if body.get("credential_version") == 2 else None

    return established, await eventually(refreshed, timeout_s=30)


async def test_sweep_refreshes_a_token_within_its_lead_time_without_anyone(
    services: dict[str, ServiceProcess],
    view: StoreView,
    http: OutboundHttp,
    bus: KafkaBroker,
    hub_env: dict[str, str],
    sandbox_url: str,
) -> None:
    established, body = await _connect_and_wait_for_a_refresh(view, http, bus, hub_env, sandbox_url)
    assert established.token_expires_at is not None
    assert body["status"] == "active"
    new_expiry = datetime.fromisoformat(body["token_expires_at"])
    assert new_expiry > established.token_expires_at + timedelta(minutes=30)
    assert body["last_error"] is None

    async def counted() -> float:  # counted once the outcome is published: read until then
        text = await metrics_of(services["refresher"])
        events = "token_refresher_events_total"
        return sample(text, events, provider="google_ads", outcome="refreshed")

    assert await eventually(counted, timeout_s=10) >= 1


async def _lifetime(sandbox_url: str, provider_id: str, seconds: int | None) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        answer = await client.post(
            f"/_sandbox/{provider_id}/lifetime", json={"access_token_lifetime_s": seconds}
        )
    assert answer.status_code == 200, answer.text


async def test_a_token_shorter_than_the_lead_is_refreshed_once_per_lifetime_not_every_sweep(
    services: dict[str, ServiceProcess],
    view: StoreView,
    http: OutboundHttp,
    bus: KafkaBroker,
    hub_env: dict[str, str],
    sandbox_url: str,
) -> None:
    """Google Ads' lead is 600 s; this provider issues 12 s tokens. Refreshed at 9 s of each
    token's life, not on every 0.3 s sweep."""
    provider_id = "google_ads"
    await _lifetime(sandbox_url, provider_id, 12)
    try:
        tokens = await connect_at(http, sandbox_url, provider_id)
        before = token_calls(await sandbox_calls(sandbox_url), provider_id)
        established = await _establish(
            bus, hub_env, provider_id, tokens, expires_in_s=12, issued_s_ago=0
        )
        org = established.organization_id

        async def refreshed_twice() -> dict[str, Any] | None:
            body = await view.detail(org, provider_id)
            return body if body.get("credential_version", 0) >= 3 else None

        started = asyncio.get_running_loop().time()
        body = await eventually(refreshed_twice, timeout_s=60)
        elapsed = asyncio.get_running_loop().time() - started
        calls = token_calls(await sandbox_calls(sandbox_url), provider_id) - before
    finally:
        await _lifetime(sandbox_url, provider_id, None)
    assert body["status"] == "active"
    assert elapsed >= 15, "the second refresh came after the first token's 9 s and the next 9 s"
    assert calls <= 4, f"{calls} token calls in {elapsed:.0f} s: a refresh per sweep"


async def test_revoked_credential_ends_expired_with_an_actionable_message(
    view: StoreView,
    http: OutboundHttp,
    bus: KafkaBroker,
    hub_env: dict[str, str],
    sandbox_url: str,
    kafka_bootstrap: str,
) -> None:
    tokens = await connect_at(http, sandbox_url, "google_ads")
    assert tokens.refresh_token is not None
    await sandbox_fault(
        sandbox_url, "google_ads", "revoked", credential=tokens.refresh_token.get_secret_value()
    )
    established = await _establish(bus, hub_env, "google_ads", tokens)
    org = established.organization_id

    async def expired() -> dict[str, Any] | None:
        body = await view.detail(org, "google_ads")
        return body if body["status"] == "expired" else None

    body = await eventually(expired, timeout_s=30)
    assert body["credential_version"] == 1
    assert "Reconnect Google Ads in Settings → Integrations" in body["last_error"]
    assert "revoked or has expired" in body["last_error"]
    # Told once: the store stops sweeping an expired connection and the refresher settled it.
    await asyncio.sleep(2 * RETRY_S)
    reports = await read_topic(
        kafka_bootstrap,
        Topic.CONNECTION_UNHEALTHY,
        until=lambda seen: any(about([established.connection_id])(e) for e in seen),
    )
    mine = [e for e in reports if about([established.connection_id])(e)]
    assert len(mine) == 1
    assert isinstance(mine[0], ConnectionUnhealthyV1)
    assert mine[0].reason == "revoked"


async def test_a_429_storm_is_waited_out_without_a_hot_loop(
    services: dict[str, ServiceProcess],
    database_url: str,
    http: OutboundHttp,
    bus: KafkaBroker,
    hub_env: dict[str, str],
    sandbox_url: str,
    kafka_bootstrap: str,
) -> None:
    connections = [await connect_at(http, sandbox_url, "google_drive") for _ in range(5)]
    before = token_calls(await sandbox_calls(sandbox_url), "google_drive")
    await sandbox_fault(sandbox_url, "google_drive", "rate_limited", retry_after=2)
    try:
        established = [await _establish(bus, hub_env, "google_drive", t) for t in connections]
        # Three sweeps' worth of re-emission (the store's retry is 3 s) under the storm.
        await asyncio.sleep(3 * RETRY_S + 1)
        storm_calls = token_calls(await sandbox_calls(sandbox_url), "google_drive") - before
    finally:
        await sandbox_fault(sandbox_url, "google_drive", "ok")

    # About one probe per 2 s cool-down, whatever the number of waiting connections (plus the
    # first events that found no cool-down yet). A hot loop would be hundreds.
    assert 1 <= storm_calls <= 12, storm_calls
    ids = [e.connection_id for e in established]
    rows = await _rows(database_url, ids)
    assert {(r["status"], r["last_error"]) for r in rows} == {("active", None)}

    async def all_refreshed() -> bool:
        return all(r["credential_version"] == 2 for r in await _rows(database_url, ids))

    await eventually(all_refreshed, timeout_s=4 * RETRY_S + 10)
    reports = await read_topic(kafka_bootstrap, Topic.CONNECTION_UNHEALTHY, until=lambda _: True)
    assert [e for e in reports if about(ids)(e)] == []
    text = await metrics_of(services["refresher"])
    assert 'outcome="deferred_rate_limited"' in text


async def _rows(database_url: str, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(
            """SELECT id, status, last_error, credential_version
               FROM integration_connections WHERE id = ANY($1::uuid[])""",
            ids,
        )
    finally:
        await connection.close()
    assert len(rows) == len(ids)
    return rows


async def test_long_lived_token_reminds_the_brand_to_reconnect_before_expiry(
    view: StoreView, bus: KafkaBroker, hub_env: dict[str, str], sandbox_url: str
) -> None:
    """Meta's ~60-day token cannot be refreshed: a week before expiry the store's sweep emits
    ``token.expiring`` without credentials and the refresher turns it into ``reauth_soon``."""
    before = (await sandbox_calls(sandbox_url)).get("meta_ads", {})
    token = TokenSet(access_token=SecretStr(f"sbx-meta_ads-at-{uuid.uuid4().hex}"))
    established = await _establish(  # a 60-day token issued 57 days ago
        bus, hub_env, "meta_ads", token, expires_in_s=3 * 86400, issued_s_ago=57 * 86400
    )
    org = established.organization_id

    async def reminded() -> dict[str, Any] | None:
        body = await view.detail(org, "meta_ads")
        return body if body.get("last_error") else None

    body = await eventually(reminded, timeout_s=30)
    assert body["status"] == "active"  # a reminder, not a failure
    assert "cannot be renewed automatically" in body["last_error"]
    assert "Reconnect Meta Ads in Settings → Integrations" in body["last_error"]
    assert body["next_step"] == "Reconnect Meta Ads in Settings → Integrations."
    assert (await sandbox_calls(sandbox_url)).get("meta_ads", {}) == before


async def test_undecodable_event_goes_to_the_dlq_with_the_reason(
    services: dict[str, ServiceProcess], bus: KafkaBroker, kafka_bootstrap: str
) -> None:
    marker = f"not json {uuid.uuid4()}".encode()
    await bus.publish(marker, topic=Topic.TOKEN_EXPIRING.value, key=b"org:google_ads")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=None, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        dlq = dlq_topic(Topic.TOKEN_EXPIRING.value)
        partitions = [TopicPartition(dlq, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)

        async def dead_letter() -> Any:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    if record.value == marker:
                        return record
            return None

        record = await eventually(dead_letter, timeout_s=20, every_s=0.01)
    finally:
        await consumer.stop()
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["dlq-reason"] == "malformed"
    assert headers["dlq-source-topic"] == "token.expiring"
    assert headers["dlq-consumer-group"] == "token-refresher.on_token_expiring"
    assert {"dlq-error", "dlq-source-partition", "dlq-source-offset"} <= headers.keys()
    assert record.key == b"org:google_ads"
    assert 'token_refresher_dead_letters_total{reason="malformed"}' in await metrics_of(
        services["refresher"]
    )


async def test_no_credential_reached_the_refresher_log(
    services: dict[str, ServiceProcess],
    view: StoreView,
    http: OutboundHttp,
    bus: KafkaBroker,
    hub_env: dict[str, str],
    sandbox_url: str,
) -> None:
    """SECURITY.md 14: this test refreshes a token itself (whatever ran before), then
    reads the process's log. Sandbox-issued access and refresh tokens look like
    ``sbx-<provider>-at-…`` / ``sbx-<provider>-rt-…``."""
    await _connect_and_wait_for_a_refresh(view, http, bus, hub_env, sandbox_url)
    log = services["refresher"].log_path.read_text()
    assert "token.expiring handled" in log
    assert re.search(r"sbx-[a-z_]+-(at|rt)-", log) is None
