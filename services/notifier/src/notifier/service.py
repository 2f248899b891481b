"""The notifier's use cases over its ports; no I/O library here.

Events become incidents and notifications in one transaction (with the inbox row, under the
connection's lock). The worker then **plans** each notification into deliveries (one per
channel, from connection-store's context at that moment) and **delivers** them: the intent
(state ``sending``, one more attempt, a lease) is committed before a request leaves, the result
after. A delivery found still ``sending`` once its lease has passed belonged to a process that
stopped mid-send: it is sent again only on a channel that de-duplicates (Resend's
Idempotency-Key, same key); elsewhere (Slack, SMTP) it becomes ``uncertain`` and is never
repeated, so nobody gets a message twice; the price is that a crash in the instant between
committing the intent and the request leaving loses that one message (the other medium still
goes out).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from notifier import templates
from notifier.domain import (
    MEDIA,
    Channel,
    Context,
    Duplicate,
    Incident,
    Kind,
    Mark,
    Medium,
    Platform,
    RecoveryCause,
    Remind,
    RetryPolicy,
    Target,
    Unhealthy,
    closes,
    on_unhealthy,
    targets,
)
from notifier.errors import (
    DeliveryError,
    DirectoryUnavailableError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    UncertainDeliveryError,
    UnknownOrganizationError,
)

log = logging.getLogger(__name__)

DeliveryState = Literal["pending", "sending", "sent", "failed", "uncertain", "cancelled"]
Action = Literal["post", "update"]


@dataclass(frozen=True)
class Notification:
    id: uuid.UUID
    incident_id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    kind: Kind
    sequence: int
    media: tuple[Medium, ...]
    attempts: int = 0


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    notification_id: uuid.UUID
    incident_id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    channel: Channel
    action: Action
    idempotency_key: str
    target: dict[str, Any]
    payload: dict[str, Any]
    attempts: int = 0
    provider_ref: str | None = None
    provider_channel: str | None = None

    @property
    def needs_context(self) -> bool:
        """Whether sending needs the brand's credential (fetched as ciphertext at send time)."""
        return self.channel == Channel.SLACK_BOT or self.target.get("via") == "brand"


@dataclass(frozen=True)
class Sent:
    ref: str | None = None
    """What the provider created: Slack ``ts``, Resend email id."""
    channel_id: str | None = None
    """Slack's channel id for the message (chat.update needs the id, not the ``#name``)."""


