"""Which offset of a partition may be committed while its records finish out of order.

Records of one partition are handed out in offset order and may finish in any order (one waits
for a rate-limited provider while the next, of another provider, is done). The commit point is
the first offset not finished yet: everything before it is done, so a restart resumes there and
re-reads at most what was in flight (and what finished after it, which the credential-version
check then drops).
"""

from __future__ import annotations

from collections import deque


class Ticket:
    """One record handed out; ``finish`` it when done (cancelled work is never finished)."""

    __slots__ = ("done", "offset")

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.done = False


class PartitionProgress:
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
