"""Kafka wiring every service shares: the broker, publishing events, consuming them safely.

``subscribe`` is the one way a service consumes a topic: it parses the bytes with the contract
registry, hands the typed event to the handler, retries a failing handler with backoff, and sends
what cannot be parsed or keeps failing to ``<topic>.dlq`` with the reason — then moves on, so a
poison message never stalls a partition. It polls records in batches, handles the records of one
key in order (different keys at once) and commits once per batch, after every record of it is
handled or dead-lettered: at-least-once. ``publish_events`` publishes many and awaits their
acknowledgements together; the producer lingers to batch them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from hub_contracts import ContractError, Event, Topic, dlq_topic, message_key, parse_event
from hub_contracts.registry import EVENT_MODELS
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hub_runtime.logging import redact_text
from hub_runtime.metrics import dead_letters
from hub_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None]]


class PermanentHandlerError(Exception):
    """Raised by a handler when retrying cannot help: the event goes to the DLQ at once."""

    reason = "permanent_failure"


def create_broker(
    settings: ServiceSettings, *, tracer_provider: TracerProvider | None = None
) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        enable_idempotence=settings.kafka_idempotent_producer,
        acks="all",
        linger_ms=settings.kafka_linger_ms,
        compression_type=settings.kafka_compression_type,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracer_provider)],
        logger=logging.getLogger(f"{settings.service_name}.kafka"),
    )


def consumer_options(settings: ServiceSettings) -> dict[str, Any]:
    """Consumer settings: start from earliest (consumers are idempotent), tuned timeouts."""
    return {
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }


async def publish_event(
    broker: KafkaBroker, event: Event, *, headers: dict[str, str] | None = None
) -> None:
    """Publish on the event's topic, keyed by its connection, with the trace context; returns
    once the broker has acknowledged it."""
    await broker.publish(**_publish_arguments(event, headers))


async def publish_events(
    broker: KafkaBroker, events: Sequence[Event], *, headers: dict[str, str] | None = None
) -> None:
    """Publish every event like ``publish_event``, without waiting for each one: all are handed
    to the producer (which batches them), then their acknowledgements are awaited together.
    Raises the first failure once every send has settled.

    On a connected broker the records go straight to aiokafka's producer with the caller's
    trace context in ``traceparent`` (FastStream's per-record middleware costs ~1.5 ms each);
    elsewhere (``TestKafkaBroker``) through ``broker.publish``."""
    producer = _aiokafka_producer(broker)
    pending: list[asyncio.Future[Any]] = []
    if producer is None:
        for event in events:
            pending.append(
                await broker.publish(**_publish_arguments(event, headers), no_confirm=True)
            )
    else:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        for event in events:
            arguments = _publish_arguments(event, {**carrier, **(headers or {})})
            pending.append(
                await producer.send(
                    arguments["topic"],
                    arguments["message"],
                    key=arguments["key"],
                    headers=[(k, v.encode()) for k, v in arguments["headers"].items()],
                )
            )
    results = await asyncio.gather(*pending, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The started aiokafka producer behind ``broker``, or ``None`` (test broker, not started)."""
    try:
        producer = broker.config.producer._producer.producer  # type: ignore[attr-defined]
    except Exception:
        return None
    return producer if isinstance(producer, AIOKafkaProducer) else None


def _publish_arguments(event: Event, headers: dict[str, str] | None) -> dict[str, Any]:
    return {
        "message": event.model_dump_json().encode(),
        "topic": event.topic.value,
        "key": message_key(event.organization_id, event.provider),
        "headers": {
            "content-type": "application/json",
            "event-type": event.event_type,
            "schema-version": str(event.schema_version),
            **(headers or {}),
        },
    }


class EventPublisher(ABC):
    """A service's publishing port on the broker: ``publish_event``, with a failure logged and
    raised as the service's own error (``failure``), never as the client's."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    @abstractmethod
    def failure(self, event: Event, error: Exception) -> Exception:
        """The service's own error for a publish of ``event`` that failed with ``error``."""

    async def publish(self, event: Event) -> None:
        try:
            await publish_event(self.broker, event)
        except Exception as exc:
            log.error(
                "publish failed",
                extra={"event_type": event.event_type, "error": type(exc).__name__},
            )
            raise self.failure(event, exc) from exc


def subscribe(
    broker: KafkaBroker | KafkaRouter,
    settings: ServiceSettings,
    *,
    topic: Topic,
    group: str,
    handler: Handler[E],
    retry_base_delay_s: float = 0.2,
    tracer_provider: trace.TracerProvider | None = None,
) -> None:
    """Consume ``topic`` in consumer group ``group`` with ``handler`` (see module docstring):
    batches of up to ``consumer_batch_max_records``, one key's records in order, up to
    ``consumer_key_concurrency`` keys at once, one commit per batch. With a
    ``tracer_provider``, each record is handled in its own consumer span (``_traced``)."""
    handle = _traced(
        _record_handler(broker, settings, topic, group, handler, retry_base_delay_s),
        topic,
        group,
        tracer_provider,
    )
    lanes = settings.consumer_key_concurrency

    async def consume(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple | list) else (raw,)
        await handle_in_key_order(handle, records, concurrency=lanes)

    broker.subscriber(
        topic.value,
        group_id=group,
        ack_policy=AckPolicy.ACK,
        batch=True,
        max_records=settings.consumer_batch_max_records,
        batch_timeout_ms=100,
        title=f"{topic.value}:{group}",
        description=consumer_description(topic, group),
        **consumer_options(settings),
    )(consume)


def subscribe_batch(
    broker: KafkaBroker | KafkaRouter,
    settings: ServiceSettings,
    *,
    topic: Topic,
    group: str,
    handler: Handler[E],
    max_records: int = 100,
    batch_timeout_ms: int = 50,
    retry_base_delay_s: float = 0.2,
    tracer_provider: trace.TracerProvider | None = None,
) -> None:
    """Like ``subscribe``, but poll up to ``max_records`` records at once and handle them
    concurrently, each with ``subscribe``'s parse, retry and dead-letter rules. With a
    ``tracer_provider``, each record is handled in its own consumer span continuing the trace
    its producer started (a batch span cannot: its records come from many traces).

    The offsets are committed when the whole batch is handled, so delivery stays at-least-once
    while I/O-bound handlers (a provider call per event) overlap. Events of one key may be
    handled concurrently: the handler must tolerate that, and bound its own concurrency where it
    needs a tighter limit than the batch.
    """
    handle = _traced(
        _record_handler(broker, settings, topic, group, handler, retry_base_delay_s),
        topic,
        group,
        tracer_provider,
    )

    async def consume(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple | list) else (raw,)
        await asyncio.gather(*(handle(record.value or b"", record) for record in records))

    broker.subscriber(
        topic.value,
        group_id=group,
        ack_policy=AckPolicy.ACK,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        title=f"{topic.value}:{group}",
        description=consumer_description(topic, group),
        **consumer_options(settings),
    )(consume)


async def handle_in_key_order(
    handle: Callable[[bytes, Any], Awaitable[None]], records: Sequence[Any], *, concurrency: int
) -> None:
    """Handle a polled batch: the records of one (partition, key) one after another in offset
    order, different keys concurrently (at most ``concurrency`` at once). Returns when every
    record is handled (``handle`` dead-letters what fails), so the batch can be committed."""
    lanes: dict[tuple[int, bytes | None], list[Any]] = {}
    for record in records:
        lanes.setdefault((record.partition, record.key), []).append(record)
    gate = asyncio.Semaphore(concurrency)

    async def lane(members: list[Any]) -> None:
        async with gate:
            for record in members:
                await handle(record.value or b"", record)

    await asyncio.gather(*(lane(members) for members in lanes.values()))


class Record(Protocol):
    """What ``dead_letter`` reads of a consumed record (aiokafka's ``ConsumerRecord``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class DeadLetterPublisher(Protocol):
    async def publish(self, message: Any, /, *, key: Any, headers: dict[str, str]) -> Any: ...


async def dead_letter(
    publisher: DeadLetterPublisher,
    record: Record,
    *,
    group: str,
    reason: str,
    error: str,
    body: bytes | None = None,
) -> None:
    """Send ``record`` as it came (or ``body``) to ``<topic>.dlq`` through ``publisher``, with
    its own headers (``traceparent``, ``event-type``...) and the reason and where it came from in
    ``dlq-*`` headers, so it can be inspected and replayed as it was (``hubctl dlq replay``)."""
    log.warning(
        "event sent to dead-letter topic",
        extra={"topic": record.topic, "group": group, "reason": reason, "error": error},
    )
    await publisher.publish(
        (record.value or b"") if body is None else body,
        key=record.key,
        headers={
            **original_headers(record),
            "dlq-reason": reason,
            "dlq-error": error[:1000],
            "dlq-source-topic": record.topic,
            "dlq-source-partition": str(record.partition),
            "dlq-source-offset": str(record.offset),
            "dlq-consumer-group": group,
        },
    )
    dead_letters.labels(record.topic, reason).inc()


def original_headers(record: Any) -> dict[str, str]:
    """A consumed record's own headers (aiokafka: ``(name, bytes)`` pairs), ``dlq-*`` left out."""
    pairs = getattr(record, "headers", None) or ()
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for name, value in pairs
        if not name.startswith("dlq-")
    }


