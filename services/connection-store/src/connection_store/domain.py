"""Connection-state rules that need no I/O: a connection as stored, what its status means, when
work is due, and what a person should do."""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from hub_catalog import WHERE, AuthMode, Provider, RefreshStrategy
from hub_contracts import Credentials

Status = Literal["pending", "active", "expired", "error", "disconnected"]
IntegrationStatus = Literal[
    "not_connected", "connecting", "active", "expired", "error", "disconnected"
]
"""What the API shows: ``pending`` rows (settings only) are ``not_connected``."""

CONNECTED = frozenset({"active", "error", "expired"})
"""Statuses of a connection that holds a credential (Sync now checks it)."""
REFRESHABLE = frozenset({"active", "error"})
"""Statuses whose credential is still kept fresh and checked: an outage or a permission problem
does not stop refreshes; an expired (revoked) credential cannot be refreshed."""
EXPIRED_REASONS = frozenset({"revoked", "expired", "invalid_credentials"})
"""Unhealthy reasons that mean the credential itself is gone: only reconnecting helps."""
REMINDER_REASONS = frozenset({"reauth_soon"})
"""Unhealthy reasons that leave a working connection working: a reminder, not a failure."""
_SHOWN: dict[str, IntegrationStatus] = {
    "active": "active",
    "error": "error",
    "expired": "expired",
    "disconnected": "disconnected",
}


@dataclass(frozen=True)
class ConnectionRow:
    """One ``integration_connections`` row (the columns a query read; the rest at defaults).

    ``sealed`` is the ciphertext exactly as stored (``Credentials`` JSON); it goes into events and
    never into a view.
    """

    id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    status: str
    auth_type: str | None = None
    sealed: Mapping[str, Any] = field(default_factory=dict, repr=False)
    credential_version: int = 0
    token_expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    account_id: str | None = None
    account_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    last_error_code: str | None = None
    last_sync_at: datetime | None = None
    last_checked_at: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    attempt_state: str | None = None
    attempt_reason: str | None = None
    attempt_message: str | None = None
    attempt_at: datetime | None = None
    next_refresh_at: datetime | None = None
    last_check_outcome: str | None = None
    last_check_id: uuid.UUID | None = None
    refresh_requested_at: datetime | None = None
    refresh_failed_at: datetime | None = None

    @property
    def connected(self) -> bool:
        """Whether a credential is held (active, error or expired)."""
        return self.status in CONNECTED

    @property
    def credential_names(self) -> list[str]:
        names = [n for n in ("access_token", "refresh_token") if self.sealed.get(n) is not None]
        return names + sorted(self.sealed.get("fields") or {})

    def credentials(self) -> Credentials:
        """The stored ciphertext as the contract's ``Credentials`` (``ValueError`` if invalid)."""
        return Credentials.model_validate_json(json.dumps(dict(self.sealed)))


def integration_status(row: ConnectionRow | None) -> IntegrationStatus:
    """The hub's status of a connection: ``connecting`` only while an attempt is in progress for
    a connection that holds no credential (never connected, or disconnected). A reconnect of an
    ``active``, ``expired`` or ``error`` connection keeps that status; the attempt in progress
    shows beside it (``attempt``), so a reconnect never hides what is wrong underneath."""
    if row is None:
        return "not_connected"
    if row.attempt_state == "connecting" and row.status not in CONNECTED:
        return "connecting"
    return _SHOWN.get(row.status, "not_connected")


SHORT_LIFETIME_SHARE = 0.75
"""A token issued with no more life than the catalog's lead is renewed at this share of it."""
MIN_RENEWAL_DELAY_S = 30.0
"""A token is never due again sooner than this after it was issued (or, for a token shorter
than twice this, at the share above): no provider is called every sweep."""


def next_refresh_at(
    mode: AuthMode | None, expires_at: datetime | None, issued_at: datetime
) -> datetime | None:
    """When ``token.expiring`` is due for a token issued at ``issued_at``: the mode's lead before
    expiry (refresh, re-mint or reminder), shrunk to a share of the lifetime the provider really
    issued when that is no longer than the lead, and never within a short delay of issue."""
    if (
        mode is None
        or expires_at is None
        or mode.refresh == RefreshStrategy.NONE
        or mode.refresh_lead_s is None
    ):
        return None
    lifetime = (expires_at - issued_at).total_seconds()
    lead = float(mode.refresh_lead_s)
    if lifetime <= lead:
        lead = max(lifetime, 0.0) * (1 - SHORT_LIFETIME_SHARE)
    floor = MIN_RENEWAL_DELAY_S
    if lifetime > 0:
        floor = min(MIN_RENEWAL_DELAY_S, lifetime * SHORT_LIFETIME_SHARE)
    return max(expires_at - timedelta(seconds=lead), issued_at + timedelta(seconds=floor))


def next_check_at(
    now: datetime, interval_s: int, jitter: float, rng: random.Random | None = None
) -> datetime:
    """The next scheduled health check, spread by ±``jitter`` so checks do not bunch up."""
    spread = (rng or random).uniform(1 - jitter, 1 + jitter)
    return now + timedelta(seconds=interval_s * spread)


def status_after_unhealthy(reason: str, current: str) -> str:
    if reason in REMINDER_REASONS:
        return current
    return "expired" if reason in EXPIRED_REASONS else "error"


def stale_verdict(row: ConnectionRow, credential_version: int) -> bool:
    """A health verdict about an older credential than the row holds, or a disconnected row."""
    return row.credential_version > credential_version or row.status in ("disconnected", "pending")


