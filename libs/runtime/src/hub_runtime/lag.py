"""Consumer lag per group and topic, read from the broker's running consumers at scrape time."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

from faststream.kafka import KafkaBroker

from hub_runtime.metrics import ServiceMetrics


async def consumer_lag(subscribers: list[Any]) -> dict[tuple[str, str], float]:
    """(group, topic) → records not consumed yet (high watermark - position) over the partitions
    each running consumer owns; a partition not fetched yet counts 0."""
    lag: defaultdict[tuple[str, str], float] = defaultdict(float)
    for subscriber in subscribers:
        consumer = getattr(subscriber, "consumer", None)
        group = getattr(subscriber, "group_id", None)
        if consumer is None or not group:
            continue
        for tp in list(consumer.assignment()):
            lag[(group, tp.topic)] += 0
            with contextlib.suppress(Exception):
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue
                position = await asyncio.wait_for(consumer.position(tp), timeout=0.5)
                lag[(group, tp.topic)] += max(0, highwater - position)
    return dict(lag)


def watch_consumer_lag(metrics: ServiceMetrics, broker: KafkaBroker) -> None:
    """``<service>_consumer_lag{group, topic}``, refreshed at each scrape."""
    gauge = metrics.gauge(
        "consumer_lag",
        "Records not consumed yet, per consumer group and topic (high watermark - position).",
        ["group", "topic"],
    )

    async def refresh() -> None:
        readings = await consumer_lag(list(broker.subscribers))
        gauge.clear()
        for (group, topic), value in readings.items():
            gauge.labels(group, topic).set(value)

    metrics.on_scrape(refresh)
