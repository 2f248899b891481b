"""Pending flows in the real PostgreSQL: migrations, single use under concurrency, expiry by the
database clock, the purge, ciphertext only; and the app wired to it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import httpx
import pytest
from hub_catalog import Catalog, PlatformCredentials
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequestedV1,
    parse_event,
)
from hub_keyring import Binding, KeyRing
from oauth_gateway.adapters.pending_flows import PostgresPendingFlows, migrate
from oauth_gateway.app import create_app
from oauth_gateway.service import PendingFlow
from oauth_gateway.settings import GatewaySettings
from provider_sandbox import platform_environment

from .conftest import GATEWAY, MemoryEvents, new_key_spec, token

pytestmark = pytest.mark.integration

RING = KeyRing.from_spec(new_key_spec())


@pytest.fixture(scope="module")
def migrated(owner_database_url: str, login_database_url: str) -> str:
    """Migrated by the owner role; the URL of the login role the gateway logs in as."""
    asyncio.run(migrate(owner_database_url))
    return login_database_url


@pytest.fixture
async def store(migrated: str) -> AsyncIterator[PostgresPendingFlows]:
    flows = PostgresPendingFlows(migrated, pool_size=25)
    await flows.open()
    try:
        yield flows
    finally:
        await flows.close()


def pending(*, age_s: float = 0, ttl_s: float = 600, provider: str = "slack") -> PendingFlow:
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    org = uuid.uuid4()
    return PendingFlow(
        flow_id=uuid.uuid4(),
        organization_id=org,
        provider=provider,
        auth_type="oauth2_authorization_code",
        nonce="n" * 32,
        browser_binding="b" * 43,
        code_verifier=RING.encrypt("verifier-" + "v" * 50, Binding(org, provider, "code_verifier")),
        return_to="http://127.0.0.1:8100/x",
        tenant_params={"shop": "acme"},
        requested_by="admin-1",
        created_at=created,
        expires_at=created + timedelta(seconds=ttl_s),
    )


def requested(flow: PendingFlow) -> ConnectionRequestedV1:
    return ConnectionRequestedV1(
        organization_id=flow.organization_id,
        provider=flow.provider,
        flow_id=flow.flow_id,
        auth_type=flow.auth_type,
    )


async def outbox_events(pool: asyncpg.Pool, kind: type[Any]) -> list[Any]:
    rows = await pool.fetch("SELECT payload::text AS payload FROM oauth_gateway_outbox ORDER BY id")
    return [e for e in (parse_event(row["payload"]) for row in rows) if isinstance(e, kind)]


async def test_migrations_apply_once_into_their_own_history_table(
    migrated: str, owner_database_url: str
) -> None:
    assert await migrate(owner_database_url) == []
    connection = await asyncpg.connect(owner_database_url)
    try:
        names = await connection.fetch("SELECT name FROM oauth_gateway_migrations")
    finally:
        await connection.close()
    assert [row["name"] for row in names] == ["oauth_flows", "outbox", "service_grants"]


async def test_a_flow_is_consumed_once_and_comes_back_whole(store: PostgresPendingFlows) -> None:
    flow = pending()
    await store.create(flow, requested(flow))
    assert await store.claim(flow.flow_id, "slack") == flow
    assert await store.claim(flow.flow_id, "slack") is None


async def test_of_twenty_concurrent_consumers_exactly_one_wins(store: PostgresPendingFlows) -> None:
    flow = pending()
    await store.create(flow, requested(flow))
    won = await asyncio.gather(*(store.claim(flow.flow_id, "slack") for _ in range(20)))
    assert sum(result is not None for result in won) == 1


async def test_an_expired_flow_cannot_be_consumed(store: PostgresPendingFlows) -> None:
    flow = pending(age_s=700)
    await store.create(flow, requested(flow))
    assert await store.claim(flow.flow_id, "slack") is None


async def test_another_provider_cannot_consume_the_flow(store: PostgresPendingFlows) -> None:
    flow = pending()
    await store.create(flow, requested(flow))
    assert await store.claim(flow.flow_id, "google_ads") is None
    assert await store.claim(flow.flow_id, "slack") is not None


async def test_a_flows_return_url_outlives_its_expiry_and_its_use(
    store: PostgresPendingFlows,
) -> None:
    """What a refused callback sends the person back to (issue 11)."""
    flow = pending(age_s=700)
    await store.create(flow, requested(flow))
    org = flow.organization_id
    assert await store.return_to(flow.flow_id, org, "slack") == "http://127.0.0.1:8100/x"
    assert await store.return_to(flow.flow_id, uuid.uuid4(), "slack") is None
    assert await store.return_to(flow.flow_id, org, "google_ads") is None
    assert await store.return_to(uuid.uuid4(), org, "slack") is None


async def test_the_purge_removes_long_expired_flows_only(store: PostgresPendingFlows) -> None:
    old, recent = pending(age_s=7200), pending()
    await store.create(old, requested(old))
    await store.create(recent, requested(recent))
    assert await store.purge(3600) >= 1
    rows = await store.pool.fetch("SELECT flow_id FROM oauth_flows")
    kept = {row["flow_id"] for row in rows}
    assert old.flow_id not in kept
    assert recent.flow_id in kept


async def test_the_verifier_rests_as_ciphertext(store: PostgresPendingFlows) -> None:
    flow = pending()
    await store.create(flow, requested(flow))
    row = await store.pool.fetchrow(
        "SELECT to_jsonb(f)::text AS dump FROM oauth_flows f WHERE flow_id = $1", flow.flow_id
    )
    assert row is not None
    assert "verifier-" not in row["dump"]


async def test_the_app_runs_a_flow_through_postgresql(
    migrated: str, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    settings = GatewaySettings(
        credential_keys=new_key_spec(), database_url=migrated, migrate_on_start=False
    )
    events = MemoryEvents()
    app = create_app(
        settings,
        catalog=catalog,
        platform=PlatformCredentials(platform_environment(catalog)),
        outbound_transport=sandbox._transport,
        events=events,
    )
    org = uuid.uuid4()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=GATEWAY) as browser,
    ):
        assert (await browser.get("/readyz")).json() == {"status": "ready"}
        started = await browser.post(
            f"/v1/orgs/{org}/integrations/google_ads/oauth/start",
            json={},
            headers={"Authorization": f"Bearer {token(org)}"},
        )
        location = (await sandbox.get(started.json()["auth_url"])).headers["location"]
        first, second = await asyncio.gather(browser.get(location), browser.get(location))
    # Both go back to the return URL: one connected, the other refused as used (issue 11).
    outcomes = sorted(
        dict(parse_qsl(urlsplit(answer.headers["location"]).query)).get("reason", "connected")
        for answer in (first, second)
    )
    assert outcomes == ["connected", "flow_used"]
    pool = await asyncpg.create_pool(migrated, min_size=1, max_size=1)
    assert pool is not None
    try:
        established = await outbox_events(pool, ConnectionEstablishedV1)
    finally:
        await pool.close()
    assert [e.organization_id for e in established] == [org]  # type: ignore[attr-defined]
    assert events.published == []  # PostgreSQL flows record in the outbox, not on the side
    assert (await sandbox.get("/_sandbox/calls")).json()["google_ads"]["token"] == 1


def _failed(flow: PendingFlow) -> ConnectionFailedV1:
    return ConnectionFailedV1(
        organization_id=flow.organization_id,
        provider=flow.provider,
        flow_id=flow.flow_id,
        reason="flow_expired",
        message="The sign-in expired before it was finished.",
    )


async def test_concurrent_sweeps_end_each_expired_flow_once(store: PostgresPendingFlows) -> None:
    expired = [pending(age_s=700) for _ in range(40)]
    fresh = pending()
    for flow in [*expired, fresh]:
        await store.create(flow, requested(flow))
    ended = await asyncio.gather(
        *(store.expire(_failed, limit=15, claim_grace_s=60) for _ in range(4))
    )
    ended_more = await store.expire(_failed, limit=100, claim_grace_s=60)
    assert sum(ended) + ended_more >= len(expired)
    failed = {e.flow_id for e in await outbox_events(store.pool, ConnectionFailedV1)}
    assert {f.flow_id for f in expired} <= failed
    assert fresh.flow_id not in failed
    rows = await store.pool.fetch(
        "SELECT count(*) AS n FROM oauth_gateway_outbox "
        "WHERE payload->>'flow_id' = ANY($1::text[])",
        [str(f.flow_id) for f in expired],
    )
    assert rows[0]["n"] == 2 * len(expired)  # requested + failed, each exactly once
    assert await store.claim(expired[0].flow_id, "slack") is None


async def test_a_claimed_flow_is_left_to_its_callback_for_the_grace(
    store: PostgresPendingFlows,
) -> None:
    flow = pending(age_s=0, ttl_s=2)
    await store.create(flow, requested(flow))
    assert await store.claim(flow.flow_id, "slack") is not None
    await asyncio.sleep(2.2)  # expired by the database clock, claimed a moment ago
    assert await store.expire(_failed, limit=100, claim_grace_s=60) == 0
    assert await store.expire(_failed, limit=100, claim_grace_s=0) == 1
    assert not await store.finish(flow, _failed(flow))  # the callback finds it ended


async def test_a_refused_callback_ends_only_its_own_flow(store: PostgresPendingFlows) -> None:
    flow = pending()
    await store.create(flow, requested(flow))
    assert not await store.end(flow.flow_id, "slack", uuid.uuid4(), _failed(flow))  # other org
    assert await store.end(flow.flow_id, "slack", flow.organization_id, _failed(flow))
    assert not await store.end(flow.flow_id, "slack", flow.organization_id, _failed(flow))
    assert await store.claim(flow.flow_id, "slack") is None
