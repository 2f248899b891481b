"""The consumers and publishers the gateway declares: its AsyncAPI document matches
``hub_contracts`` and is served at ``/asyncapi.json``."""

from __future__ import annotations

import httpx
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, PlatformCredentials
from hub_contracts import ConnectionFailedV1
from hub_runtime.asyncapi import asyncapi_schema, contract_mismatches
from oauth_gateway import handlers
from oauth_gateway.app import create_app
from oauth_gateway.settings import GatewaySettings

from .conftest import GATEWAY, Clock, Harness, MemoryFlows


def test_the_asyncapi_document_matches_the_contracts(gateway: Harness) -> None:
    broker = KafkaBroker()
    broker.include_router(
        handlers.router(gateway.settings, gateway.app.state.api.keys, gateway.revocations())
    )
    document = asyncapi_schema(broker, title="oauth-gateway")
    assert (
        contract_mismatches(document, consumes=handlers.CONSUMES, publishes=handlers.PUBLISHES)
        == []
    )
    assert contract_mismatches(
        document, consumes=handlers.CONSUMES, publishes=handlers.PUBLISHES - {ConnectionFailedV1}
    ), "a publisher left out of the declaration is a mismatch"


async def test_the_app_serves_its_asyncapi_document(
    settings: GatewaySettings, catalog: Catalog
) -> None:
    app = create_app(
        settings, catalog=catalog, platform=PlatformCredentials({}), flows=MemoryFlows(Clock())
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=GATEWAY) as client:
        answer = await client.get("/asyncapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert (
        contract_mismatches(document, consumes=handlers.CONSUMES, publishes=handlers.PUBLISHES)
        == []
    )
    described = " ".join(str(c.get("description", "")) for c in document["channels"].values())
    assert "ConnectionRequestedV2" in described, "docs/producers.md sends producers here"
