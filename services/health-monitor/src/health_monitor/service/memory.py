"""Our latest report per connection, so a redelivered or overlapping check reports it once."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub_contracts import ConnectionCheckDueV1

from health_monitor.domain import Previous


@dataclass(frozen=True)
class _Remembered:
    credential_version: int
    previous: Previous
    at: datetime


class ReportMemory:
    """Bounded, least recently used out, lost on restart. A check due within ``grace_s`` of our
    report may carry the status from before the store applied it: the remembered one wins."""

    def __init__(self, size: int, grace_s: float) -> None:
        self._size = size
        self._grace = timedelta(seconds=grace_s)
        self._entries: OrderedDict[uuid.UUID, _Remembered] = OrderedDict()

    def previous(self, event: ConnectionCheckDueV1) -> Previous:
        carried = Previous(event.status, event.last_error_code)
        entry = self._entries.get(event.connection_id)
        if entry is None or entry.credential_version != event.credential_version:
            return carried
        if event.occurred_at < entry.at + self._grace:
            return entry.previous
        return carried

    def remember(self, event: ConnectionCheckDueV1, previous: Previous, at: datetime) -> None:
        if self._size == 0:
            return
        self._entries[event.connection_id] = _Remembered(event.credential_version, previous, at)
        self._entries.move_to_end(event.connection_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
