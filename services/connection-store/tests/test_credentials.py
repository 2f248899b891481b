"""The credentials API for hub services against the real PostgreSQL (the app in-process, no
broker): who may read, what a read answers, the audit, and the on-demand refresh answered by the
store's own consumers (token.refreshed, connection.unhealthy) through the outbox and NOTIFY."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.app import create_app
from connection_store.auth import (
    CREDENTIALS_READ,
    NOTIFICATION_CONTEXT,
    READ,
    issue_service_token,
    issue_token,
)
from connection_store.service.connections import ConnectionEvents
from connection_store.service.due import DueWork
from connection_store.service.sweeps import Sweeper
from connection_store.settings import StoreSettings
from hub_catalog import PlatformCredentials, load_catalog
from hub_contracts import ConnectionUnhealthyV1, Credentials, TokenRefreshedV1, connection_id
from hub_keyring import Binding, KeyRing, new_key_spec
from hub_runtime.metrics import sample
from pydantic import SecretStr

from .test_http_routes import outbox, seed

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
SPEC = new_key_spec("t1")
RING = KeyRing.from_spec(SPEC)
PLATFORM_RESEND_KEY = "re_platform_shared_key_0123456789"


def seal(org: uuid.UUID, provider: str, field: str, value: str) -> dict[str, Any]:
    return RING.encrypt(value, Binding(org, provider, field)).model_dump(mode="json")


@pytest.fixture
def settings(store_settings: StoreSettings) -> StoreSettings:
    return store_settings.model_copy(
        update={
            "credential_keys": SecretStr(SPEC),
            "credentials_wait_s": 15.0,
            "credentials_poll_s": 0.2,
            "credentials_retry_after_s": 7,
        }
    )


async def _client(settings: StoreSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings,
        run_consumers=False,
        run_background=False,
        start_broker=False,
        platform=PlatformCredentials({"RESEND_API_KEY": PLATFORM_RESEND_KEY}),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://store") as http,
    ):
        yield http


@pytest.fixture
async def client(settings: StoreSettings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(settings):
        yield http


@pytest.fixture
def events(db: Database) -> ConnectionEvents:
    return ConnectionEvents(PostgresStore(db), CATALOG, check_interval_s=3600, check_jitter=0.1)


def service(
    settings: StoreSettings,
    providers: list[str],
    *,
    name: str = "spend-sync",
    scopes: tuple[str, ...] = (CREDENTIALS_READ,),
) -> dict[str, str]:
    token = issue_service_token(settings.service_token_secret, name, scopes, providers=providers)
    return {"Authorization": f"Bearer {token}"}


def admin(settings: StoreSettings, org: uuid.UUID) -> dict[str, str]:
    token = issue_token(settings.jwt_secret, org, scopes=[READ], subject="ada")
    return {"Authorization": f"Bearer {token}"}


def url(org: uuid.UUID, provider: str, min_ttl_s: int | str | None = None) -> str:
    query = "" if min_ttl_s is None else f"?min_ttl_s={min_ttl_s}"
    return f"/v1/orgs/{org}/integrations/{provider}/credentials{query}"


async def seed_oauth(
    db: Database, org: uuid.UUID, provider: str, *, token: str, expires_in_s: float, **columns: Any
) -> dict[str, Any]:
    return await seed(
        db,
        org,
        provider,
        id=connection_id(org, provider),
        access_token_encrypted=seal(org, provider, "access_token", token),
        refresh_token_encrypted=seal(org, provider, "refresh_token", "REFRESH-TOKEN-stays-home"),
        token_expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
        account_id="acct-9",
        **columns,
    )


async def asked(db: Database, org: uuid.UUID) -> list[dict[str, Any]]:
    """The outbox once it holds something (the reads' transactions commit in their own time)."""
    for _ in range(200):
        found = await outbox(db, org)
        if found:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError("nothing was asked")


async def reads(db: Database, org: uuid.UUID) -> list[dict[str, Any]]:
    async with db.worker() as connection:
        records = await connection.fetch(
            "SELECT * FROM credential_reads WHERE organization_id = $1 ORDER BY id", org
        )
    return [dict(r) for r in records]


async def test_an_api_key_is_served_to_a_service_that_may_read_it_and_the_read_is_audited(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    await seed(
        db,
        org,
        "klaviyo",
        auth_type="api_key",
        access_token_encrypted=None,
        refresh_token_encrypted=None,
        credential_fields_encrypted={
            "private_api_key": seal(org, "klaviyo", "private_api_key", "pk_klaviyo_1")
        },
        credential_version=3,
    )
    answer = await client.get(url(org, "klaviyo"), headers=service(settings, ["klaviyo"]))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["fields"] == {"private_api_key": "pk_klaviyo_1"}
    assert (body["organization_id"], body["provider"], body["auth_type"]) == (
        str(org),
        "klaviyo",
        "api_key",
    )
    assert body["credential_version"] == 3
    assert body["expires_at"] is None
    assert set(body["account"]) == {"id", "name"}
    [read] = await reads(db, org)
    assert (read["service"], read["provider"], read["outcome"], read["credential_version"]) == (
        "spend-sync",
        "klaviyo",
        "served",
        3,
    )
    assert "pk_klaviyo_1" not in repr(read)

    log = await client.get(
        f"/v1/orgs/{org}/integrations/klaviyo/access-log", headers=admin(settings, org)
    )
    assert log.status_code == 200, log.text
    [item] = log.json()["items"]
    assert (item["service"], item["outcome"], item["credential_version"]) == (
        "spend-sync",
        "served",
        3,
    )
    metrics = (await client.get("/metrics")).text
    assert (
        sample(
            metrics,
            "connection_store_credential_reads_total",
            service="spend-sync",
            provider="klaviyo",
            outcome="served",
        )
        == 1
    )


async def test_a_fresh_oauth_token_is_served_without_the_refresh_token(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    await seed_oauth(
        db, org, "shopify", token="shpat_fresh", expires_in_s=7200, metadata={"shop": "acme"}
    )
    answer = await client.get(url(org, "shopify", 300), headers=service(settings, ["shopify"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["fields"] == {"access_token": "shpat_fresh", "shop": "acme"}
    assert body["account"] == {"id": "acct-9", "name": f"shopify account of {org}"}
    assert "REFRESH-TOKEN-stays-home" not in answer.text
    assert await outbox(db, org) == []


async def test_a_remint_provider_serves_its_minted_token_not_the_secret_that_mints_it(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    await seed(
        db,
        org,
        "yotpo",
        auth_type="token_exchange",
        access_token_encrypted=seal(org, "yotpo", "access_token", "yotpo-minted-token"),
        refresh_token_encrypted=None,
        credential_fields_encrypted={
            "store_id": seal(org, "yotpo", "store_id", "store_12345678"),
            "secret": seal(org, "yotpo", "secret", "YOTPO-SECRET-KEY"),
        },
        token_expires_at=datetime.now(UTC) + timedelta(days=10),
    )
    answer = await client.get(url(org, "yotpo"), headers=service(settings, ["yotpo"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == {
        "access_token": "yotpo-minted-token",
        "store_id": "store_12345678",
    }


async def test_who_may_not_read_gets_403_and_the_refusal_is_audited(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    await seed_oauth(db, org, "google_ads", token="ya29.fresh", expires_in_s=7200)
    other = await client.get(url(org, "google_ads"), headers=service(settings, ["meta_ads"]))
    assert other.status_code == 403, other.text
    assert other.json()["error"]["code"] == "provider_not_allowed"
    brand_admin = await client.get(url(org, "google_ads"), headers=admin(settings, org))
    assert brand_admin.status_code == 403, brand_admin.text
    assert brand_admin.json()["error"]["code"] == "service_token_required"
    notifier = await client.get(
        url(org, "google_ads"),
        headers=service(settings, ["google_ads"], name="notifier", scopes=(NOTIFICATION_CONTEXT,)),
    )
    assert notifier.status_code == 403
    assert notifier.json()["error"]["code"] == "insufficient_scope"
    garbage = await client.get(url(org, "google_ads"), headers={"Authorization": "Bearer x.y.z"})
    assert garbage.status_code == 401
    for refused in (other, brand_admin, notifier, garbage):
        assert "ya29.fresh" not in refused.text
    assert [r["outcome"] for r in await reads(db, org)] == ["provider_not_allowed"]


async def test_not_connected_is_404_and_a_configured_platform_account_is_served_instead(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    headers = service(settings, ["google_ads", "resend", "meta_ads"])
    missing = await client.get(url(org, "google_ads"), headers=headers)
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["code"] == "not_connected"
    await seed_oauth(
        db, org, "meta_ads", token="EAAB-old", expires_in_s=7200, status="disconnected"
    )
    gone = await client.get(url(org, "meta_ads"), headers=headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_connected")
    shared = await client.get(url(org, "resend"), headers=headers)
    assert shared.status_code == 200, shared.text
    assert shared.json()["fields"] == {"api_key": PLATFORM_RESEND_KEY}
    assert shared.json()["metadata"] == {"account_source": "platform"}
    unknown = await client.get(url(org, "no_such_provider"), headers=headers)
    assert unknown.status_code == 404
    assert [r["outcome"] for r in await reads(db, org)] == [
        "not_connected",
        "not_connected",
        "served_platform",
    ]


async def test_a_revoked_connection_is_409_naming_the_brands_next_step(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    await seed_oauth(
        db,
        org,
        "slack",
        token="xoxe-revoked",
        expires_in_s=-60,
        status="expired",
        last_error_code="revoked",
    )
    answer = await client.get(url(org, "slack"), headers=service(settings, ["slack"]))
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "reconnect_required"
    assert "Reconnect Slack" in error["message"]
    assert "xoxe-revoked" not in answer.text
    assert await outbox(db, org) == []


@pytest.mark.parametrize("value", ["-1", "3601", "soon", "1.5"])
async def test_a_bad_min_ttl_is_422(
    client: httpx.AsyncClient, settings: StoreSettings, value: str
) -> None:
    answer = await client.get(
        url(uuid.uuid4(), "klaviyo", value), headers=service(settings, ["klaviyo"])
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "query.min_ttl_s"


async def test_each_service_is_rate_limited_on_its_own_with_429_and_retry_after(
    settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    limited = settings.model_copy(update={"credentials_rate_per_s": 0.5, "credentials_burst": 2})
    async for client in _client(limited):
        hasty = service(settings, ["klaviyo"], name="hasty")
        answers = [await client.get(url(org, "klaviyo"), headers=hasty) for _ in range(3)]
        assert [a.status_code for a in answers] == [404, 404, 429]
        assert answers[2].json()["error"]["code"] == "rate_limited"
        assert int(answers[2].headers["retry-after"]) >= 1
        calm = await client.get(url(org, "klaviyo"), headers=service(settings, ["klaviyo"]))
        assert calm.status_code == 404


async def test_a_service_reads_any_organization_but_each_brand_sees_only_its_own_access_log(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await seed_oauth(db, first, "google_ads", token="ya29.first", expires_in_s=7200)
    await seed_oauth(db, second, "google_ads", token="ya29.second", expires_in_s=7200)
    headers = service(settings, ["google_ads"])
    one = await client.get(url(first, "google_ads"), headers=headers)
    two = await client.get(url(second, "google_ads"), headers=headers)
    assert (one.json()["fields"]["access_token"], two.json()["fields"]["access_token"]) == (
        "ya29.first",
        "ya29.second",
    )
    await client.get(url(first, "google_ads"), headers=headers)
    mine = await client.get(
        f"/v1/orgs/{second}/integrations/google_ads/access-log?limit=1",
        headers=admin(settings, second),
    )
    assert [i["credential_version"] for i in mine.json()["items"]] == [1]
    assert mine.json()["next_cursor"] is None
    paged = await client.get(
        f"/v1/orgs/{first}/integrations/google_ads/access-log?limit=1",
        headers=admin(settings, first),
    )
    assert len(paged.json()["items"]) == 1
    assert paged.json()["next_cursor"] is not None
    nosy = await client.get(
        f"/v1/orgs/{first}/integrations/google_ads/access-log", headers=admin(settings, second)
    )
    assert nosy.status_code == 404
    by_service = await client.get(
        f"/v1/orgs/{first}/integrations/google_ads/access-log", headers=headers
    )
    assert by_service.status_code == 401


def _refreshed_event(org: uuid.UUID, provider: str, version: int, token: str) -> TokenRefreshedV1:
    return TokenRefreshedV1(
        organization_id=org,
        provider=provider,
        connection_id=connection_id(org, provider),
        credential_version=version,
        credentials=Credentials.model_validate(
            {"access_token": seal(org, provider, "access_token", token)}
        ),
        token_expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


async def test_reads_of_an_expiring_token_share_one_on_demand_refresh_and_get_the_new_token(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database, events: ConnectionEvents
) -> None:
    org = uuid.uuid4()
    await seed_oauth(db, org, "google_ads", token="ya29.old", expires_in_s=60)
    headers = service(settings, ["google_ads"])
    waiting = [
        asyncio.create_task(client.get(url(org, "google_ads", 300), headers=headers))
        for _ in range(8)
    ]
    [question] = await asked(db, org)
    await asyncio.sleep(0.3)
    assert not any(task.done() for task in waiting)
    assert question["topic"] == "token.expiring"
    assert question["payload"]["trigger"] == "on_demand"
    assert question["payload"]["credential_version"] == 1
    await events.refreshed(
        "connection-store.on_refreshed", _refreshed_event(org, "google_ads", 2, "ya29.new")
    )
    answers = await asyncio.gather(*waiting)
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["fields"]["access_token"] for a in answers} == {"ya29.new"}
    assert {a.json()["credential_version"] for a in answers} == {2}
    assert len(await outbox(db, org)) == 1
    metrics = (await client.get("/metrics")).text
    refreshes = "connection_store_credential_refreshes_total"
    assert (
        sample(metrics, refreshes, provider="google_ads", role="claimed", outcome="refreshed") == 1
    )
    assert (
        sample(metrics, refreshes, provider="google_ads", role="joined", outcome="refreshed") == 7
    )


async def test_a_refresh_that_fails_is_503_with_retry_after_and_is_not_asked_again_at_once(
    client: httpx.AsyncClient, settings: StoreSettings, db: Database, events: ConnectionEvents
) -> None:
    org = uuid.uuid4()
    await seed_oauth(db, org, "google_ads", token="ya29.expired", expires_in_s=-5)
    headers = service(settings, ["google_ads"])
    waiting = asyncio.create_task(client.get(url(org, "google_ads"), headers=headers))
    await asked(db, org)
    await events.unhealthy(
        "connection-store.on_unhealthy",
        ConnectionUnhealthyV1(
            organization_id=org,
            provider="google_ads",
            connection_id=connection_id(org, "google_ads"),
            credential_version=1,
            reason="provider_unavailable",
            message="Google Ads is not answering.",
            detected_by="token-refresher",
        ),
    )
    answer = await waiting
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "refresh_unavailable"
    assert answer.headers["retry-after"] == "7"
    assert "ya29.expired" not in answer.text
    again = await client.get(url(org, "google_ads"), headers=headers)
    assert again.status_code == 503
    assert len(await outbox(db, org)) == 1
    assert [r["outcome"] for r in await reads(db, org)] == ["refresh_unavailable"] * 2


async def test_a_refresh_that_does_not_finish_in_time_is_503_and_the_expired_token_stays_home(
    settings: StoreSettings, db: Database
) -> None:
    org = uuid.uuid4()
    await seed_oauth(db, org, "shopify", token="shpat_expired", expires_in_s=-1)
    async for client in _client(settings.model_copy(update={"credentials_wait_s": 2.0})):
        started = asyncio.get_running_loop().time()
        answer = await client.get(url(org, "shopify"), headers=service(settings, ["shopify"]))
        waited = asyncio.get_running_loop().time() - started
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "refresh_unavailable"
    assert "did not finish in time" in answer.json()["error"]["message"]
    assert "shpat_expired" not in answer.text
    assert waited >= 1.8


async def test_the_sweep_purges_reads_past_their_retention(db: Database) -> None:
    org = uuid.uuid4()
    now = datetime.now(UTC)
    async with db.tenant(org) as connection:
        for days in (100, 1):
            await connection.execute(
                """INSERT INTO credential_reads
                       (organization_id, provider, service, outcome, credential_version, at)
                   VALUES ($1, 'klaviyo', 'spend-sync', 'served', 1, $2)""",
                org,
                now - timedelta(days=days),
            )
    purged: list[int] = []
    sweeper = Sweeper(
        PostgresStore(db),
        DueWork(CATALOG, check_interval_s=3600, check_jitter=0.1, refresh_retry_s=300),
        batch_size=10,
        reads_retention_s=90 * 86400,
        on_purged=purged.append,
    )
    assert await sweeper.purge_reads() >= 1
    assert [r["at"] > now - timedelta(days=2) for r in await reads(db, org)] == [True]
    assert purged
    assert purged[0] >= 1


async def test_the_audit_is_append_only_for_the_services_roles(db: Database) -> None:
    org = uuid.uuid4()
    async with db.tenant(org) as connection:
        await connection.execute(
            """INSERT INTO credential_reads (organization_id, provider, service, outcome)
               VALUES ($1, 'klaviyo', 'spend-sync', 'served')""",
            org,
        )
    for transaction in (db.tenant(org), db.worker()):
        async with transaction as connection:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(
                    "UPDATE credential_reads SET outcome = 'x' WHERE organization_id = $1", org
                )
    async with db.tenant(org) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM credential_reads WHERE organization_id = $1", org)
