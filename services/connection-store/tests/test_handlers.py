"""The Kafka entry points: what the store consumes and publishes is what hub_contracts says,
and an event of an unknown provider goes to the DLQ at once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from connection_store import handlers
from connection_store.service.connections import ConnectionEvents
from connection_store.settings import StoreSettings
from faststream.kafka import KafkaBroker
from hub_catalog import load_catalog
from hub_contracts import ConnectionCheckDueV1, ConnectionDisconnectedV1, TokenExpiringV1, Topic
from hub_contracts.examples import EXAMPLES
from hub_runtime import PermanentHandlerError
from hub_runtime.asyncapi import asyncapi_schema, contract_mismatches

CATALOG = load_catalog()


class Unused:
    """A store the declaration never touches."""

    @asynccontextmanager
    async def tenant(self, organization_id: uuid.UUID) -> AsyncIterator[Any]:
        raise AssertionError("not used")
        yield

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Any]:
        raise AssertionError("not used")
        yield


def _events() -> ConnectionEvents:
    return ConnectionEvents(Unused(), CATALOG, check_interval_s=3600, check_jitter=0.1)


def test_asyncapi_document_matches_the_contracts() -> None:
    settings = StoreSettings(migrate_on_start=False)
    broker = KafkaBroker(settings.kafka_bootstrap_servers)
    broker.include_router(handlers.router(settings, _events()))

    document = asyncapi_schema(broker, title="connection-store")

    consumes = {
        Topic.CONNECTION_REQUESTED,
        Topic.CONNECTION_FAILED,
        Topic.CONNECTION_ESTABLISHED,
        Topic.TOKEN_REFRESHED,
        Topic.CONNECTION_UNHEALTHY,
        Topic.CONNECTION_RECOVERED,
        Topic.CONNECTION_CHECKED,
    }
    publishes = {TokenExpiringV1, ConnectionCheckDueV1, ConnectionDisconnectedV1}
    assert contract_mismatches(document, consumes=consumes, publishes=publishes) == []


async def test_an_event_of_an_unknown_provider_is_a_permanent_failure() -> None:
    established = next(e for e in EXAMPLES if e.event_type == "connection.established")
    event = established.model_copy(update={"provider": "myspace"})
    handle = handlers._handler(handlers.ESTABLISHED, _events().established)

    with pytest.raises(PermanentHandlerError, match="unknown provider 'myspace'"):
        await handle(event)
