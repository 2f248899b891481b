"""``hubctl lag``: records not consumed yet per consumer group and topic (end offset minus the
group's committed offset, summed over partitions), read from the broker."""

from __future__ import annotations

from collections import defaultdict

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from hub_runtime import ServiceSettings


async def consumer_lag() -> dict[tuple[str, str], int]:
    """(group, topic) → records the group has not committed yet, for every group the broker
    knows (``.dlq`` topics included: dead letters are events in flight too)."""
    bootstrap = ServiceSettings().kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lag: defaultdict[tuple[str, str], int] = defaultdict(int)
        groups = sorted(str(g[0]) for g in await admin.list_consumer_groups())
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            for tp, meta in committed.items():
                done = max(meta.offset, 0)
                lag[(group, tp.topic)] += max(0, ends.get(tp, done) - done)
        return dict(sorted(lag.items()))
    finally:
        await consumer.stop()
        await admin.close()
