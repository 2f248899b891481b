"""Thin: one ``token.expiring`` record → parse → the refresher → dead-letter what cannot be handled.

- Undecodable or invalid records go to ``token.expiring.dlq`` with the contract's reason
  (``malformed``, ``invalid``, ``unknown_event_type``...).
- ``DeadLetterError`` from the refresher (provider or auth mode not in the catalog, a ciphertext
  the key ring cannot open) goes there with its reason.
- Anything unexpected goes there as ``handler_failed`` at once, without an in-process retry: the
  refresher retries what is worth retrying itself, and calling a provider again after an
  unexplained failure could spend a rotating refresh token twice. The store's sweep emits the
  connection again after its retry interval.

Each record is one span, continuing the trace of the sweep that emitted it (``traceparent``).
"""

from __future__ import annotations

from typing import Any

from hub_contracts import ContractError, TokenExpiringV1, Topic, parse_event
from hub_runtime import redact_text
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from token_refresher.adapters.kafka import DeadLetters
from token_refresher.errors import DeadLetterError
from token_refresher.metrics import Metrics
from token_refresher.service import Refresher

_PROPAGATOR = TraceContextTextMapPropagator()


class ExpiringHandler:
    def __init__(
        self,
        refresher: Refresher,
        dead_letters: DeadLetters,
        metrics: Metrics,
        *,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.refresher = refresher
        self.dead_letters = dead_letters
        self.metrics = metrics
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
        await self.dead_letters.send(record, reason, error)
