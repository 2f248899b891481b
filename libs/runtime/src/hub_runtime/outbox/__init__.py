"""The transactional outbox: an event written in the same PostgreSQL transaction as the change it
describes, published after commit by a relay (``hub_runtime.outbox.relay``, at-least-once).

This module holds only the message (no I/O library), so a service's use cases can build one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub_contracts import Event
from opentelemetry import propagate


@dataclass(frozen=True)
class OutboxMessage:
    """An event for the outbox, with the trace context current when it was built."""

    event: Event
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, event: Event) -> OutboxMessage:
        """``event`` with the current W3C trace context and its type headers."""
        headers: dict[str, str] = {}
        propagate.inject(headers)
        headers["event-type"] = event.event_type
        headers["schema-version"] = str(event.schema_version)
        return cls(event, headers)


__all__ = ["OutboxMessage"]
