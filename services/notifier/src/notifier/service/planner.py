"""Planning: each due notification becomes deliveries, one per channel, from connection-store's
context at that moment (or waits for it, or is dropped when nobody can or should be told)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from notifier.domain import messages
from notifier.domain.deliveries import Delivery, Notification, RetryPolicy, deliveries, outdated
from notifier.domain.incidents import Incident
from notifier.domain.routing import Context, PlatformChannels, targets
from notifier.errors import DirectoryUnavailableError, UnknownOrganizationError
from notifier.service.ports import Database, Directory, Metrics, Transaction

log = logging.getLogger(__name__)


@dataclass
class Planner:
    database: Database
    directory: Directory
    metrics: Metrics
    platform: PlatformChannels
    provider_names: Mapping[str, str]
    admin_base_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(seconds=120)
    batch_size: int = 20
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def plan_due(self) -> int:
        """Plan every notification that is due; how many were looked at."""
        now = self.clock()
        async with self.database.transaction() as tx:
            claimed = await tx.notifications.claim(now, now + self.lease, self.batch_size)
        for notification in claimed:
            await self._plan(notification)
        return len(claimed)

    async def _plan(self, notification: Notification) -> None:
        context = await self._context(notification)
        if context is None:
            return
        now = self.clock()
        async with self.database.transaction() as tx:
            if await tx.notifications.state(notification.id) != "pending":
                return  # cancelled by a recovery meanwhile
            incident = await tx.incidents.get(notification.incident_id)
            if outdated(notification, incident, context):
                await self._drop(tx, notification, "cancelled", "outdated")
                log.info("notification outdated: reconnected since", extra=_extra(notification))
                return
            planned = await self._deliveries(tx, notification, incident, context)
            if not planned:
                await self._drop(tx, notification, "undeliverable", "no_channel")
                log.warning(
                    "no notification channel configured: no Slack connection or webhook, "
                    "no email recipients or email sender; nobody is told",
                    extra={**_extra(notification), "reason": incident.reason},
                )
                return
            await tx.deliveries.add(planned, now)
            await tx.notifications.set(notification.id, "planned")
        channels = [delivery.channel.value for delivery in planned]
        log.info("notification planned", extra={**_extra(notification), "channels": channels})

    async def _context(self, notification: Notification) -> Context | None:
        """connection-store's context, or ``None`` when planning has to wait (the store did not
        answer) or cannot happen (it does not know the organization)."""
        try:
            return await self.directory.context(notification.organization_id, notification.provider)
        except DirectoryUnavailableError as error:
            log.warning(
                "connection-store unavailable; planning later: %s",
                error,
                extra=_extra(notification),
            )
            retry_at = self.clock() + self.retry.wait_for_directory(notification.attempts)
            async with self.database.transaction() as tx:
                await tx.notifications.set(
                    notification.id, "pending", next_attempt_at=retry_at, error=str(error)[:500]
                )
        except UnknownOrganizationError as error:
            async with self.database.transaction() as tx:
                await self._drop(tx, notification, "undeliverable", "unknown", str(error)[:500])
        return None

    async def _deliveries(
        self,
        tx: Transaction,
        notification: Notification,
        incident: Incident,
        context: Context,
    ) -> list[Delivery]:
        """The deliveries of a message, on every channel that can take it (none: nobody)."""
        original = None
        if notification.kind == "recovered" and "slack" in notification.media:
            original = await tx.deliveries.original_slack_post(notification.incident_id)
        found = targets(
            notification.kind,
            incident.reason,
            context,
            self.platform,
            notification.media,
            slack_fallback=original.provider_channel if original else None,
        )
        if not found:
            return []
        message = messages.render(self._facts(notification, incident, context))
        return deliveries(notification, found, message, original)

    async def _drop(
        self,
        tx: Transaction,
        notification: Notification,
        state: str,
        reason: str,
        error: str | None = None,
    ) -> None:
        """Nobody is told: record why, and count it."""
        await tx.notifications.set(notification.id, state, error=error or reason)
        self.metrics.undeliverable(reason)

    def _facts(
        self, notification: Notification, incident: Incident, context: Context
    ) -> messages.Facts:
        facts = context.connection
        name = self.provider_names.get(incident.provider, incident.provider)
        return messages.Facts(
            kind=notification.kind,
            provider_id=incident.provider,
            provider_name=facts.name if facts else name,
            account_name=facts.account_name if facts else None,
            reason=incident.reason,
            since=incident.opened_at,
            detail=incident.message,
            link=messages.settings_link(self.admin_base_url, incident.provider),
            token_expires_at=incident.token_expires_at,
            reminder=notification.sequence if notification.kind == "reminder" else 0,
        )


def _extra(notification: Notification) -> dict[str, Any]:
    return {
        "organization_id": str(notification.organization_id),
        "provider": notification.provider,
        "notification_id": str(notification.id),
        "kind": notification.kind,
    }
