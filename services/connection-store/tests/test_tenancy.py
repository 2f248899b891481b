"""Tenant isolation (SECURITY.md 17-19): another tenant's objects are 404s on every route, the
tenant comes only from the token, and row-level security holds under interleaved requests."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from connection_store.adapters.database import Database, create_pool
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_token
from connection_store.settings import StoreSettings
from fastapi import FastAPI
from hub_contracts import EncryptedCredential

pytestmark = pytest.mark.integration
ORG_ROUTES_BODIES: dict[tuple[str, str], Any] = {
    ("get", "/v1/orgs/{org_id}/integrations"): None,
    ("get", "/v1/orgs/{org_id}/integrations/{provider}"): None,
    ("get", "/v1/orgs/{org_id}/integrations/{provider}/history"): None,
    ("get", "/v1/orgs/{org_id}/integrations/{provider}/access-log"): None,
    ("patch", "/v1/orgs/{org_id}/integrations/{provider}/settings"): {"capi_enabled": True},
    ("post", "/v1/orgs/{org_id}/integrations/{provider}/sync"): None,
    ("get", "/v1/orgs/{org_id}/flags"): None,
    ("put", "/v1/orgs/{org_id}/flags"): {"flags": {"integrations.meta_ads": True}},
    ("delete", "/v1/orgs/{org_id}/integrations/{provider}"): None,
    ("get", "/v1/orgs/{org_id}/notifications"): None,
    ("patch", "/v1/orgs/{org_id}/notifications"): {"email_recipients": ["ops@brand.test"]},
}
"""Every organization route with a body that succeeds for its own tenant; a new route fails the
matrix until it is added here."""
SERVICE_ROUTES = {("get", "/v1/orgs/{org_id}/integrations/{provider}/credentials")}
"""Hub services' routes: any organization, for the providers their token names; a brand
admin's token is refused there with 403 (test_credentials)."""
TENANTLESS_ROUTES = {"/v1/providers", "/v1/onboarding", "/healthz", "/readyz", "/metrics"}
SUCCESS = {"get": 200, "patch": 200, "post": 202, "put": 200, "delete": 204}


def _sealed() -> dict[str, Any]:
    return EncryptedCredential(
        key_id="k1", nonce=os.urandom(12), ciphertext=os.urandom(32)
    ).model_dump(mode="json")