def publishes(broker: KafkaBroker | KafkaRouter, *events: type[Event]) -> None:
    """Declare what a service publishes, so its AsyncAPI document shows each topic with the
    event's schema. Publishing itself is ``publish_event``."""
    for event in events:
        broker.publisher(
            event.topic.value,
            title=f"{event.topic.value}:{event.__name__}",
            schema=event,
            description=(event.__doc__ or "").strip().split("\n")[0] or None,
        )


def consumer_description(topic: Topic, group: str) -> str:
    """A consumer in the AsyncAPI document: its event models, group and DLQ."""
    models = [m.__name__ for (t, _), m in EVENT_MODELS.items() if t == topic.value]
    return (
        f"Consumes {', '.join(models)} in group {group}; undecodable or failing records go to "
        f"{dlq_topic(topic.value)}."
    )


def _traced(
    handle: Callable[[bytes, Any], Awaitable[None]],
    topic: Topic,
    group: str,
    tracer_provider: trace.TracerProvider | None,
) -> Callable[[bytes, Any], Awaitable[None]]:
    """``handle`` inside a consumer span per record that continues the trace its producer
    started (a batch span cannot: its records come from many traces), linked to the batch."""
    if tracer_provider is None:
        return handle
    tracer = tracer_provider.get_tracer(__name__)

    async def traced(body: bytes, record: Any) -> None:
        carrier = {
            name: value.decode("latin-1")
            for name, value in (getattr(record, "headers", None) or ())
            if name in ("traceparent", "tracestate") and isinstance(value, bytes)
        }
        with tracer.start_as_current_span(
            f"{topic.value} process record",
            context=_PROPAGATOR.extract(carrier),
            kind=SpanKind.CONSUMER,
            links=[Link(trace.get_current_span().get_span_context())],
            attributes={"messaging.consumer.group.name": group},
        ):
            await handle(body, record)

    return traced


