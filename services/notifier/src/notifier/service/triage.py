"""Events become incidents and notifications: one transaction each, with the inbox row, under the
connection's lock (its mark), so replicas apply one connection's events one at a time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from notifier.domain.incidents import (
    Decision,
    Duplicate,
    Open,
    Recovery,
    Remind,
    Unhealthy,
    closes,
    on_unhealthy,
)
from notifier.domain.routing import MEDIA
from notifier.service.ports import Database, Metrics, Transaction

log = logging.getLogger(__name__)


@dataclass
class Triage:
    database: Database
    metrics: Metrics
    reminder_interval: timedelta = timedelta(hours=24)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    wake: Callable[[], None] = lambda: None
    """Called when there is a new notification to plan (the worker's ``wake``)."""

    async def on_unhealthy(self, consumer: str, event_id: uuid.UUID, event: Unhealthy) -> str:
        """Open, de-duplicate, remind or supersede the connection's incident; the outcome."""
        now = self.clock()
        async with self.database.transaction() as tx:
            if not await tx.inbox.first_time(consumer, event_id):
                return self._counted(consumer, "redelivered")
            mark = await tx.marks.lock(event.organization_id, event.provider)
            if mark.is_stale(event.credential_version, event.occurred_at):
                return self._counted(consumer, "stale")
            current = await tx.incidents.open_one(event.organization_id, event.provider)
            decision = on_unhealthy(current, event, now, self.reminder_interval)
            outcome = await self._apply(tx, decision, now)
        if outcome != "duplicate":
            log.info(
                "incident %s",
                outcome,
                extra={
                    "organization_id": str(event.organization_id),
                    "provider": event.provider,
                    "reason": event.reason,
                    "incident_id": str(decision.incident.id),
                },
            )
            self.wake()
        return self._counted(consumer, outcome)

    async def on_recovery(self, consumer: str, event_id: uuid.UUID, recovery: Recovery) -> str:
        """Close the connection's open incident, told only on the media where it was told."""
        now = self.clock()
        organization_id, provider = recovery.organization_id, recovery.provider
        async with self.database.transaction() as tx:
            if not await tx.inbox.first_time(consumer, event_id):
                return self._counted(consumer, "redelivered")
            mark = await tx.marks.lock(organization_id, provider)
            current = await tx.incidents.open_one(organization_id, provider)
            after = mark.after_recovery(recovery.version(current, mark), recovery.occurred_at)
            await tx.marks.save(organization_id, provider, after)
            if current is None or not closes(current, recovery):
                return self._counted(consumer, "nothing_open")
            closed = replace(current, status="closed", closed_at=now, closed_by=recovery.cause)
            await tx.incidents.save(closed)
            await self._cancel_pending(tx, current.id)
            told = await tx.deliveries.told_media(current.id)
            if told:
                await tx.notifications.add(closed, "recovered", 1, told, now)
        log.info(
            "incident closed",
            extra={
                "organization_id": str(organization_id),
                "provider": provider,
                "incident_id": str(current.id),
                "cause": recovery.cause,
                "told": told,
            },
        )
        if told:
            self.wake()
        return self._counted(consumer, "closed" if told else "closed_silently")

    async def on_disconnected(
        self,
        consumer: str,
        event_id: uuid.UUID,
        organization_id: uuid.UUID,
        provider: str,
        occurred_at: datetime,
    ) -> str:
        """Close the connection's open incident without a word: the brand removed the
        connection, nothing "recovered". Anything still pending about it is cancelled, and a
        verdict from before the disconnect arriving late opens nothing."""
        now = self.clock()
        async with self.database.transaction() as tx:
            if not await tx.inbox.first_time(consumer, event_id):
                return self._counted(consumer, "redelivered")
            mark = await tx.marks.lock(organization_id, provider)
            await tx.marks.save(organization_id, provider, mark.after_disconnect(occurred_at))
            current = await tx.incidents.open_one(organization_id, provider)
            if current is None or current.opened_at > occurred_at:
                return self._counted(consumer, "nothing_open")
            closed = replace(current, status="closed", closed_at=now, closed_by="disconnected")
            await tx.incidents.save(closed)
            await self._cancel_pending(tx, current.id)
        log.info(
            "incident closed",
            extra={
                "organization_id": str(organization_id),
                "provider": provider,
                "incident_id": str(current.id),
                "cause": "disconnected",
            },
        )
        return self._counted(consumer, "closed_silently")

    async def _apply(self, tx: Transaction, decision: Decision, now: datetime) -> str:
        """Store what an unhealthy verdict decided; the outcome."""
        incident = decision.incident
        if isinstance(decision, Duplicate):
            await tx.incidents.save(incident)
            return "duplicate"
        if isinstance(decision, Remind):
            await tx.incidents.save(incident)
            await tx.notifications.add(incident, "reminder", incident.notifications, MEDIA, now)
            return "reminded"
        assert isinstance(decision, Open)
        if decision.superseded is not None:
            await tx.incidents.save(decision.superseded)
            await self._cancel_pending(tx, decision.superseded.id)
        await tx.incidents.save(incident)
        await tx.notifications.add(incident, "opened", 1, MEDIA, now)
        return "opened"

    @staticmethod
    async def _cancel_pending(tx: Transaction, incident_id: uuid.UUID) -> None:
        """Nothing still pending about a closed incident goes out."""
        await tx.notifications.cancel_pending(incident_id)
        await tx.deliveries.cancel_pending(incident_id)

    def _counted(self, consumer: str, outcome: str) -> str:
        self.metrics.event(consumer, outcome)
        return outcome
