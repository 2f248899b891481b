"""Incidents: when a verdict opens, repeats, reminds or supersedes one, and when a recovery
closes it. An incident is one (organization, provider, reason) that needs attention.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

RecoveryCause = Literal["recovered", "reconnected"]


@dataclass(frozen=True)
class Mark:
    """What the notifier knows of a connection's recoveries (``notifier_connections``)."""

    recovered_version: int = 0
    recovered_at: datetime | None = None
    disconnected_at: datetime | None = None
    """The latest disconnect seen: verdicts from before it speak of a credential now gone."""

    def is_stale(self, credential_version: int, occurred_at: datetime) -> bool:
        """An unhealthy verdict about a credential replaced since, from before a recovery, or
        from before a disconnect."""
        if credential_version < self.recovered_version:
            return True
        if self.disconnected_at is not None and occurred_at <= self.disconnected_at:
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
        return replace(
            self, recovered_version=max(self.recovered_version, credential_version), recovered_at=at
        )

    def after_disconnect(self, occurred_at: datetime) -> Mark:
        """After a disconnect seen at ``occurred_at`` (a later one wins)."""
        at = occurred_at if self.disconnected_at is None else max(self.disconnected_at, occurred_at)
        return replace(self, disconnected_at=at)


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
class Recovery:
    """The facts of ``connection.recovered`` (with the credential version it speaks of) or of a
    reconnect (``connection.established``, which carries no version)."""

    organization_id: uuid.UUID
    provider: str
    cause: RecoveryCause
    credential_version: int | None
    occurred_at: datetime

    def version(self, current: Incident | None, mark: Mark) -> int:
        """The credential that works now: the event's, or for a reconnect one more than the open
        incident's (the store's rule), else the last one known to have recovered."""
        if self.credential_version is not None:
            return self.credential_version
        return current.credential_version + 1 if current else mark.recovered_version


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


def closes(current: Incident, recovery: Recovery) -> bool:
    """Whether a recovery closes the open incident. A recovery speaks of the same (or a newer)
    credential, after the incident's latest event; a reconnect brings a new credential after the
    incident opened."""
    if recovery.cause == "reconnected" or recovery.credential_version is None:
        return recovery.occurred_at >= current.opened_at
    return (
        recovery.credential_version >= current.credential_version
        and recovery.occurred_at >= current.last_event_at
    )
