"""The notifier's rules, without I/O: incidents and when they call for a message, where a
message goes, and when a failed delivery is tried again.

An **incident** is one (organization, provider, reason) that needs attention. It opens with the
first ``connection.unhealthy`` of that reason and stays open until the connection recovers
(``connection.recovered``, or a reconnect: ``connection.established`` with a newer credential).
While it is open, more events of the same reason are duplicates (the sweeps re-report) unless the
reminder interval has passed since the last message; a different reason closes it as superseded
and opens a new one. A recovery closes it and is told only where the incident was told.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

Kind = Literal["opened", "reminder", "recovered"]
Medium = Literal["slack", "email"]
MEDIA: tuple[Medium, ...] = ("slack", "email")


class Channel(StrEnum):
    SLACK_BOT = "slack_bot"
    """The brand's own Slack workspace, with its bot token (chat.postMessage / chat.update)."""
    SLACK_WEBHOOK = "slack_webhook"
    """The platform's incoming webhook (a brand without a Slack connection)."""
    RESEND = "resend"
    SMTP = "smtp"

    @property
    def medium(self) -> Medium:
        return "slack" if self in (Channel.SLACK_BOT, Channel.SLACK_WEBHOOK) else "email"

    @property
    def idempotent(self) -> bool:
        """Whether the provider de-duplicates a repeated request (Resend's Idempotency-Key), so a
        send whose outcome is unknown may be repeated safely."""
        return self == Channel.RESEND


NOTIFICATION_TYPES: dict[Kind, str] = {
    "opened": "connection_needs_attention",
    "reminder": "connection_needs_attention",
    "recovered": "connection_recovered",
}
"""Slack ``channel_routing`` keys (the catalog's options) per kind of message."""
REAUTH_SOON = "reauth_soon"
"""The reminder for a token that cannot be refreshed; routed as ``token_expiring_soon``."""


def notification_type(kind: Kind, reason: str) -> str:
    if reason == REAUTH_SOON and kind != "recovered":
        return "token_expiring_soon"
    return NOTIFICATION_TYPES[kind]


@dataclass(frozen=True)
class Mark:
    """What the notifier knows of a connection's recoveries (``notifier_connections``)."""

    recovered_version: int = 0
    recovered_at: datetime | None = None

    def is_stale(self, credential_version: int, occurred_at: datetime) -> bool:
        """An unhealthy verdict about a credential replaced since, or from before a recovery."""
        if credential_version < self.recovered_version:
            return True
        return (
            credential_version == self.recovered_version
            and self.recovered_at is not None
            and occurred_at <= self.recovered_at
        )

    def after_recovery(self, credential_version: int, occurred_at: datetime) -> Mark:
        """After a recovery of ``credential_version`` (for a reconnect: one more than the
        credential it replaced, the store's rule) seen at ``occurred_at``."""
        at = occurred_at if self.recovered_at is None else max(self.recovered_at, occurred_at)
        return Mark(max(self.recovered_version, credential_version), at)


@dataclass(frozen=True)
class Incident:
    id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    reason: str
    credential_version: int
    message: str
    opened_at: datetime
    last_event_at: datetime
    last_notified_at: datetime
    token_expires_at: datetime | None = None
    notifications: int = 1
    duplicates: int = 0
    status: Literal["open", "closed"] = "open"
    closed_at: datetime | None = None
    closed_by: str | None = None


@dataclass(frozen=True)
class Unhealthy:
    """The facts of a ``connection.unhealthy`` event the rules need."""

    organization_id: uuid.UUID
    provider: str
    reason: str
    credential_version: int
    message: str
    occurred_at: datetime
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class Open:
    incident: Incident
    superseded: Incident | None = None


@dataclass(frozen=True)
class Remind:
    incident: Incident


@dataclass(frozen=True)
class Duplicate:
    incident: Incident


Decision = Open | Remind | Duplicate


