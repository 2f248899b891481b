"""Pickers across services: oauth-gateway lists what a brand can pick with the credential it
gets from connection-store (real PostgreSQL), the provider sandbox plays the listing, and the
store checks a saved setting against that listing."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from connection_store.adapters.database import Database, create_pool
from connection_store.adapters.listings import GatewayListings
from connection_store.adapters.migrations import migrate
from connection_store.adapters.store import PostgresStore
from connection_store.app import create_app as create_store
from connection_store.service.connections import ConnectionEvents
from connection_store.settings import StoreSettings
from hub_catalog import PlatformCredentials, load_catalog
from hub_contracts import ConnectionEstablishedV1, Event
from oauth_gateway.adapters.credentials import StoreCredentials
from oauth_gateway.app import create_app as create_gateway
from oauth_gateway.service.ports import PendingFlow
from oauth_gateway.settings import DEVELOPMENT_JWT_SECRET, GatewaySettings
from provider_sandbox import SandboxSettings, example_value, platform_environment
from provider_sandbox import create_app as create_sandbox
from pydantic import SecretStr

pytestmark = pytest.mark.integration

SANDBOX = "http://sandbox.test"
CATALOG = load_catalog(base_url_override=SANDBOX)


class NoFlows:
    """The OAuth flow store (unused: these tests connect by API key)."""

    async def create(self, flow: PendingFlow) -> None:
        raise AssertionError("no OAuth flow here")

    async def consume(self, flow_id: uuid.UUID, provider: str) -> PendingFlow | None:
        raise AssertionError("no OAuth flow here")


@dataclass
class Captured:
    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class Stack:
    gateway: httpx.AsyncClient
    store: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    events: Captured
    apply: ConnectionEvents
    org: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        claims = {
            "sub": "admin-1",
            "org": str(self.org),
            "scope": "integrations:read integrations:write",
            "exp": datetime.now(UTC) + timedelta(hours=1),
        }
        return {"Authorization": "Bearer " + jwt.encode(claims, DEVELOPMENT_JWT_SECRET, "HS256")}

    async def connect_klaviyo(self) -> None:
        mode = CATALOG.get("klaviyo").auth
        fields = {f.name: example_value(f) for f in mode.fields}
        answer = await self.gateway.post(
            f"/v1/orgs/{self.org}/integrations/klaviyo/credentials",
            json={"fields": fields},
            headers=self.headers,
        )
        assert answer.status_code == 201, answer.text
        (event,) = [e for e in self.events.events if isinstance(e, ConnectionEstablishedV1)]
        await self.apply.established("test", event)

    async def calls(self, provider: str) -> dict[str, int]:
        counts: dict[str, dict[str, int]] = (await self.sandbox.get("/_sandbox/calls")).json()
        return counts.get(provider, {})


@pytest.fixture
async def stack(owner_database_url: str, login_database_url: str) -> AsyncIterator[Stack]:
    await migrate(owner_database_url)
    database_url = login_database_url
    sandbox_app = create_sandbox(SandboxSettings(), catalog=load_catalog())
    sandbox = httpx.AsyncClient(transport=httpx.ASGITransport(sandbox_app), base_url=SANDBOX)
    to_gateway = httpx.ASGITransport(app=None)  # type: ignore[arg-type] # set below
    store_app = create_store(
        StoreSettings(database_url=database_url, migrate_on_start=False),
        catalog=CATALOG,
        platform=PlatformCredentials({}),
        listings=GatewayListings("http://gateway.test", transport=to_gateway),
        run_consumers=False,
        run_background=False,
        start_broker=False,
    )
    keys = "test1:" + base64.b64encode(os.urandom(32)).decode()
    settings = GatewaySettings(credential_keys=SecretStr(keys), migrate_on_start=False)
    events = Captured()
    gateway_app = create_gateway(
        settings,
        catalog=CATALOG,
        platform=PlatformCredentials(platform_environment(CATALOG)),
        outbound_transport=sandbox._transport,
        resolver=_no_dns,
        flows=NoFlows(),
        events=events,
        credentials=StoreCredentials(
            "http://store.test",
            settings.service_token_secret,
            transport=httpx.ASGITransport(store_app),
        ),
    )
    to_gateway.app = gateway_app
    pool = await create_pool(database_url, size=2)
    apply = ConnectionEvents(
        PostgresStore(Database(pool)), CATALOG, check_interval_s=3600, check_jitter=0.0
    )
    async with (
        store_app.router.lifespan_context(store_app),
        gateway_app.router.lifespan_context(gateway_app),
        httpx.AsyncClient(transport=to_gateway, base_url="http://gateway.test") as gateway,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(store_app), base_url="http://store.test"
        ) as store,
        sandbox,
    ):
        yield Stack(gateway, store, sandbox, events, apply, uuid.uuid4())
    await pool.close()


async def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"only the sandbox may be reached, not {host}")


async def test_the_gateway_lists_with_the_stored_credential_and_caches_it(stack: Stack) -> None:
    await stack.connect_klaviyo()
    path = f"/v1/orgs/{stack.org}/integrations/klaviyo/resources/lists"
    first = await stack.gateway.get(path, headers=stack.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["kind"] == "lists"
    assert body["items"] == [
        {"id": "Y6nRLr", "name": "Newsletter"},
        {"id": "XyZ123", "name": "VIP customers"},
    ]
    assert datetime.fromisoformat(body["fetched_at"]) <= datetime.now(UTC)
    again = await stack.gateway.get(path, headers=stack.headers)
    assert again.json() == body
    assert (await stack.calls("klaviyo")).get("resource.lists") == 1  # the second came from memory
    segments = await stack.gateway.get(path.replace("lists", "segments"), headers=stack.headers)
    assert [item["id"] for item in segments.json()["items"]] == ["SeG001", "SeG002"]


async def test_a_listing_needs_a_connection_a_known_kind_and_its_params(stack: Stack) -> None:
    base = f"/v1/orgs/{stack.org}/integrations"
    unconnected = await stack.gateway.get(f"{base}/slack/resources/channels", headers=stack.headers)
    assert (unconnected.status_code, unconnected.json()["error"]["code"]) == (409, "not_connected")
    unknown = await stack.gateway.get(f"{base}/klaviyo/resources/nope", headers=stack.headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_resource")
    pixels = await stack.gateway.get(f"{base}/meta_ads/resources/pixels", headers=stack.headers)
    assert (pixels.status_code, pixels.json()["error"]["field"]) == (422, "ad_account_id")
    other = {"Authorization": stack.headers["Authorization"].replace("a", "b", 1)}
    refused = await stack.gateway.get(f"{base}/klaviyo/resources/lists", headers=other)
    assert refused.status_code == 401


async def test_the_store_checks_a_picked_setting_against_the_listing(stack: Stack) -> None:
    await stack.connect_klaviyo()
    path = f"/v1/orgs/{stack.org}/integrations/klaviyo/settings"
    listed = await stack.store.patch(path, json={"list_ids": ["Y6nRLr"]}, headers=stack.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["settings"]["list_ids"] == ["Y6nRLr"]
    typed = await stack.store.patch(path, json={"segment_ids": ["Nope12"]}, headers=stack.headers)
    assert typed.status_code == 422, typed.text
    assert (typed.json()["error"]["code"], typed.json()["error"]["field"]) == (
        "invalid_setting",
        "segment_ids",
    )
    schema = (await stack.store.get("/v1/providers", headers=stack.headers)).json()
    klaviyo = next(p for p in schema["providers"] if p["id"] == "klaviyo")
    assert klaviyo["settings_schema"]["properties"]["segment_ids"]["x-resource"] == "segments"
