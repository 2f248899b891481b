"""Delivering: the intent (``sending``, one more attempt, a lease) is committed before a request
leaves, the result after; what a stopped process left ``sending`` is settled first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub_runtime.telemetry import context_of
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from notifier.domain.deliveries import Delivery, DeliveryState, RetryPolicy, Sent
from notifier.errors import (
    DeliveryError,
    DirectoryUnavailableError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    UncertainDeliveryError,
    UnknownOrganizationError,
)
from notifier.service.ports import Database, Directory, Metrics, Senders, Transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt, as recorded on the delivery."""

    state: DeliveryState
    sent: Sent | None = None
    error: str | None = None
    retry_at: datetime | None = None


@dataclass
class Dispatcher:
    database: Database
    directory: Directory
    senders: Senders
    metrics: Metrics
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(seconds=120)
    batch_size: int = 20
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    tracer_provider: TracerProvider | None = None

    async def deliver_due(self) -> int:
        """Send every delivery that is due (and settle abandoned ones); how many were sent."""
        now = self.clock()
        async with self.database.transaction() as tx:
            for delivery in await tx.deliveries.abandoned(now, self.batch_size):
                await self._settle_abandoned(tx, delivery, now)
            claimed = await tx.deliveries.claim(now, now + self.lease, self.batch_size)
        await asyncio.gather(*(self._deliver(delivery) for delivery in claimed))
        return len(claimed)

    async def _settle_abandoned(self, tx: Transaction, delivery: Delivery, now: datetime) -> None:
        """Sent again only where the channel de-duplicates; elsewhere never repeated."""
        extra = _extra(delivery)
        if delivery.channel.idempotent:
            log.warning("delivery abandoned mid-send; sending again (idempotent)", extra=extra)
            await tx.deliveries.finish(delivery.id, "pending", now=now, next_attempt_at=now)
            return
        log.warning(
            "delivery abandoned mid-send; not repeated (the channel has no idempotency): "
            "it may or may not have arrived",
            extra=extra,
        )
        self.metrics.delivery(delivery.channel.value, "uncertain")
        await tx.deliveries.finish(
            delivery.id, "uncertain", now=now, error="the notifier stopped while sending"
        )

    async def _deliver(self, delivery: Delivery) -> None:
        tracer = trace.get_tracer(__name__, tracer_provider=self.tracer_provider)
        with tracer.start_as_current_span(
            f"notify {delivery.channel.value}",
            context=context_of(delivery.traceparent),
            kind=trace.SpanKind.CLIENT,
            attributes={"hub.provider": delivery.provider, "hub.channel": delivery.channel.value},
        ) as span:
            outcome = await self._attempt(delivery)
            span.set_attribute("hub.outcome", outcome.state)
        async with self.database.transaction() as tx:
            await tx.deliveries.finish(
                delivery.id,
                outcome.state,
                now=self.clock(),
                sent=outcome.sent,
                error=outcome.error[:500] if outcome.error else None,
                next_attempt_at=outcome.retry_at,
            )
        counted = "retry" if outcome.state == "pending" else outcome.state
        self.metrics.delivery(delivery.channel.value, counted)
        level = logging.INFO if outcome.state == "sent" else logging.WARNING
        log.log(level, "delivery %s", counted, extra={**_extra(delivery), "error": outcome.error})

    async def _attempt(self, delivery: Delivery) -> Outcome:
        """Send once (with the brand's credential where it needs one); what came of it."""
        try:
            context = None
            if delivery.needs_context:
                context = await self.directory.context(delivery.organization_id, delivery.provider)
            return Outcome("sent", sent=await self.senders.send(delivery, context))
        except (RetryableDeliveryError, DirectoryUnavailableError) as failure:
            retry_after = getattr(failure, "retry_after_s", None)
            return self._again(delivery, str(failure), "failed", retry_after)
        except UncertainDeliveryError as failure:
            if delivery.channel.idempotent:
                return self._again(delivery, str(failure), "failed")
            return Outcome("uncertain", error=str(failure))
        except (PermanentDeliveryError, UnknownOrganizationError, DeliveryError) as failure:
            return Outcome("failed", error=str(failure))
        except Exception as failure:  # a bug: never repeat what may have gone out
            log.exception("delivery failed unexpectedly", extra=_extra(delivery))
            error = f"unexpected {type(failure).__name__}"
            if delivery.channel.idempotent:
                return Outcome(
                    "pending", error=error, retry_at=self.clock() + timedelta(seconds=60)
                )
            return Outcome("uncertain", error=error)

    def _again(
        self,
        delivery: Delivery,
        error: str,
        otherwise: DeliveryState,
        retry_after_s: float | None = None,
    ) -> Outcome:
        """Pending again after the policy's delay, or ``otherwise`` once attempts are used up."""
        delay = self.retry.delay(delivery.attempts, retry_after_s)
        if not delay:
            return Outcome(otherwise, error=error)
        return Outcome("pending", error=error, retry_at=self.clock() + delay)


def _extra(delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": str(delivery.id),
        "organization_id": str(delivery.organization_id),
        "provider": delivery.provider,
        "channel": delivery.channel.value,
        "action": delivery.action,
        "attempt": delivery.attempts,
    }
