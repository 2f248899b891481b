"""Connection events applied to the store: each once per consumer (the inbox, in the same tenant
transaction), health verdicts only about the row's current credential."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hub_catalog import Catalog, Provider
from hub_contracts import (
    ConnectionCheckedV1,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRecoveredV1,
    ConnectionRequested,
    ConnectionUnhealthyV1,
    Event,
    TokenRefreshedV1,
    connection_id,
)

from connection_store import domain
from connection_store.domain import ConnectionRow
from connection_store.service.ports import Store, Tenant

log = logging.getLogger(__name__)


class UnknownEventProviderError(Exception):
    """An event about a provider the catalog does not know."""


@dataclass
class ConnectionEvents:
    store: Store
    catalog: Catalog
    check_interval_s: int
    check_jitter: float

    async def requested(self, consumer: str, event: ConnectionRequested) -> None:
        cid = connection_id(event.organization_id, event.provider)

        async def apply(tx: Tenant) -> None:
            await tx.connections.record_attempt(cid, event)

        await self._once(consumer, event, apply)

    async def failed(self, consumer: str, event: ConnectionFailedV1) -> None:
        cid = connection_id(event.organization_id, event.provider)

        async def apply(tx: Tenant) -> None:
            await tx.connections.record_failure(cid, event)

        await self._once(consumer, event, apply)

    async def established(self, consumer: str, event: ConnectionEstablishedV1) -> None:
        mode = self._provider(event).auth_mode(event.auth_type)

        async def apply(tx: Tenant) -> None:
            await tx.connections.establish(
                event,
                next_refresh_at=domain.next_refresh_at(
                    mode, event.token_expires_at, event.occurred_at
                ),
                next_check_at=domain.next_check_at(
                    datetime.now(UTC), self.check_interval_s, self.check_jitter
                ),
            )

        await self._once(consumer, event, apply)

    async def refreshed(self, consumer: str, event: TokenRefreshedV1) -> None:
        provider = self._provider(event)

        async def apply(tx: Tenant) -> None:
            row = await tx.connections.get(event.provider, lock=True)
            if row is None:
                return
            mode = provider.auth_mode(row.auth_type)
            applied = await tx.connections.apply_refresh(
                event,
                next_refresh_at=domain.next_refresh_at(
                    mode, event.token_expires_at, event.occurred_at
                ),
            )
            if not applied:
                log.info(
                    "stale token.refreshed ignored",
                    extra={"version": event.credential_version, "row": row.credential_version},
                )

        await self._once(consumer, event, apply)

    async def unhealthy(self, consumer: str, event: ConnectionUnhealthyV1) -> None:
        await self._verdict(
            consumer,
            event,
            lambda row: domain.status_after_unhealthy(event.reason, row.status),
            error=event.message,
            error_code=event.reason,
        )

    async def recovered(self, consumer: str, event: ConnectionRecoveredV1) -> None:
        await self._verdict(consumer, event, lambda row: "active", error=None, error_code=None)

    async def checked(self, consumer: str, event: ConnectionCheckedV1) -> None:
        """A finished check, whatever it found: when, what, and which (Sync now's check id)."""

        async def apply(tx: Tenant) -> None:
            row = await tx.connections.get(event.provider, lock=True)
            if row is None or domain.stale_verdict(row, event.credential_version):
                return
            await tx.connections.record_check(row.id, event)

        await self._once(consumer, event, apply)

    async def _verdict(
        self,
        consumer: str,
        event: ConnectionUnhealthyV1 | ConnectionRecoveredV1,
        status: Callable[[ConnectionRow], str],
        *,
        error: str | None,
        error_code: str | None,
    ) -> None:
        """A health verdict, applied unless it is about an older credential than the row's."""

        async def apply(tx: Tenant) -> None:
            row = await tx.connections.get(event.provider, lock=True)
            if row is None or domain.stale_verdict(row, event.credential_version):
                return
            await tx.connections.set_health(
                row.id,
                status=status(row),
                error=error,
                error_code=error_code,
                checked_at=event.occurred_at,
            )

        await self._once(consumer, event, apply)

    def _provider(self, event: Event) -> Provider:
        try:
            return self.catalog.get(event.provider)
        except KeyError:
            raise UnknownEventProviderError(f"unknown provider {event.provider!r}") from None

    async def _once(
        self, consumer: str, event: Event, apply: Callable[[Tenant], Awaitable[None]]
    ) -> None:
        provider = self._provider(event)
        async with self.store.tenant(event.organization_id) as tx:
            if not await tx.inbox.first_time(consumer, event):
                log.info("duplicate event ignored", extra={"event_id": str(event.event_id)})
                return
            await apply(tx)
            entry = domain.history_entry(event, provider)
            if entry is not None:
                await tx.history.record(entry)
