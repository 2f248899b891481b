"""Where a message goes: the channels, the organization's context from connection-store, the
platform's own channels, and the targets they give for one message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
class PlatformChannels:
    """The platform's own channels, as the operator configured them (notifier settings): used
    for a brand that has no Slack connection or Resend connection of its own."""

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
    platform: PlatformChannels,
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