class Transaction(Protocol):
    """One PostgreSQL transaction over the notifier's tables."""

    async def first_time(self, consumer: str, event_id: uuid.UUID) -> bool: ...

    async def mark(self, organization_id: uuid.UUID, provider: str) -> Mark:
        """The connection's mark, locked until the transaction ends (created if missing)."""
        ...

    async def save_mark(self, organization_id: uuid.UUID, provider: str, mark: Mark) -> None: ...

    async def open_incident(self, organization_id: uuid.UUID, provider: str) -> Incident | None: ...

    async def incident(self, incident_id: uuid.UUID) -> Incident: ...

    async def save_incident(self, incident: Incident) -> None: ...

    async def add_notification(
        self, incident: Incident, kind: Kind, sequence: int, media: Sequence[Medium], at: datetime
    ) -> None: ...

    async def cancel_unsent(self, incident_id: uuid.UUID) -> int:
        """Cancel the incident's pending notifications and deliveries; how many deliveries."""
        ...

    async def told_media(self, incident_id: uuid.UUID) -> list[Medium]:
        """The media whose messages about the incident went out (or may have: uncertain)."""
        ...

    async def claim_notifications(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]: ...

    async def notification_state(self, notification_id: uuid.UUID) -> str: ...

    async def set_notification(
        self,
        notification_id: uuid.UUID,
        state: str,
        *,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
    ) -> None: ...

    async def original_slack_post(self, incident_id: uuid.UUID) -> Delivery | None: ...

    async def add_deliveries(self, deliveries: Sequence[Delivery], now: datetime) -> None: ...

    async def abandoned(self, now: datetime, limit: int) -> list[Delivery]: ...

    async def claim_deliveries(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Delivery]: ...

    async def finish(
        self,
        delivery_id: uuid.UUID,
        state: DeliveryState,
        *,
        now: datetime,
        sent: Sent | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...


class Repository(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...


class Directory(Protocol):
    async def context(self, organization_id: uuid.UUID, provider: str) -> Context: ...


class Senders(Protocol):
    async def send(self, delivery: Delivery, context: Context | None) -> Sent:
        """Send one delivery; raise a ``DeliveryError`` leaf when it did not (surely) go out."""
        ...


class Metrics(Protocol):
    def event(self, consumer: str, outcome: str) -> None: ...

    def delivery(self, channel: str, outcome: str) -> None: ...

    def undeliverable(self, reason: str) -> None: ...


class NoMetrics:
    def event(self, consumer: str, outcome: str) -> None:
        pass

    def delivery(self, channel: str, outcome: str) -> None:
        pass

    def undeliverable(self, reason: str) -> None:
        pass


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Notifier:
    repository: Repository
    directory: Directory
    senders: Senders
    platform: Platform
    provider_names: Mapping[str, str]
    admin_base_url: str
    reminder_interval: timedelta = timedelta(hours=24)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    send_lease: timedelta = timedelta(seconds=120)
    batch_size: int = 20
    metrics: Metrics = field(default_factory=NoMetrics)
    clock: Callable[[], datetime] = _now
    wake: Callable[[], None] = lambda: None
    """Called when there is new work for the worker (set by the app)."""

    # Events

    async def on_unhealthy(self, consumer: str, event_id: uuid.UUID, event: Unhealthy) -> str:
        now = self.clock()
        async with self.repository.transaction() as tx:
            if not await tx.first_time(consumer, event_id):
                return self._counted(consumer, "redelivered")
            mark = await tx.mark(event.organization_id, event.provider)
            if mark.is_stale(event.credential_version, event.occurred_at):
                return self._counted(consumer, "stale")
            current = await tx.open_incident(event.organization_id, event.provider)
            decision = on_unhealthy(current, event, now, self.reminder_interval)
            if isinstance(decision, Duplicate):
                await tx.save_incident(decision.incident)
                return self._counted(consumer, "duplicate")
            if isinstance(decision, Remind):
                incident = decision.incident
                await tx.save_incident(incident)
                await tx.add_notification(incident, "reminder", incident.notifications, MEDIA, now)
                outcome = "reminded"
            else:
                if decision.superseded is not None:
                    await tx.save_incident(decision.superseded)
                    await tx.cancel_unsent(decision.superseded.id)
                await tx.save_incident(decision.incident)
                await tx.add_notification(decision.incident, "opened", 1, MEDIA, now)
                outcome = "opened"
        log.info(
            "incident %s",
            outcome,
            extra={
                "organization_id": str(event.organization_id),
                "provider": event.provider,
                "reason": event.reason,
                "incident_id": str(decision.incident.id),
            },
        )
        self.wake()
        return self._counted(consumer, outcome)

    async def on_recovery(
        self,
        consumer: str,
        event_id: uuid.UUID,
        *,
        organization_id: uuid.UUID,
        provider: str,
        cause: RecoveryCause,
        credential_version: int | None,
        occurred_at: datetime,
    ) -> str:
        """Close the connection's open incident on ``connection.recovered`` (with its credential
        version) or a reconnect (``connection.established``: no version; the new credential is
        one more than the incident's, the store's rule)."""
        now = self.clock()
        async with self.repository.transaction() as tx:
            if not await tx.first_time(consumer, event_id):
                return self._counted(consumer, "redelivered")
            mark = await tx.mark(organization_id, provider)
            current = await tx.open_incident(organization_id, provider)
            version = credential_version
            if version is None:
                version = current.credential_version + 1 if current else mark.recovered_version
            await tx.save_mark(organization_id, provider, mark.after_recovery(version, occurred_at))
            if current is None or not closes(current, cause, credential_version, occurred_at):
                return self._counted(consumer, "nothing_open")
            closed = replace(current, status="closed", closed_at=now, closed_by=cause)
            await tx.save_incident(closed)
            await tx.cancel_unsent(current.id)
            told = await tx.told_media(current.id)
            if told:
                await tx.add_notification(closed, "recovered", 1, told, now)
        log.info(
            "incident closed",
            extra={
                "organization_id": str(organization_id),
                "provider": provider,
                "incident_id": str(current.id),
                "cause": cause,
                "told": told,
            },
        )
        if told:
            self.wake()
        return self._counted(consumer, "closed" if told else "closed_silently")

    def _counted(self, consumer: str, outcome: str) -> str:
        self.metrics.event(consumer, outcome)
        return outcome

    # Planning

    async def plan_due(self) -> int:
        """Plan every notification that is due; how many were looked at."""
        now = self.clock()
        async with self.repository.transaction() as tx:
            claimed = await tx.claim_notifications(now, now + self.send_lease, self.batch_size)
        for notification in claimed:
            await self._plan(notification)
        return len(claimed)

    async def _plan(self, notification: Notification) -> None:
        extra = {
            "organization_id": str(notification.organization_id),
            "provider": notification.provider,
            "notification_id": str(notification.id),
            "kind": notification.kind,
        }
        try:
            context = await self.directory.context(
                notification.organization_id, notification.provider
            )
        except DirectoryUnavailableError as error:
            # Planning waits for connection-store as long as it takes (capped backoff).
            delay = self.retry.delay(1) or timedelta(seconds=1)
            delay = min(delay * 2 ** min(notification.attempts, 10), timedelta(minutes=10))
            log.warning("connection-store unavailable; planning later: %s", error, extra=extra)
            async with self.repository.transaction() as tx:
                await tx.set_notification(
                    notification.id,
                    "pending",
                    next_attempt_at=self.clock() + delay,
                    error=str(error)[:500],
                )
            return
        except UnknownOrganizationError as error:
            async with self.repository.transaction() as tx:
                await tx.set_notification(notification.id, "undeliverable", error=str(error)[:500])
            self.metrics.undeliverable("unknown")
            return
        now = self.clock()
        async with self.repository.transaction() as tx:
            if await tx.notification_state(notification.id) != "pending":
                return  # cancelled by a recovery meanwhile
            incident = await tx.incident(notification.incident_id)
            facts = context.connection
            if (
                notification.kind != "recovered"
                and facts is not None
                and facts.credential_version > incident.credential_version
            ):
                # Reconnected since the verdict (an event we have not seen yet, or a late one).
                await tx.set_notification(notification.id, "cancelled", error="outdated")
                self.metrics.undeliverable("outdated")
                log.info("notification outdated: reconnected since", extra=extra)
                return
            original = None
            if notification.kind == "recovered" and "slack" in notification.media:
                original = await tx.original_slack_post(notification.incident_id)
            found = targets(
                notification.kind,
                incident.reason,
                context,
                self.platform,
                notification.media,
                slack_fallback=original.provider_channel if original else None,
            )
            if not found:
                await tx.set_notification(notification.id, "undeliverable", error="no_channel")
                self.metrics.undeliverable("no_channel")
                log.warning(
                    "no notification channel configured: no Slack connection or webhook, "
                    "no email recipients or email sender; nobody is told",
                    extra={**extra, "reason": incident.reason},
                )
                return
            message = templates.render(self._facts(notification, incident, context))
            deliveries = [self._delivery(notification, t, message) for t in found]
            if original is not None and any(t.channel == Channel.SLACK_BOT for t in found):
                deliveries.append(self._update(notification, original, message))
            await tx.add_deliveries(deliveries, now)
            await tx.set_notification(notification.id, "planned")
        log.info(
            "notification planned",
            extra={**extra, "channels": [d.channel.value for d in deliveries]},
        )

    def _facts(
        self, notification: Notification, incident: Incident, context: Context
    ) -> templates.Facts:
        facts = context.connection
        name = self.provider_names.get(incident.provider, incident.provider)
        return templates.Facts(
            kind=notification.kind,
            provider_id=incident.provider,
            provider_name=facts.name if facts else name,
            account_name=facts.account_name if facts else None,
            reason=incident.reason,
            since=incident.opened_at,
            detail=incident.message,
            link=templates.settings_link(self.admin_base_url, incident.provider),
            token_expires_at=incident.token_expires_at,
            reminder=notification.sequence if notification.kind == "reminder" else 0,
        )

    def _delivery(
        self, notification: Notification, target: Target, message: templates.Message
    ) -> Delivery:
        payload: dict[str, Any]
        if target.channel.medium == "slack":
            payload = templates.slack(message)
        else:
            payload = dict(templates.email(message))
        return self._new(notification, target.channel, "post", target.where, payload)

    def _update(
        self, notification: Notification, original: Delivery, message: templates.Message
    ) -> Delivery:
        where = {"channel": original.provider_channel, "ts": original.provider_ref}
        payload = templates.slack_resolved_original(message, original.payload)
        return self._new(notification, Channel.SLACK_BOT, "update", where, payload)

    def _new(
        self,
        notification: Notification,
        channel: Channel,
        action: Action,
        where: dict[str, Any],
        payload: dict[str, Any],
    ) -> Delivery:
        return Delivery(
            id=uuid.uuid4(),
            notification_id=notification.id,
            incident_id=notification.incident_id,
            organization_id=notification.organization_id,
            provider=notification.provider,
            channel=channel,
            action=action,
            idempotency_key=f"notifier-{notification.id}-{channel.value}-{action}",
            target=where,
            payload=payload,
        )

    # Delivering

    async def deliver_due(self) -> int:
        """Send every delivery that is due (and settle abandoned ones); how many were sent."""
        now = self.clock()
        async with self.repository.transaction() as tx:
            for delivery in await tx.abandoned(now, self.batch_size):
                await self._settle_abandoned(tx, delivery, now)
            claimed = await tx.claim_deliveries(now, now + self.send_lease, self.batch_size)
        await asyncio.gather(*(self._deliver(delivery) for delivery in claimed))
        return len(claimed)

    async def _settle_abandoned(self, tx: Transaction, delivery: Delivery, now: datetime) -> None:
        extra = self._extra(delivery)
        if delivery.channel.idempotent:
            log.warning("delivery abandoned mid-send; sending again (idempotent)", extra=extra)
            await tx.finish(delivery.id, "pending", now=now, next_attempt_at=now)
            return
        log.warning(
            "delivery abandoned mid-send; not repeated (the channel has no idempotency): "
            "it may or may not have arrived",
            extra=extra,
        )
        self.metrics.delivery(delivery.channel.value, "uncertain")
        await tx.finish(
            delivery.id, "uncertain", now=now, error="the notifier stopped while sending"
        )

    async def _deliver(self, delivery: Delivery) -> None:
        extra = self._extra(delivery)
        state: DeliveryState
        sent: Sent | None = None
        error: str | None = None
        retry_at: datetime | None = None
        try:
            context = None
            if delivery.needs_context:
                context = await self.directory.context(delivery.organization_id, delivery.provider)
            sent = await self.senders.send(delivery, context)
            state = "sent"
        except (RetryableDeliveryError, DirectoryUnavailableError) as failure:
            retry_after = getattr(failure, "retry_after_s", None)
            delay = self.retry.delay(delivery.attempts, retry_after)
            state, error = ("pending", str(failure)) if delay else ("failed", str(failure))
            retry_at = self.clock() + delay if delay else None
        except UncertainDeliveryError as failure:
            state, error = "uncertain", str(failure)
            if delivery.channel.idempotent:
                delay = self.retry.delay(delivery.attempts) or None
                state = "pending" if delay else "failed"
                retry_at = self.clock() + delay if delay else None
        except (PermanentDeliveryError, UnknownOrganizationError, DeliveryError) as failure:
            state, error = "failed", str(failure)
        except Exception as failure:  # a bug: never repeat what may have gone out
            log.exception("delivery failed unexpectedly", extra=extra)
            state = "pending" if delivery.channel.idempotent else "uncertain"
            error = f"unexpected {type(failure).__name__}"
            retry_at = self.clock() + timedelta(seconds=60) if state == "pending" else None
        async with self.repository.transaction() as tx:
            await tx.finish(
                delivery.id,
                state,
                now=self.clock(),
                sent=sent,
                error=error[:500] if error else None,
                next_attempt_at=retry_at,
            )
        outcome = "retry" if state == "pending" else state
        self.metrics.delivery(delivery.channel.value, outcome)
        level = logging.INFO if state == "sent" else logging.WARNING
        log.log(level, "delivery %s", outcome, extra={**extra, "error": error})

    @staticmethod
    def _extra(delivery: Delivery) -> dict[str, Any]:
        return {
            "delivery_id": str(delivery.id),
            "organization_id": str(delivery.organization_id),
            "provider": delivery.provider,
            "channel": delivery.channel.value,
            "action": delivery.action,
            "attempt": delivery.attempts,
        }
