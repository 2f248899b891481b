"""What to report: a verdict against the status the connection had, only changes, once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from health_monitor.domain.outcome import Outcome, Verdict

Status = Literal["active", "error", "expired"]

EXPIRED_REASONS = frozenset({"revoked", "expired", "invalid_credentials"})
"""Reasons after which the store shows the connection ``expired`` (the others: ``error``)."""


@dataclass(frozen=True)
class Previous:
    """The connection's state as far as this check knows: what ``connection.check_due`` carried,
    or what our own latest report implies."""

    status: Status
    error_code: str | None = None

    @classmethod
    def after_unhealthy(cls, reason: str) -> Previous:
        return cls("expired" if reason in EXPIRED_REASONS else "error", reason)


class Transition(StrEnum):
    UNHEALTHY = "connection.unhealthy"
    RECOVERED = "connection.recovered"


def transition(previous: Previous, verdict: Verdict) -> Transition | None:
    """What to report: only changes, never the same news twice.

    - healthy: ``recovered`` when the connection was ``error`` or ``expired``;
    - unhealthy: when the connection was ``active``; or when it was already unhealthy for another
      reason and this one says more about the credential (``provider_unavailable`` never
      replaces a known problem: an outage says nothing about the credential);
    - rate limited, unverifiable: nothing.
    """
    if verdict.outcome == Outcome.HEALTHY:
        return Transition.RECOVERED if previous.status != "active" else None
    reason = verdict.reason
    if reason is None:
        return None
    if previous.status == "active":
        return Transition.UNHEALTHY
    if reason == "provider_unavailable" or reason == previous.error_code:
        return None
    return Transition.UNHEALTHY
