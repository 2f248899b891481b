"""Messages: what broke (provider, account, reason in plain words), since when, and the next step
with a link to the integration's settings page; rendered per channel (Slack, email)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from string import Template
from typing import Any

from hub_catalog import WHERE

from notifier.domain.routing import Kind

REASONS: dict[str, tuple[str, str]] = {
    # reason: (what happened, in plain words; the next step)
    "revoked": (
        "$provider stopped accepting our access: it was revoked or its password changed.",
        "Reconnect $provider in $where.",
    ),
    "expired": (
        "$provider's access has expired.",
        "Reconnect $provider in $where.",
    ),
    "reauth_soon": (
        "$provider's access expires on $expires and cannot be renewed automatically.",
        "Reconnect $provider in $where before then to keep it working.",
    ),
    "invalid_credentials": (
        "$provider refused the saved credentials.",
        "Reconnect $provider in $where with valid credentials.",
    ),
    "insufficient_scope": (
        "$provider says we lack permissions this integration needs.",
        "Reconnect $provider in $where and grant every requested permission.",
    ),
    "provider_unavailable": (
        "$provider is not answering.",
        "Nothing to do yet: we keep retrying. If it lasts, check $provider's status page, "
        "then use Sync now in $where.",
    ),
    "misconfigured": (
        "The $provider integration's settings are incomplete or wrong.",
        "Check the $provider settings in $where, then use Sync now.",
    ),
}
FALLBACK = ("$provider needs attention.", "Open $provider in $where.")
TITLES: dict[Kind, str] = {
    "opened": "Action needed: $provider connection $status",
    "reminder": "Reminder: $provider connection $status",
    "recovered": "Resolved: $provider is working again",
}
STATUS_WORDS = {
    "revoked": "revoked",
    "expired": "expired",
    "reauth_soon": "expires soon",
    "invalid_credentials": "refused",
    "insufficient_scope": "missing permissions",
    "provider_unavailable": "unavailable",
    "misconfigured": "misconfigured",
}


@dataclass(frozen=True)
class Facts:
    kind: Kind
    provider_id: str
    provider_name: str
    account_name: str | None
    reason: str
    since: datetime
    detail: str | None
    link: str
    token_expires_at: datetime | None = None
    reminder: int = 0
    """For a reminder: the how-many-th message about this incident."""


@dataclass(frozen=True)
class Message:
    title: str
    what: str
    since: str
    next_step: str
    link: str
    detail: str | None
    resolved: bool

    def lines(self) -> list[str]:
        found = [self.what, self.since]
        if self.detail:
            found.append(f"Details: {self.detail}")
        found.append(f"Next step: {self.next_step}")
        return found


def settings_link(base_url: str, provider_id: str) -> str:
    """The integration's settings page in the admin console (slugs use hyphens)."""
    return f"{base_url.rstrip('/')}/admin/settings/integrations/{provider_id.replace('_', '-')}"


def when(moment: datetime) -> str:
    return moment.strftime("%-d %B %Y, %H:%M UTC")


def render(facts: Facts) -> Message:
    what_t, step_t = REASONS.get(facts.reason, FALLBACK)
    provider = facts.provider_name
    named = f"{provider} ({facts.account_name})" if facts.account_name else provider
    values = {
        "provider": provider,
        "where": WHERE,
        "status": STATUS_WORDS.get(facts.reason, "needs attention"),
        "expires": when(facts.token_expires_at) if facts.token_expires_at else "soon",
    }
    if facts.kind == "recovered":
        return Message(
            title=Template(TITLES["recovered"]).substitute(values),
            what=f"{named} is connected and working again.",
            since=f"It needed attention since {when(facts.since)}.",
            next_step="Nothing to do.",
            link=facts.link,
            detail=None,
            resolved=True,
        )
    what = Template(what_t).substitute(values).replace(provider, named, 1)
    since = f"Since {when(facts.since)}."
    if facts.kind == "reminder":
        since = f"Still unresolved since {when(facts.since)} (reminder {facts.reminder - 1})."
    return Message(
        title=Template(TITLES[facts.kind]).substitute(values),
        what=what,
        since=since,
        next_step=Template(step_t).substitute(values),
        link=facts.link,
        detail=facts.detail,
        resolved=False,
    )


# Per channel


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(message: Message) -> dict[str, Any]:
    """``text`` (notifications, screen readers) and ``blocks`` for chat.postMessage / webhooks."""
    icon = ":white_check_mark:" if message.resolved else ":warning:"
    body = "\n".join(_slack_escape(line) for line in message.lines())
    return {
        "text": f"{message.title}. {message.next_step}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {body}"[:3000]}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the integration settings"},
                        "url": message.link,
                    }
                ],
            },
        ],
    }


def slack_resolved_original(message: Message, original: dict[str, Any]) -> dict[str, Any]:
    """The original alert, updated in place: marked resolved, its text kept below."""
    text = f":white_check_mark: *Resolved*: {_slack_escape(message.what)}"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    return {"text": f"{message.title}.", "blocks": blocks + list(original.get("blocks", []))[1:2]}


def email(message: Message) -> dict[str, str]:
    text = "\n\n".join([*message.lines(), f"Open the integration settings: {message.link}"])
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in message.lines())
    link = html.escape(message.link, quote=True)
    return {
        "subject": message.title,
        "text": text + "\n",
        "html": (
            f"<h2>{html.escape(message.title)}</h2>{paragraphs}"
            f'<p><a href="{link}">Open the integration settings</a></p>'
        ),
    }
