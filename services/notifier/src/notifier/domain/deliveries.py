"""Notifications and deliveries: one message per incident event, one delivery per channel, and
when a failed delivery is tried again."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from notifier.domain import messages
from notifier.domain.incidents import Incident
from notifier.domain.routing import Channel, Context, Kind, Medium, Target

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
    traceparent: str | None = None
    """The W3C trace context of the event that asked for it (the delivery's span continues it)."""

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


def outdated(notification: Notification, incident: Incident, context: Context) -> bool:
    """An alert about a credential the store has replaced since (a reconnect not seen yet, or a
    late verdict): dropped while planning. A recovery is never outdated."""
    facts = context.connection
    return (
        notification.kind != "recovered"
        and facts is not None
        and facts.credential_version > incident.credential_version
    )


def deliveries(
    notification: Notification,
    found: list[Target],
    message: messages.Message,
    original: Delivery | None = None,
) -> list[Delivery]:
    """One post per target; with ``original`` (the alert's Slack post) and the brand's Slack
    among the targets, the alert is also updated in place."""
    planned = [_post(notification, target, message) for target in found]
    if original is not None and any(t.channel == Channel.SLACK_BOT for t in found):
        planned.append(_update(notification, original, message))
    return planned


def _post(notification: Notification, target: Target, message: messages.Message) -> Delivery:
    payload: dict[str, Any]
    if target.channel.medium == "slack":
        payload = messages.slack(message)
    else:
        payload = dict(messages.email(message))
    return _new(notification, target.channel, "post", target.where, payload)


def _update(notification: Notification, original: Delivery, message: messages.Message) -> Delivery:
    where = {"channel": original.provider_channel, "ts": original.provider_ref}
    payload = messages.slack_resolved_original(message, original.payload)
    return _new(notification, Channel.SLACK_BOT, "update", where, payload)


def _new(
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


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 2.0
    max_s: float = 600.0

    def delay(self, attempt: int, retry_after_s: float | None = None) -> timedelta | None:
        """How long to wait after failed attempt number ``attempt`` (1-based); ``None`` when the
        attempts are used up. Exponential with jitter, never sooner than ``Retry-After``."""
        if attempt >= self.max_attempts:
            return None
        backoff = min(self.max_s, self.base_s * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
        return timedelta(seconds=max(backoff, retry_after_s or 0.0))

    def wait_for_directory(self, attempts: int) -> timedelta:
        """How long planning waits for connection-store after ``attempts`` tries: it waits as
        long as it takes, doubling from the first delay up to ten minutes."""
        delay = self.delay(1) or timedelta(seconds=1)
        return min(delay * (1 << min(attempts, 10)), timedelta(minutes=10))
