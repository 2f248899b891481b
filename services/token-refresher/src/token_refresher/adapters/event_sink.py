"""``EventSink`` over the shared broker: publish an outcome event and wait for the broker's
acknowledgement, retrying transient failures until the publish timeout."""

from __future__ import annotations

import asyncio
import logging

from faststream.kafka import KafkaBroker
from hub_contracts import Event
from hub_runtime import publish_event

log = logging.getLogger(__name__)


class KafkaEvents:
    def __init__(self, broker: KafkaBroker, *, timeout_s: float) -> None:
        self.broker = broker
        self.timeout_s = timeout_s

    async def publish(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(max(0.1, deadline - loop.time())):
                    await publish_event(self.broker, event)
                return
            except Exception as exc:
                if loop.time() >= deadline:
                    raise
                log.warning(
                    "publish failed; retrying",
                    extra={
                        "topic": event.topic.value,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                    },
                )
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
