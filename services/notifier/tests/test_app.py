"""The app as wired: its AsyncAPI document matches hub_contracts, and the probes answer before
anything has started (no lifespan: no database, broker or worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hub_contracts import Topic
from hub_runtime.asyncapi import contract_mismatches
from notifier.app import create_app
from notifier.settings import NotifierSettings

CONSUMES = {
    Topic.CONNECTION_UNHEALTHY,
    Topic.CONNECTION_RECOVERED,
    Topic.CONNECTION_ESTABLISHED,
    Topic.CONNECTION_DISCONNECTED,
}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(NotifierSettings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://notifier.test"
    ) as client:
        yield client


async def test_the_asyncapi_document_consumes_four_topics_and_publishes_nothing(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/asyncapi.json")).json()
    assert contract_mismatches(document, consumes=CONSUMES, publishes=()) == []


async def test_the_notifier_is_alive_but_not_ready_before_it_started(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "not_ready"
    assert b"notifier_events_total" in (await client.get("/metrics")).content


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"service_token_secret": "s" * 31}, "HUB_SERVICE_TOKEN_SECRET needs at least 32 bytes"),
        ({"credential_keys": "s" * 40}, "CREDENTIAL_KEYS must differ"),
        ({"provider_base_url_override": "http://127.0.0.1:8199"}, "PROVIDER_BASE_URL_OVERRIDE"),
    ],
)
def test_production_refuses_weak_settings(changes: dict[str, object], complaint: str) -> None:
    values: dict[str, object] = {"environment": "production", "service_token_secret": "s" * 40}
    assert NotifierSettings.model_validate(values).environment == "production"
    with pytest.raises(ValueError, match=complaint):
        NotifierSettings.model_validate(values | changes)