def next_step(provider: Provider, status: str, error_code: str | None) -> str | None:
    """What a person should do now, or ``None`` when nothing is needed."""
    if status == "expired" or error_code in REMINDER_REASONS:
        return f"Reconnect {provider.name} in {WHERE}."
    if status == "error":
        if error_code == "provider_unavailable":
            return (
                f"{provider.name} is not answering; we keep retrying. "
                f"If this lasts, check {provider.name}'s status page, then use Sync now."
            )
        if error_code == "insufficient_scope":
            return f"Reconnect {provider.name} in {WHERE} and grant every requested permission."
        return f"Check the {provider.name} settings in {WHERE}, then use Sync now."
    return None


def flag_effect(
    enabled: bool, requires_connection: bool, provider: Provider | None, status: str | None
) -> tuple[bool, str | None]:
    """Whether a flag is in effect, and why not: an enabled flag that needs a connection is off
    while that connection is not ``active`` (the stored choice stays, so reconnecting restores
    it)."""
    if not enabled or not requires_connection or provider is None or status == "active":
        return enabled, None
    name = provider.name
    match status:
        case "expired":
            why = f"{name} needs reconnecting; the feature is back on once it is reconnected."
        case "error":
            why = f"{name} has a problem; the feature is back on once it works again."
        case "disconnected":
            why = f"{name} was disconnected; the feature is back on once it is reconnected."
        case _:
            why = f"{name} is not connected; the feature is on once it is connected."
    return False, why


def resource_values(value: Any) -> list[str]:
    """The resource ids a setting's value names (one, or each item of a list)."""
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def listed(value: str, items: list[tuple[str, str]]) -> bool:
    """Whether ``value`` is a listed id, or ``#name`` of a listed name (a Slack channel)."""
    if any(value == ident for ident, _ in items):
        return True
    return value.startswith("#") and any(value[1:] == name for _, name in items)


# --- history (issue 11) ----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to an integration, as its Activity timeline shows it: a kind and
    a person's summary (never a credential, never a provider's raw answer)."""

    provider: str
    at: datetime
    kind: str
    summary: str
    event_id: uuid.UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryRecord:
    id: int
    at: datetime
    kind: str
    summary: str
    details: dict[str, Any]


HISTORY_KINDS = {
    "connection.requested": "requested",
    "connection.failed": "failed",
    "connection.established": "connected",
    "token.refreshed": "refreshed",
    "connection.unhealthy": "unhealthy",
    "connection.recovered": "recovered",
    "connection.disconnected": "disconnected",
}
"""Event type → timeline kind; a consumer of a new event adds its kind here (and a summary in
``history_entry``)."""


def history_entry(event: Any, provider: Provider) -> HistoryEntry | None:
    """The timeline entry of a consumed event, or ``None`` for events the timeline skips."""
    kind = HISTORY_KINDS.get(getattr(event, "event_type", ""))
    if kind is None:
        return None
    name = provider.name
    details: dict[str, Any] = {}
    match kind:
        case "requested":
            summary = f"Connecting {name} was started"
            if event.requested_by:
                summary += f" by {event.requested_by}"
        case "failed":
            summary = f"Connecting {name} failed: {event.message}"
            details = {"reason": event.reason}
        case "connected":
            account = event.account.name or event.account.id
            summary = f"Connected to {account}" if account else f"{name} connected"
        case "refreshed":
            summary = "Access token refreshed"
            details = {"credential_version": event.credential_version}
        case "unhealthy":
            summary = str(event.message)
            details = {"reason": event.reason}
        case "recovered":
            summary = f"{name} works again"
        case _:
            by = getattr(event, "disconnected_by", None)
            summary = f"Disconnected by {by}" if by else f"{name} disconnected"
            details = {"reason": getattr(event, "reason", None)}
    return HistoryEntry(
        provider=provider.id,
        at=event.occurred_at,
        kind=kind,
        summary=summary[:500],
        event_id=event.event_id,
        details=details,
    )


def history_cursor(cursor: str | None) -> int | None:
    """The id a history cursor stands for; ``ValueError`` for anything else."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise ValueError("not a history cursor")
    return int(cursor)


# --- credentials for the platform's services (issue 12) ---------------------------------------


def transport_names(mode: AuthMode) -> set[str]:
    """The ``{placeholders}`` of the mode's transport: what a request to the provider carries."""
    names: set[str] = set()
    for placement in mode.transport:
        for template in (placement.value, placement.username, placement.password):
            if template:
                names |= {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return names


def served_field_names(mode: AuthMode) -> set[str]:
    """The typed fields a service receives: those the transport carries and every non-secret
    one (a store id, a measurement id). A secret that only mints tokens (Yotpo's secret key,
    PayPal's client secret) stays in the hub; the refresh token never leaves it."""
    carried = transport_names(mode)
    return {f.name for f in mode.fields if f.name in carried or not f.secret}


def fresh_enough(expires_at: datetime | None, now: datetime, min_ttl_s: int) -> bool:
    """Whether a token expiring at ``expires_at`` lives at least ``min_ttl_s`` more."""
    return expires_at is None or expires_at - now >= timedelta(seconds=min_ttl_s)


def reconnect_step(provider: Provider, status: str, error_code: str | None) -> str:
    """What the brand must do for a credential that cannot be used any more."""
    step = next_step(provider, status, error_code) or f"Reconnect {provider.name} in {WHERE}."
    return f"{provider.name} needs the brand to act before its credential can be used: {step}"


@dataclass
class RateLimits:
    """A token bucket per key (a service): ``rate_per_s`` sustained, ``burst`` at once."""

    rate_per_s: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, now: float) -> float:
        """0 when a request of ``key`` may pass now, else the seconds until one may."""
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate_per_s