def _record_handler(
    broker: KafkaBroker | KafkaRouter,
    settings: ServiceSettings,
    topic: Topic,
    group: str,
    handler: Handler[E],
    retry_base_delay_s: float,
) -> Callable[[bytes, Any], Awaitable[None]]:
    """Parse one record's bytes, call the handler with retries, dead-letter what fails."""
    publisher = broker.publisher(dlq_topic(topic.value), title=f"{dlq_topic(topic.value)}:{group}")

    async def reject(body: bytes, source: Any, reason: str, error: str) -> None:
        await dead_letter(publisher, source, group=group, reason=reason, error=error, body=body)

    async def handle(body: bytes, source: Any) -> None:
        # A batch runs in one consumer span: each record continues its own publisher's trace.
        token = otel_context.attach(propagate.extract(original_headers(source)))
        try:
            await handle_in_trace(body, source)
        finally:
            otel_context.detach(token)

    async def handle_in_trace(body: bytes, source: Any) -> None:
        try:
            event = parse_event(body, topic=topic.value)
        except ContractError as exc:
            await reject(body, source, exc.reason, str(exc))
            return
        for attempt in range(1, settings.consumer_max_attempts + 1):
            try:
                await handler(event)  # type: ignore[arg-type]
                return
            except PermanentHandlerError as exc:
                await reject(body, source, exc.reason, redact_text(str(exc)))
                return
            except Exception as exc:
                if attempt == settings.consumer_max_attempts:
                    detail = redact_text(f"{type(exc).__name__}: {exc}")
                    await reject(body, source, "handler_failed", detail)
                    return
                log.warning(
                    "handler failed; retrying",
                    extra={"topic": topic.value, "attempt": attempt, "error": type(exc).__name__},
                )
                delay = retry_base_delay_s * 2 ** (attempt - 1)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))

    return handle
