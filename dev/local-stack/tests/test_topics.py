"""The hub's topics and their creation."""

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hub_localstack.topics import create_topics, hub_topics


async def partition_counts(bootstrap_servers: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


def test_hub_topics_have_dead_letter_twins() -> None:
    topics = hub_topics()
    assert len(topics) == 20  # ten topics, each with its .dlq
    assert "token.expiring" in topics
    assert "token.expiring.dlq" in topics


@pytest.mark.integration
async def test_topics_get_the_configured_partitions_idempotently(
    kafka_bootstrap: str, unique_suffix: str
) -> None:
    names = [f"orders.{unique_suffix}", f"orders.{unique_suffix}.dlq"]
    for _ in range(2):
        assert await create_topics(kafka_bootstrap, names, partitions=4) == tuple(names)
    assert await partition_counts(kafka_bootstrap, names) == dict.fromkeys(names, 4)
