"""The hub's Kafka topics, created idempotently with the admin client."""

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code


def hub_topics() -> tuple[str, ...]:
    """Every hub topic and its dead-letter topic."""
    from hub_contracts.topics import ALL_TOPICS, dlq_topic

    return (*ALL_TOPICS, *map(dlq_topic, ALL_TOPICS))


async def create_topics(
    bootstrap_servers: str,
    topics: Iterable[str] | None = None,
    *,
    partitions: int = 6,
    replication_factor: int = 1,
) -> tuple[str, ...]:
    """Create `topics` (default: hub_topics()); existing ones are left as they are."""
    names = tuple(topics) if topics is not None else hub_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-local-stack")
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor) for name in names]
        )
    finally:
        await admin.close()
    for name, code, *_ in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"create topic {name}")
    return names


async def delete_topics(bootstrap_servers: str, topics: Iterable[str]) -> None:
    """Delete `topics`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hub-local-stack")
    await admin.start()
    try:
        await admin.delete_topics(list(topics))
    finally:
        await admin.close()
