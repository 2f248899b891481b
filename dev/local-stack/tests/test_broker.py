"""The Tansu broker: produce and consume, clean stop."""

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from hub_localstack.broker import CONSUMER_OPTIONS, TansuBroker
from hub_localstack.processes import free_port
from hub_localstack.pytest_plugin import TopicFactory

pytestmark = pytest.mark.integration


async def test_keyed_message_with_headers_round_trips(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, unique_suffix: str
) -> None:
    topic = await kafka_topic_factory("roundtrip", partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b'{"ok": true}', key=b"org-1:shopify", headers=[("traceparent", b"00-abc")]
        )
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=f"g-{unique_suffix}", **CONSUMER_OPTIONS
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"org-1:shopify", b'{"ok": true}')
    assert list(message.headers) == [("traceparent", b"00-abc")]


def test_stops_cleanly_and_replaces_a_leftover(tmp_path: Path) -> None:
    port, pid_path = free_port(), tmp_path / "tansu.pid"
    leftover = TansuBroker(tmp_path / "tansu.log", port, pid_path)
    leftover.start()
    old_pid = leftover.pid
    assert old_pid is not None
    assert pid_path.read_text().strip() == str(old_pid)

    with TansuBroker(tmp_path / "tansu.log", port, pid_path) as broker:
        assert not Path(f"/proc/{old_pid}/cmdline").read_bytes()  # stopped, not yet reaped
        new_pid = broker.pid
    leftover.stop()
    assert new_pid is not None
    assert not Path(f"/proc/{old_pid}").exists()
    assert not Path(f"/proc/{new_pid}").exists()
    assert not pid_path.exists()