async def seed(db: Database, org: uuid.UUID, provider: str, account: str) -> None:
    now = datetime.now(UTC)
    async with db.worker() as connection:
        await connection.execute(
            """INSERT INTO integration_connections
                   (id, organization_id, provider, auth_type, access_token_encrypted,
                    credential_version, status, account_name, settings, connected_at,
                    token_expires_at, next_refresh_at, next_check_at)
               VALUES ($1, $2, $3, 'oauth2_authorization_code', $4, 1, 'active', $5,
                       '{"pixel_id": "7"}', $6, $7, $8, $9)""",
            uuid.uuid4(),
            org,
            provider,
            _sealed(),
            account,
            now,
            now + timedelta(days=2),
            now,
            now + timedelta(hours=6),
        )
        await connection.execute(
            """INSERT INTO organization_flags (organization_id, flag, enabled)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
            org,
            "integrations.ga4",
            False,
        )


async def snapshot(db: Database, org: uuid.UUID) -> tuple[Any, ...]:
    async with db.worker() as connection:
        rows = await connection.fetch(
            "SELECT * FROM integration_connections WHERE organization_id = $1 ORDER BY provider",
            org,
        )
        flags = await connection.fetch(
            "SELECT flag, enabled FROM organization_flags WHERE organization_id = $1", org
        )
        events = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE organization_id = $1", org
        )
    return [dict(r) for r in rows], sorted(tuple(f) for f in flags), events


def _auth(settings: StoreSettings, org: uuid.UUID) -> dict[str, str]:
    token = issue_token(settings.jwt_secret, org, scopes=[READ, WRITE], subject=f"admin-{org}")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def app(store_settings: StoreSettings) -> AsyncIterator[FastAPI]:
    settings = store_settings.model_copy(update={"database_pool_size": 2})
    app = create_app(settings, run_consumers=False, run_background=False, start_broker=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://store") as http:
        yield http


def _order(route: tuple[str, str]) -> int:
    return ["get", "patch", "post", "put", "delete"].index(route[0])


async def test_every_organization_route_answers_404_to_another_tenant(
    app: FastAPI, client: httpx.AsyncClient, db: Database, store_settings: StoreSettings
) -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    await seed(db, org_a, "meta_ads", "Tenant A Ads")
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    routes = {
        (method, path)
        for path, operations in paths.items()
        for method in operations
        if "{org_id}" in path and (method, path) not in SERVICE_ROUTES
    }
    assert routes == set(ORG_ROUTES_BODIES), "add the new route to ORG_ROUTES_BODIES"
    assert set(paths) - {path for _, path in routes | SERVICE_ROUTES} == TENANTLESS_ROUTES
    before = await snapshot(db, org_a)
    tenant_b = _auth(store_settings, org_b)
    for method, template in sorted(routes, key=_order):
        path = template.format(org_id=org_a, provider="meta_ads")
        body = ORG_ROUTES_BODIES[(method, template)]
        response = await client.request(method, path, headers=tenant_b, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found", (method, path)
        assert "Tenant A" not in response.text
    assert await snapshot(db, org_a) == before
    assert await snapshot(db, org_b) == ([], [], 0)
    # The same requests from tenant A's own token do take effect: the 404s were tenancy.
    tenant_a = _auth(store_settings, org_a)
    for method, template in sorted(routes, key=_order):
        path = template.format(org_id=org_a, provider="meta_ads")
        body = ORG_ROUTES_BODIES[(method, template)]
        response = await client.request(method, path, headers=tenant_a, json=body)
        assert response.status_code == SUCCESS[method], (method, path, response.text)
    assert await snapshot(db, org_a) != before


async def test_another_tenants_connection_is_invisible_on_ones_own_path(
    client: httpx.AsyncClient, db: Database, store_settings: StoreSettings
) -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    await seed(db, org_a, "meta_ads", "Tenant A Ads")
    tenant_b = _auth(store_settings, org_b)
    base = f"/v1/orgs/{org_b}"
    detail = await client.get(f"{base}/integrations/meta_ads", headers=tenant_b)
    assert detail.json()["status"] == "not_connected"
    sync = await client.post(f"{base}/integrations/meta_ads/sync", headers=tenant_b)
    assert sync.status_code == 409
    gone = await client.delete(f"{base}/integrations/meta_ads", headers=tenant_b)
    assert gone.status_code == 404
    flags = await client.get(f"{base}/flags", headers=tenant_b)
    assert flags.json()["flags"]["integrations.ga4"] is True  # A turned it off, not B
    for response in (detail, sync, gone, flags):
        assert "Tenant A" not in response.text


async def test_an_organization_named_in_the_query_header_or_body_changes_nothing(
    client: httpx.AsyncClient, db: Database, store_settings: StoreSettings
) -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    await seed(db, org_a, "meta_ads", "Tenant A Ads")
    await seed(db, org_b, "meta_ads", "Tenant B Ads")
    before_b = await snapshot(db, org_b)
    tenant_a = _auth(store_settings, org_a)
    spoof = {**tenant_a, "X-Organization-Id": str(org_b), "X-Org": str(org_b)}
    base = f"/v1/orgs/{org_a}"
    query = {"org_id": str(org_b), "organization_id": str(org_b), "org": str(org_b)}
    listing = await client.get(f"{base}/integrations", headers=spoof, params=query)
    assert listing.json()["organization_id"] == str(org_a)
    assert "Tenant A Ads" in listing.text
    assert "Tenant B Ads" not in listing.text
    settings = await client.patch(
        f"{base}/integrations/meta_ads/settings",
        headers=spoof,
        params=query,
        json={"organization_id": str(org_b), "pixel_id": "1"},
    )
    assert (settings.status_code, settings.json()["error"]["field"]) == (422, "organization_id")
    flags = await client.put(
        f"{base}/flags",
        headers=spoof,
        json={"organization_id": str(org_b), "flags": {"integrations.ga4": True}},
    )
    assert flags.status_code == 422
    synced = await client.post(f"{base}/integrations/meta_ads/sync", headers=spoof, params=query)
    assert synced.status_code == 202
    removed = await client.delete(f"{base}/integrations/meta_ads", headers=spoof, params=query)
    assert removed.status_code == 204
    assert await snapshot(db, org_b) == before_b
    after_a = await snapshot(db, org_a)
    assert after_a[0][0]["status"] == "disconnected"
    assert after_a[2] == 3  # check_due, token.expiring, disconnected: all tenant A's


async def test_interleaved_requests_of_two_tenants_on_a_pool_of_two_never_mix(
    app: FastAPI, client: httpx.AsyncClient, db: Database, store_settings: StoreSettings
) -> None:
    assert app.state.db.pool.get_max_size() == 2
    orgs = [uuid.uuid4(), uuid.uuid4()]
    for org in orgs:
        await seed(db, org, "meta_ads", f"account-of-{org}")
        await seed(db, org, "slack", f"workspace-of-{org}")
    auths = {org: _auth(store_settings, org) for org in orgs}
    rng = random.Random(7)
    plan = [
        (org, rng.choice(["integrations", "integrations/meta_ads", "integrations/slack", "flags"]))
        for org in (rng.choice(orgs) for _ in range(200))
    ]

    async def call(org: uuid.UUID, tail: str) -> tuple[uuid.UUID, httpx.Response]:
        return org, await client.get(f"/v1/orgs/{org}/{tail}", headers=auths[org])

    results = await asyncio.gather(*(call(org, tail) for org, tail in plan))
    assert {org for org, _ in results} == set(orgs)
    for org, response in results:
        assert response.status_code == 200
        other = next(o for o in orgs if o != org)
        assert str(other) not in response.text
        if "account-of" in response.text:
            assert f"account-of-{org}" in response.text


async def test_row_level_security_alone_hides_other_tenants_under_interleaving(
    migrated_database_url: str,
) -> None:
    pool = await create_pool(migrated_database_url, size=2)
    db = Database(pool)
    orgs = [uuid.uuid4() for _ in range(3)]
    try:
        for org in orgs:
            await seed(db, org, "klaviyo", f"list-of-{org}")

        async def unfiltered(org: uuid.UUID) -> tuple[uuid.UUID, set[Any]]:
            async with db.tenant(org) as connection:
                await connection.execute("SELECT pg_sleep(0.002)")
                rows = await connection.fetch(
                    "SELECT organization_id, account_name FROM integration_connections"
                )
                flags = await connection.fetch("SELECT organization_id FROM organization_flags")
            return org, {tuple(r) for r in rows} | {tuple(f) for f in flags}

        results = await asyncio.gather(*(unfiltered(orgs[i % 3]) for i in range(120)))
        for org, seen in results:
            assert seen == {(org, f"list-of-{org}"), (org,)}
        async with pool.acquire() as connection:
            role = await connection.fetchval("SELECT current_user")
            setting = await connection.fetchval(
                "SELECT current_setting('app.organization_id', true)"
            )
        assert role != "hub_app"
        assert not setting
    finally:
        await pool.close()
