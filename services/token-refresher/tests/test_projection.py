"""The ``token.refreshed`` projection against the real broker: its barrier returns only once every
refresh acknowledged before it is applied, and is met even while refreshes keep arriving."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import uuid

import pytest
from faststream.kafka import KafkaBroker
from hub_contracts import TokenRefreshedV1, serialize_event
from hub_contracts.examples import EXAMPLES
from token_refresher.adapters.projection import RefreshedProjection
from token_refresher.domain import SettledVersions
from token_refresher.settings import RefresherSettings

pytestmark = pytest.mark.integration

TEMPLATE = next(e for e in EXAMPLES if isinstance(e, TokenRefreshedV1))


def _settings(bootstrap: str) -> RefresherSettings:
    return RefresherSettings(
        credential_keys="k1:" + base64.b64encode(os.urandom(32)).decode(),  # type: ignore[arg-type]
        kafka_bootstrap_servers=bootstrap,
        kafka_fetch_max_wait_ms=10,
    )


def _refreshed(version: int = 2) -> TokenRefreshedV1:
    return TEMPLATE.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "organization_id": uuid.uuid4(),
            "connection_id": uuid.uuid4(),
            "credential_version": version,
        }
    )


async def _publish(broker: KafkaBroker, topic: str, event: TokenRefreshedV1) -> None:
    key = f"{event.organization_id}:{event.provider}".encode()
    await broker.publish(serialize_event(event), topic=topic, key=key)


async def test_barrier_sees_every_refresh_published_before_it(
    kafka_bootstrap: str, kafka_topic_factory: object
) -> None:
    topic = await kafka_topic_factory("token.refreshed", partitions=3)  # type: ignore[operator]
    settled = SettledVersions()
    projection = RefreshedProjection(_settings(kafka_bootstrap), settled, topic=topic)
    await projection.start()
    try:
        await asyncio.wait_for(projection.caught_up(), 10)  # empty topic: met at once
        events = [_refreshed(version=v) for v in (2, 3, 5) for _ in range(20)]
        async with KafkaBroker(kafka_bootstrap) as broker:
            await broker.start()
            await asyncio.gather(*(_publish(broker, topic, e) for e in events))
            await broker.publish(b"{not an event", topic=topic, key=b"k")
        await asyncio.wait_for(projection.caught_up(), 10)
        for event in events:
            assert settled.is_settled(event.connection_id, event.credential_version - 1)
            assert not settled.is_settled(event.connection_id, event.credential_version)
        assert projection.applied == len(events)
        assert projection.skipped == 1
        assert projection.lag() == 0
    finally:
        await projection.stop()


async def test_barrier_is_met_while_refreshes_keep_arriving(
    kafka_bootstrap: str, kafka_topic_factory: object
) -> None:
    topic = await kafka_topic_factory("token.refreshed", partitions=3)  # type: ignore[operator]
    settled = SettledVersions()
    projection = RefreshedProjection(_settings(kafka_bootstrap), settled, topic=topic)
    await projection.start()
    before = [_refreshed() for _ in range(30)]
    async with KafkaBroker(kafka_bootstrap) as broker:
        await broker.start()
        await asyncio.gather(*(_publish(broker, topic, e) for e in before))

        async def steady_traffic() -> None:
            while True:
                await _publish(broker, topic, _refreshed())
                await asyncio.sleep(0.002)

        traffic = asyncio.create_task(steady_traffic())
        try:
            await asyncio.wait_for(projection.caught_up(), 10)
            assert all(settled.is_settled(e.connection_id, 1) for e in before)
        finally:
            traffic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await traffic
            await projection.stop()
