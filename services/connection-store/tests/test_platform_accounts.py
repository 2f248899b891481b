"""Shared platform accounts: a brand without its own key uses the platform's, and may switch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from connection_store.adapters.database import Database
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_token
from connection_store.settings import StoreSettings
from hub_catalog import PlatformCredentials, load_catalog

from .test_http_routes import seed

CATALOG = load_catalog()
RETELL_ONLY = {"RETELL_API_KEY": "key_platform"}


@pytest.fixture
async def client(store_settings: StoreSettings) -> AsyncIterator[httpx.AsyncClient]:
    platform = PlatformCredentials.from_environment(CATALOG, RETELL_ONLY)
    app = create_app(
        store_settings,
        catalog=CATALOG,
        platform=platform,
        run_consumers=False,
        run_background=False,
        start_broker=False,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://store") as http,
    ):
        yield http


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def auth(store_settings: StoreSettings, org: uuid.UUID) -> dict[str, str]:
    token = issue_token(store_settings.jwt_secret, org, scopes=[READ, WRITE], subject="ada")
    return {"Authorization": f"Bearer {token}"}


def _by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for group in body["groups"].values() for item in group}


async def test_a_brand_without_a_key_uses_the_configured_platform_account(
    client: httpx.AsyncClient, org: uuid.UUID, auth: dict[str, str]
) -> None:
    hub = _by_id((await client.get(f"/v1/orgs/{org}/integrations", headers=auth)).json())
    assert hub["retell"]["account_source"] == "platform"
    assert hub["elevenlabs"]["account_source"] is None  # has a shared account, not configured
    assert hub["slack"]["account_source"] is None  # no shared account at all
    assert hub["retell"]["platform_account_available"] is True
    assert hub["elevenlabs"]["platform_account_available"] is False
    detail = await client.get(f"/v1/orgs/{org}/integrations/retell", headers=auth)
    assert detail.json()["account_source"] == "platform"


async def test_the_brand_switches_to_its_own_key_and_back(
    client: httpx.AsyncClient, db: Database, org: uuid.UUID, auth: dict[str, str]
) -> None:
    await seed(db, org, "retell", auth_type="api_key", refresh_token_encrypted=None)
    own = await client.get(f"/v1/orgs/{org}/integrations/retell", headers=auth)
    assert own.json()["account_source"] == "brand"
    assert own.json()["platform_account_available"] is True  # so it can switch back
    removed = await client.delete(f"/v1/orgs/{org}/integrations/retell", headers=auth)
    assert removed.status_code in (200, 202, 204), removed.text
    back = await client.get(f"/v1/orgs/{org}/integrations/retell", headers=auth)
    assert back.json()["account_source"] == "platform"
