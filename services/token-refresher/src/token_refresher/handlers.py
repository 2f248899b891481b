"""Kafka entry point: each ``token.expiring`` record → parse → the refresher; what cannot be
handled goes to ``token.expiring.dlq`` with its reason, at once (no in-process retry)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from hub_contracts import (
    ConnectionUnhealthyV1,
    ContractError,
    TokenExpiringV1,
    TokenRefreshedV1,
    Topic,
    dlq_topic,
    parse_event,
)
from hub_runtime import redact_text
from hub_runtime.bus import consumer_description, consumer_options, dead_letter, publishes
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from token_refresher.errors import DeadLetterError
from token_refresher.metrics import Metrics
from token_refresher.service import Refresher
from token_refresher.settings import RefresherSettings

log = logging.getLogger(__name__)

_PROPAGATOR = TraceContextTextMapPropagator()

RecordHandler = Callable[[Any], Awaitable[None]]
Reject = Callable[[Any, str, str], Awaitable[None]]
"""Dead-letters a record with a reason and an error text."""


class Partitions(Protocol):
    """The partition-aware intake behind the subscriber (``adapters/partitions.py``)."""

    listener: Any
    """aiokafka's ``ConsumerRebalanceListener`` of the owned partitions."""

    async def take(self, records: Iterable[Any], consumer: Any, handle: RecordHandler) -> None:
        """Start ``handle`` on each record; return once there is room for more."""


def router(
    settings: RefresherSettings,
    refresher: Refresher,
    partitions: Partitions,
    *,
    tracer_provider: TracerProvider | None = None,
) -> KafkaRouter:
    router = KafkaRouter()
    group = settings.consumer_group
    handler = ExpiringHandler(
        refresher,
        _rejecter(router, settings, Topic.TOKEN_EXPIRING, group),
        tracer_provider=tracer_provider,
    )
    subscribe_partitioned(
        router,
        settings,
        topic=Topic.TOKEN_EXPIRING,
        group=group,
        partitions=partitions,
        handler=handler,
    )
    publishes(router, TokenRefreshedV1, ConnectionUnhealthyV1)
    return router


def subscribe_partitioned(
    router: KafkaRouter,
    settings: RefresherSettings,
    *,
    topic: Topic,
    group: str,
    partitions: Partitions,
    handler: RecordHandler,
) -> None:
    """Consume ``topic`` in group ``group`` in batches handed to ``partitions``, which runs many
    records at once and commits only what is handled (manual acknowledgement)."""
    subscriber = router.subscriber(
        topic.value,
        group_id=group,
        batch=True,
        max_records=settings.poll_max_records,
        batch_timeout_ms=100,
        listener=partitions.listener,
        ack_policy=AckPolicy.MANUAL,
        title=f"{topic.value}:{group}",
        description=consumer_description(topic, group),
        **consumer_options(settings),
    )

    async def consume(message: KafkaMessage) -> None:
        await partitions.take(message.raw_message, message.consumer, handler)

    subscriber(consume, parser=without_binary_headers, decoder=_undecoded)


class ExpiringHandler:
    """One record, one span (continuing the sweep's ``traceparent``), one call of the refresher.

    An unexpected failure is dead-lettered as ``handler_failed`` without a retry: the refresher
    retries what is worth retrying, and a second call after an unexplained failure could spend a
    rotating refresh token twice. The store's sweep emits the connection again later.
    """

    def __init__(
        self,
        refresher: Refresher,
        reject: Reject,
        *,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.refresher = refresher
        self.reject = reject
        self.metrics: Metrics = refresher.metrics
        self.tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

    async def __call__(self, record: Any) -> None:
        carrier = {
            name: value.decode("latin-1")
            for name, value in (record.headers or ())
            if isinstance(value, bytes)
        }
        with self.tracer.start_as_current_span(
            f"{record.topic} process",
            context=_PROPAGATOR.extract(carrier),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.kafka.partition": record.partition,
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            try:
                event = parse_event(record.value or b"", topic=Topic.TOKEN_EXPIRING.value)
            except ContractError as exc:
                await self._dead_letter(record, exc.reason, str(exc))
                return
            assert isinstance(event, TokenExpiringV1)
            span.set_attribute("hub.connection_id", str(event.connection_id))
            span.set_attribute("hub.provider", event.provider)
            try:
                outcome = await self.refresher.handle(event)
            except DeadLetterError as exc:
                await self._dead_letter(record, exc.reason, redact_text(str(exc)))
                return
            except Exception as exc:
                detail = redact_text(f"{type(exc).__name__}: {exc}")
                await self._dead_letter(record, "handler_failed", detail)
                return
            span.set_attribute("hub.outcome", outcome.value)

    async def _dead_letter(self, record: Any, reason: str, error: str) -> None:
        self.metrics.dead_letter(reason)
        await self.reject(record, reason, error)


def _rejecter(router: KafkaRouter, settings: RefresherSettings, topic: Topic, group: str) -> Reject:
    publisher = router.publisher(dlq_topic(topic.value), title=f"{dlq_topic(topic.value)}:{group}")

    async def reject(record: Any, reason: str, error: str) -> None:
        try:
            async with asyncio.timeout(settings.publish_timeout_s):
                await dead_letter(publisher, record, group=group, reason=reason, error=error)
        except Exception as exc:
            # The store's sweep emits the connection again after its retry interval, so a
            # token.expiring lost here is late, not lost for good.
            log.error(
                "could not dead-letter a record; it is dropped",
                extra={"reason": reason, "offset": record.offset, "error": type(exc).__name__},
            )

    return reject


async def without_binary_headers(
    records: Sequence[Any], parse: Callable[[Sequence[Any]], Awaitable[Any]]
) -> Any:
    """FastStream's parser decodes every header as UTF-8; a record with a binary header would
    sink its whole batch instead of reaching the handler (and the DLQ)."""
    return await parse(tuple(_utf8_headers(record) for record in records))


def _utf8_headers(record: Any) -> Any:
    kept = [(name, value) for name, value in record.headers if _is_utf8(value)]
    return record if len(kept) == len(record.headers) else dataclasses.replace(record, headers=kept)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


async def _undecoded(message: Any) -> Any:
    """The bodies stay bytes: ``parse_event`` reads each one (a malformed one is dead-lettered)."""
    return message.body
