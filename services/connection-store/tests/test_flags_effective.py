"""Effective flags through the real broker and PostgreSQL (issue 13, item 5): a flag that needs
a connection is in effect only while that connection is active; the stored choice outlives an
expiry and a disconnect, so reconnecting restores the feature."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_token
from connection_store.settings import StoreSettings
from hub_contracts import (
    ALL_TOPICS,
    ConnectionEstablishedV1,
    ConnectionUnhealthyV1,
    connection_id,
)
from hub_contracts.examples import EXAMPLES
from hub_localstack.topics import create_topics
from hub_runtime import create_broker, publish_event

pytestmark = pytest.mark.integration

FLAG = "integrations.google_ads"


async def _until(probe: Callable[[], Awaitable[Any]], expected: Any) -> Any:
    found = None
    for _ in range(300):
        found = await probe()
        if found == expected:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{found!r} never became {expected!r}")


async def test_a_flag_is_in_effect_only_while_its_connection_is_active(
    kafka_bootstrap: str, store_settings: StoreSettings
) -> None:
    topics = [*ALL_TOPICS, *(f"{t}.dlq" for t in ALL_TOPICS)]
    await create_topics(kafka_bootstrap, topics, partitions=3)
    settings = store_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    app = create_app(settings, run_background=False)
    org = uuid.uuid4()
    example = next(e for e in EXAMPLES if isinstance(e, ConnectionEstablishedV1))
    identity = {"organization_id": org, "connection_id": connection_id(org, "google_ads")}

    def established() -> ConnectionEstablishedV1:
        return example.model_copy(update={"event_id": uuid.uuid4(), **identity})

    revoked = ConnectionUnhealthyV1(
        organization_id=org,
        provider="google_ads",
        connection_id=identity["connection_id"],
        credential_version=1,
        reason="revoked",
        message="Google Ads access was revoked. Reconnect Google Ads in Settings → Integrations.",
        detected_by="token-refresher",
    )
    bearer = {
        "Authorization": "Bearer "
        + issue_token(settings.jwt_secret, org, scopes=[READ, WRITE], subject="ada")
    }

    async with (
        app.router.lifespan_context(app),
        create_broker(settings) as producer,
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://store") as client,
    ):

        async def status() -> str:
            answer = await client.get(f"/v1/orgs/{org}/integrations/google_ads", headers=bearer)
            return str(answer.json()["status"])

        async def flags() -> dict[str, Any]:
            answer = await client.get(f"/v1/orgs/{org}/flags", headers=bearer)
            body: dict[str, Any] = answer.json()
            return body

        await publish_event(producer, established())
        await _until(status, "active")
        turned_on = await client.put(
            f"/v1/orgs/{org}/flags", headers=bearer, json={"flags": {FLAG: True}}
        )
        assert turned_on.status_code == 200, turned_on.text
        on = await flags()
        assert on["flags"][FLAG] is True
        assert on["details"][FLAG] | {"effective": True, "reason": None} == on["details"][FLAG]

        await publish_event(producer, revoked)
        await _until(status, "expired")
        expired = await flags()
        assert expired["flags"][FLAG] is False  # what platform code reads
        assert expired["details"][FLAG]["enabled"] is True  # the choice is kept
        assert expired["details"][FLAG]["effective"] is False
        assert "reconnect" in expired["details"][FLAG]["reason"]
        detail = await client.get(f"/v1/orgs/{org}/integrations/google_ads", headers=bearer)
        assert detail.json()["flags"] == {FLAG: False}

        await publish_event(producer, established())  # the brand reconnects
        await _until(status, "active")
        restored = await flags()
        assert restored["flags"][FLAG] is True
        assert restored["details"][FLAG]["enabled"] is True

        gone = await client.delete(f"/v1/orgs/{org}/integrations/google_ads", headers=bearer)
        assert gone.status_code == 204
        after = await flags()
        assert after["flags"][FLAG] is False
        assert after["details"][FLAG]["enabled"] is True
        assert after["details"][FLAG]["reason"].startswith("Google Ads was disconnected")