def on_unhealthy(
    current: Incident | None, event: Unhealthy, now: datetime, reminder_interval: timedelta
) -> Decision:
    """What an unhealthy verdict means given the connection's open incident (if any)."""
    if current is not None and current.reason == event.reason:
        seen = replace(current, last_event_at=max(current.last_event_at, event.occurred_at))
        if now - current.last_notified_at < reminder_interval:
            return Duplicate(replace(seen, duplicates=current.duplicates + 1))
        return Remind(
            replace(
                seen,
                last_notified_at=now,
                notifications=current.notifications + 1,
                message=event.message,
                token_expires_at=event.token_expires_at or current.token_expires_at,
            )
        )
    incident = Incident(
        id=uuid.uuid4(),
        organization_id=event.organization_id,
        provider=event.provider,
        reason=event.reason,
        credential_version=event.credential_version,
        message=event.message,
        opened_at=event.occurred_at,
        last_event_at=event.occurred_at,
        last_notified_at=now,
        token_expires_at=event.token_expires_at,
    )
    superseded = None
    if current is not None:
        superseded = replace(current, status="closed", closed_at=now, closed_by="superseded")
    return Open(incident, superseded)


RecoveryCause = Literal["recovered", "reconnected"]


def closes(
    current: Incident, cause: RecoveryCause, credential_version: int | None, occurred_at: datetime
) -> bool:
    """Whether a recovery signal closes the open incident. A recovery speaks of the same (or a
    newer) credential, after the incident's latest event; a reconnect (``connection.established``,
    which carries no version) brings a new credential after the incident opened."""
    if cause == "reconnected" or credential_version is None:
        return occurred_at >= current.opened_at
    return credential_version >= current.credential_version and occurred_at >= current.last_event_at


# Targets


@dataclass(frozen=True)
class Recipients:
    """The organization's notification settings (connection-store)."""

    email_recipients: tuple[str, ...] = ()
    email_enabled: bool = True
    slack_enabled: bool = True
    email_from: str | None = None


@dataclass(frozen=True)
class ConnectionFacts:
    provider: str
    name: str
    status: str
    account_name: str | None = None
    account_id: str | None = None
    credential_version: int = 0


@dataclass(frozen=True)
class BrandSlack:
    credential_version: int
    access_token: Mapping[str, Any] = field(repr=False)
    """Ciphertext (``EncryptedCredential`` JSON) until a sender decrypts it."""
    team: str | None = None
    channel_routing: Mapping[str, str] = field(default_factory=dict)
    default_channel: str | None = None

    def channel_for(self, notification_type: str) -> str | None:
        return self.channel_routing.get(notification_type) or self.default_channel


@dataclass(frozen=True)
class Context:
    """What connection-store says about an organization when a message is planned or sent."""

    recipients: Recipients = field(default_factory=Recipients)
    connection: ConnectionFacts | None = None
    slack: BrandSlack | None = None
    resend_key: Mapping[str, Any] | None = field(default=None, repr=False)
    """The brand's own Resend API key (ciphertext), when its Resend connection is active."""


@dataclass(frozen=True)
class Platform:
    """What the operator configured (notifier settings)."""

    slack_webhook: bool = False
    resend: bool = False
    smtp: bool = False
    email_from: str = "Integrations hub <notifications@localhost>"


@dataclass(frozen=True)
class Target:
    channel: Channel
    where: dict[str, Any]
    """Non-secret addressing: the Slack channel, email sender and recipients, how to send."""


def targets(
    kind: Kind,
    reason: str,
    context: Context,
    platform: Platform,
    media: Sequence[Medium] = MEDIA,
    slack_fallback: str | None = None,
) -> list[Target]:
    """Where a message goes: the brand's Slack (the channel routed for this type, else the
    default channel, else ``slack_fallback``: for a recovery, where the alert went) or else the
    platform webhook; email through the brand's Resend (with its own sender), the platform's
    Resend key or SMTP."""
    found: list[Target] = []
    settings = context.recipients
    if "slack" in media and settings.slack_enabled:
        slack = context.slack
        channel = slack.channel_for(notification_type(kind, reason)) if slack else None
        channel = channel or (slack_fallback if slack else None)
        if channel is not None:
            found.append(Target(Channel.SLACK_BOT, {"channel": channel}))
        elif platform.slack_webhook:
            found.append(Target(Channel.SLACK_WEBHOOK, {}))
    if "email" in media and settings.email_enabled and settings.email_recipients:
        to = list(settings.email_recipients)
        if context.resend_key is not None and settings.email_from:
            found.append(
                Target(Channel.RESEND, {"via": "brand", "from": settings.email_from, "to": to})
            )
        elif platform.resend:
            found.append(
                Target(Channel.RESEND, {"via": "platform", "from": platform.email_from, "to": to})
            )
        elif platform.smtp:
            found.append(Target(Channel.SMTP, {"from": platform.email_from, "to": to}))
    return found


# Retries


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
