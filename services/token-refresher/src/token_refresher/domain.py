"""Refresh rules that need no I/O: outcomes, pacing, what a person is told, and the bookkeeping
that keeps a redelivered event from refreshing twice (settled versions, committable offsets)."""

from __future__ import annotations

import random
import uuid
from collections import deque
from datetime import datetime
from enum import StrEnum

from hub_catalog import WHERE, Provider


class Outcome(StrEnum):
    """What became of one ``token.expiring`` event (a metric label and a log field)."""

    REFRESHED = "refreshed"
    """``token.refreshed`` published (refresh grant, rotation or re-mint)."""
    REMINDED = "reminded"
    """A credential that cannot be refreshed: ``connection.unhealthy`` ``reauth_soon``."""
    EXPIRED = "expired"
    """Cannot be refreshed and already ended: ``connection.unhealthy`` ``expired``."""
    REVOKED = "revoked"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    MISCONFIGURED = "misconfigured"
    INVALID_CREDENTIALS = "invalid_credentials"
    DEFERRED_RATE_LIMITED = "deferred_rate_limited"
    """The provider is rate limiting us beyond what one event may wait: the store's next sweep
    brings the connection back. Never reported as unhealthy."""
    DEFERRED_BACKLOG = "deferred_backlog"
    """Waited ``queue_max_wait_s`` for a provider slot (a slow provider): left to the next sweep."""
    STALE = "stale"
    """The event names a credential version already refreshed (or settled): dropped."""
    NOT_REFRESHABLE = "not_refreshable"
    """Refresh strategy ``none``: nothing to do."""


class CallResult(StrEnum):
    """How one provider call ended (metric label)."""

    OK = "ok"
    REVOKED = "revoked"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """The pause after failed call number ``attempt`` (1-based): exponential, capped, and
    jittered between half and the whole ("equal jitter"), so replicas do not retry in step."""
    ceiling = min(cap_s, base_s * 2.0 ** (attempt - 1))
    return float(rng.uniform(ceiling / 2, ceiling))


MIN_COOLDOWN_S = 1.0
"""A ``Retry-After: 0`` must not turn a rate limit into a tight loop."""


def cooldown_s(
    retry_after_s: float | None, *, default_s: float, max_s: float, consecutive: int
) -> float:
    """How long a provider is left alone after a rate limit: its ``Retry-After`` when it gave
    one, else ``default_s`` doubling with each consecutive limit; between ``MIN_COOLDOWN_S`` and
    ``max_s``."""
    if retry_after_s is not None and retry_after_s >= 0:
        wanted = retry_after_s
    else:
        wanted = default_s * 2.0 ** max(0, consecutive - 1)
    return max(MIN_COOLDOWN_S, min(wanted, max_s))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _because(status: int | None, code: str | None) -> str:
    parts = [f"HTTP {status}" if status is not None else None, code]
    named = ", ".join(p for p in parts if p)
    return f" ({named})" if named else ""


def revoked_message(provider: Provider, status: int | None, code: str | None) -> str:
    return (
        f"{provider.name} no longer accepts this connection's saved authorization"
        f"{_because(status, code)}: it was revoked or has expired. {_reconnect(provider)}."
    )


def unavailable_message(provider: Provider, attempts: int, status: int | None) -> str:
    return (
        f"{provider.name} did not answer our token refresh after {attempts} tries"
        f"{_because(status, None)}. We will try again at the next scheduled refresh; if this "
        f"lasts, check {provider.name}'s status page, then use Sync now."
    )


def misconfigured_message(provider: Provider, status: int | None, code: str | None) -> str:
    return (
        f"{provider.name} refused our token refresh request{_because(status, code)}. "
        f"The platform's {provider.name} app settings need an operator's attention; "
        f"then use Sync now."
    )


def missing_credential_message(provider: Provider, what: str) -> str:
    lacking = f"The saved {provider.name} authorization has no {what}, so it cannot be renewed."
    return f"{lacking} {_reconnect(provider)}."


def reminder_message(provider: Provider, expires_at: datetime | None) -> str:
    ends = f"ends on {_when(expires_at)}" if expires_at is not None else "will end soon"
    notice = f"{provider.name} access {ends} and cannot be renewed automatically."
    return f"{notice} {_reconnect(provider)} before then to keep data flowing."


def expired_message(provider: Provider, expires_at: datetime) -> str:
    ended = f"{provider.name} access ended on {_when(expires_at)}"
    return f"{ended} and cannot be renewed automatically. {_reconnect(provider)}."


def _reconnect(provider: Provider) -> str:
    return f"Reconnect {provider.name} in {WHERE}"


class SettledVersions:
    """Per connection, the highest credential version that needs no more work here.

    ``token.refreshed`` with version ``n`` settles ``n - 1`` (it was refreshed away); a revoked
    verdict or a reminder settles the version it was about. A ``token.expiring`` whose version is
    settled is dropped: a redelivered or duplicated event never refreshes a credential twice.
    Fed by the ``token.refreshed`` projection (every replica reads every partition) and, at once,
    by this process's own outcomes.
    """

    def __init__(self) -> None:
        self._settled: dict[uuid.UUID, int] = {}

    def settle(self, connection_id: uuid.UUID, version: int) -> None:
        if version > self._settled.get(connection_id, 0):
            self._settled[connection_id] = version

    def is_settled(self, connection_id: uuid.UUID, version: int) -> bool:
        return version <= self._settled.get(connection_id, 0)

    def settled(self, connection_id: uuid.UUID) -> int:
        return self._settled.get(connection_id, 0)

    def __len__(self) -> int:
        return len(self._settled)


class Ticket:
    """One ``token.expiring`` record handed out; ``finish`` it when done (cancelled work never
    is)."""

    __slots__ = ("done", "offset")

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.done = False


class PartitionProgress:
    """Which offset of a partition may be committed while its records finish out of order: the
    first one not finished yet, so a restart re-reads at most what was in flight (and what
    finished after it, which ``SettledVersions`` then drops)."""

    def __init__(self) -> None:
        self._open: deque[Ticket] = deque()
        self._next: int | None = None
        """The offset after the newest finished prefix (what to commit), if any."""
        self.committed: int | None = None
        """The last commit point the broker acknowledged."""

    def start(self, offset: int) -> Ticket | None:
        """A ticket for ``offset``, or ``None`` when it was handed out already (a record fetched
        again while its first copy is in flight or done: nothing more to do for it)."""
        newest = self._open[-1].offset if self._open else (self._next or 0) - 1
        if offset <= newest:
            return None
        ticket = Ticket(offset)
        self._open.append(ticket)
        return ticket

    def finish(self, ticket: Ticket) -> None:
        ticket.done = True
        while self._open and self._open[0].done:
            self._next = self._open.popleft().offset + 1

    def commit_point(self) -> int | None:
        """The offset to commit: the oldest unfinished record (``finish`` pops the finished
        prefix), or the one after the newest finished when nothing is open."""
        if self._open:
            return self._open[0].offset
        return self._next

    def pending_commit(self) -> int | None:
        """``commit_point`` if it differs from the last acknowledged commit, else ``None``."""
        point = self.commit_point()
        return None if point is None or point == self.committed else point

    @property
    def in_flight(self) -> int:
        return len(self._open)
