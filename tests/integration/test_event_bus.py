"""Every event type through the real broker: published with FastStream, consumed through
``hub_runtime.subscribe``, parsed back into the same model, one trace across the hop."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from hub_contracts import ALL_TOPICS, Event, Topic
from hub_contracts.examples import EXAMPLES
from hub_localstack.topics import create_topics
from hub_runtime import (
    ServiceSettings,
    create_broker,
    create_tracer_provider,
    publish_event,
    subscribe,
)
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.integration


def _samples() -> list[Event]:
    return list(EXAMPLES)


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="bus-test",
        kafka_bootstrap_servers=bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
    )


async def test_every_event_type_round_trips_with_its_trace(
    kafka_bootstrap: str, unique_suffix: str
) -> None:
    await create_topics(kafka_bootstrap, list(ALL_TOPICS), partitions=3)
    samples = {event.event_id: event for event in _samples()}
    exporter = InMemorySpanExporter()
    provider = create_tracer_provider("bus-test", exporter=exporter)
    settings = _settings(kafka_bootstrap)
    broker: KafkaBroker = create_broker(settings, tracer_provider=provider)
    received: dict[object, Event] = {}
    done = asyncio.Event()

    traces: dict[object, int] = {}

    async def handler(event: Event) -> None:
        if event.event_id in samples:
            received[event.event_id] = event
            traces[event.event_id] = trace.get_current_span().get_span_context().trace_id
            if len(received) == len(samples):
                done.set()

    for topic in Topic:
        subscribe(
            broker,
            settings,
            topic=topic,
            group=f"bus-test.{topic.value}.{unique_suffix}",
            handler=handler,
        )

    tracer = provider.get_tracer("test")
    async with broker:
        await broker.start()
        with tracer.start_as_current_span("user-action") as root:
            for event in samples.values():
                await publish_event(broker, event)
        await asyncio.wait_for(done.wait(), timeout=60)

    assert received == samples
    for event_id, event in received.items():
        assert type(event) is type(samples[event_id])

    trace_id = root.get_span_context().trace_id
    assert set(traces.values()) == {trace_id}, "every handler ran inside the publisher's trace"
    consumer_spans = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert {s.name.split(" ")[0] for s in consumer_spans} >= set(ALL_TOPICS)


async def test_trace_context_travels_in_kafka_headers(kafka_bootstrap: str) -> None:
    await create_topics(kafka_bootstrap, list(ALL_TOPICS), partitions=3)
    provider = create_tracer_provider("bus-test")
    settings = _settings(kafka_bootstrap)
    event = _samples()[-1]
    async with create_broker(settings, tracer_provider=provider) as broker:
        with provider.get_tracer("test").start_as_current_span("user-action") as root:
            await publish_event(broker, event)

    consumer = AIOKafkaConsumer(
        event.topic.value,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        headers: dict[str, bytes] = {}
        deadline = asyncio.get_running_loop().time() + 30
        while not headers and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if str(event.event_id).encode() in (record.value or b""):
                        headers = dict(record.headers)
    finally:
        await consumer.stop()

    trace_hex = format(root.get_span_context().trace_id, "032x")
    assert headers["traceparent"].decode().split("-")[1] == trace_hex
    assert headers["event-type"] == event.event_type.encode()
