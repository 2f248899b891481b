"""The ports the use cases need: the notifier's tables (one transaction at a time),
connection-store's context, the senders, and metrics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from notifier.domain.deliveries import Delivery, DeliveryState, Notification, Sent
from notifier.domain.incidents import Incident, Mark
from notifier.domain.routing import Context, Kind, Medium


class Inbox(Protocol):
    """Events already handled, per consumer."""

    async def first_time(self, consumer: str, event_id: uuid.UUID) -> bool: ...


class Marks(Protocol):
    """Per connection: the latest recovery seen."""

    async def lock(self, organization_id: uuid.UUID, provider: str) -> Mark:
        """The connection's mark, locked until the transaction ends (created if missing)."""
        ...

    async def save(self, organization_id: uuid.UUID, provider: str, mark: Mark) -> None: ...


class Incidents(Protocol):
    async def open_one(self, organization_id: uuid.UUID, provider: str) -> Incident | None:
        """The connection's open incident, if any (at most one)."""
        ...

    async def get(self, incident_id: uuid.UUID) -> Incident: ...

    async def save(self, incident: Incident) -> None: ...


class Notifications(Protocol):
    """The messages to plan, one per incident event (opened, reminder, recovered)."""

    async def add(
        self, incident: Incident, kind: Kind, sequence: int, media: Sequence[Medium], at: datetime
    ) -> None: ...

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Notification]:
        """Due pending notifications, hidden from other replicas until ``lease_until``."""
        ...

    async def state(self, notification_id: uuid.UUID) -> str:
        """The notification's state, locked until the transaction ends."""
        ...

    async def set(
        self,
        notification_id: uuid.UUID,
        state: str,
        *,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
    ) -> None: ...

    async def cancel_pending(self, incident_id: uuid.UUID) -> None: ...


class Deliveries(Protocol):
    """One message on one channel, and what became of it."""

    async def add(self, deliveries: Sequence[Delivery], now: datetime) -> None: ...

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        """Due pending deliveries, now ``sending`` (one more attempt) until ``lease_until``."""
        ...

    async def abandoned(self, now: datetime, limit: int) -> list[Delivery]:
        """Deliveries still ``sending`` after their lease: their process stopped mid-send."""
        ...

    async def finish(
        self,
        delivery_id: uuid.UUID,
        state: DeliveryState,
        *,
        now: datetime,
        sent: Sent | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    async def cancel_pending(self, incident_id: uuid.UUID) -> None: ...

    async def told_media(self, incident_id: uuid.UUID) -> list[Medium]:
        """The media whose messages about the incident went out (or may have: uncertain)."""
        ...

    async def original_slack_post(self, incident_id: uuid.UUID) -> Delivery | None:
        """The incident's first alert as posted with the brand's bot (to update it in place)."""
        ...


class Transaction(Protocol):
    """The notifier's tables within one database transaction."""

    @property
    def inbox(self) -> Inbox: ...

    @property
    def marks(self) -> Marks: ...

    @property
    def incidents(self) -> Incidents: ...

    @property
    def notifications(self) -> Notifications: ...

    @property
    def deliveries(self) -> Deliveries: ...


class Database(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...


class Directory(Protocol):
    """connection-store's notification context of an organization."""

    async def context(self, organization_id: uuid.UUID, provider: str) -> Context: ...


class Senders(Protocol):
    async def send(self, delivery: Delivery, context: Context | None) -> Sent:
        """Send one delivery; raise a ``DeliveryError`` leaf when it did not (surely) go out."""
        ...


class Metrics(Protocol):
    def event(self, consumer: str, outcome: str) -> None: ...

    def delivery(self, channel: str, outcome: str) -> None: ...

    def undeliverable(self, reason: str) -> None: ...
