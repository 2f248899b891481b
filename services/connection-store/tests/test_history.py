"""The integration timeline: recorded from the events the store consumes (and its own
disconnect), served newest first in pages, per organization, without a secret."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from connection_store import handlers
from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_token
from connection_store.service.connections import ConnectionEvents
from connection_store.settings import StoreSettings
from hub_catalog import load_catalog
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    ConnectionRequestedV1,
    ConnectionUnhealthyV1,
    Credentials,
    EncryptedCredential,
    connection_id,
)

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
CIPHERTEXT = os.urandom(48)


@pytest.fixture
async def client(store_settings: StoreSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store_settings, run_consumers=False, run_background=False, start_broker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as http,
    ):
        yield http


def _auth(settings: StoreSettings, org: uuid.UUID) -> dict[str, str]:
    token = issue_token(settings.jwt_secret, org, scopes=[READ, WRITE], subject="ada")
    return {"Authorization": f"Bearer {token}"}


async def _consume(
    db: Database, settings: StoreSettings, org: uuid.UUID
) -> ConnectionEstablishedV1:
    events = ConnectionEvents(
        PostgresStore(db),
        CATALOG,
        check_interval_s=settings.check_interval_s,
        check_jitter=settings.check_jitter,
    )
    sealed = EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=CIPHERTEXT)
    requested = ConnectionRequestedV1(
        organization_id=org,
        provider="slack",
        flow_id=uuid.uuid4(),
        auth_type="oauth2_authorization_code",
        requested_by="ada",
    )
    established = ConnectionEstablishedV1(
        organization_id=org,
        provider="slack",
        connection_id=connection_id(org, "slack"),
        flow_id=requested.flow_id,
        auth_type="oauth2_authorization_code",
        credentials=Credentials(access_token=sealed),
        account=Account(id="T1", name="Acme Workspace"),
    )
    unhealthy = ConnectionUnhealthyV1(
        organization_id=org,
        provider="slack",
        connection_id=connection_id(org, "slack"),
        credential_version=1,
        reason="revoked",
        message="Slack access was revoked. Reconnect Slack in Settings → Integrations.",
        detected_by="health-monitor",
    )
    await events.requested(handlers.REQUESTED, requested)
    await events.established(handlers.ESTABLISHED, established)
    await events.established(handlers.ESTABLISHED, established)  # a redelivery: once
    await events.unhealthy(handlers.UNHEALTHY, unhealthy)
    return established


async def test_history_lists_consumed_events_newest_first_in_pages_and_never_a_secret(
    client: httpx.AsyncClient, db: Database, store_settings: StoreSettings
) -> None:
    org = uuid.uuid4()
    await _consume(db, store_settings, org)
    auth = _auth(store_settings, org)
    disconnect = await client.delete(f"/v1/orgs/{org}/integrations/slack", headers=auth)
    assert disconnect.status_code == 204
    first = await client.get(f"/v1/orgs/{org}/integrations/slack/history?limit=2", headers=auth)
    assert first.status_code == 200
    body = first.json()
    assert [item["kind"] for item in body["items"]] == ["disconnected", "unhealthy"]
    assert body["items"][0]["summary"] == "Disconnected by ada"
    assert body["items"][1]["summary"].startswith("Slack access was revoked")
    older = await client.get(
        f"/v1/orgs/{org}/integrations/slack/history",
        params={"limit": 2, "cursor": body["next_cursor"]},
        headers=auth,
    )
    rest = older.json()
    assert [item["kind"] for item in rest["items"]] == ["connected", "requested"]
    assert rest["items"][0]["summary"] == "Connected to Acme Workspace"
    assert rest["next_cursor"] is None
    everything = json.dumps([body, rest])
    assert CIPHERTEXT.hex() not in everything
    assert "ciphertext" not in everything


async def test_history_is_tenant_isolated_and_refuses_a_bad_cursor(
    client: httpx.AsyncClient, db: Database, store_settings: StoreSettings
) -> None:
    org, other = uuid.uuid4(), uuid.uuid4()
    await _consume(db, store_settings, org)
    theirs = await client.get(
        f"/v1/orgs/{org}/integrations/slack/history", headers=_auth(store_settings, other)
    )
    assert theirs.status_code == 404
    own = await client.get(
        f"/v1/orgs/{other}/integrations/slack/history", headers=_auth(store_settings, other)
    )
    assert own.json()["items"] == []
    bad = await client.get(
        f"/v1/orgs/{org}/integrations/slack/history?cursor=abc",
        headers=_auth(store_settings, org),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_cursor"
