"""Kafka consumers: each connection event applied once, guarded by credential version.

Consumer groups are ``connection-store.<handler>``. Each handler runs in one tenant transaction
that first records the event id (the inbox), so a redelivered event changes nothing, and a
failure rolls the inbox row back with everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, Provider
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRecoveredV1,
    ConnectionRequestedV1,
    ConnectionUnhealthyV1,
    Event,
    TokenRefreshedV1,
    Topic,
    connection_id,
)
from hub_runtime import PermanentHandlerError, subscribe

from connection_store import domain
from connection_store.adapters import connections as sql
from connection_store.adapters.database import Connection, Database
from connection_store.settings import StoreSettings

log = logging.getLogger(__name__)


class ConnectionEvents:
    """Applies connection events to ``integration_connections``."""

    def __init__(self, db: Database, catalog: Catalog, settings: StoreSettings) -> None:
        self.db = db
        self.catalog = catalog
        self.settings = settings

    def _provider(self, event: Event) -> Provider:
        try:
            return self.catalog.get(event.provider)
        except KeyError:
            raise PermanentHandlerError(f"unknown provider {event.provider!r}") from None

    async def _once(
        self,
        consumer: str,
        event: Event,
        apply: Callable[[Connection], Awaitable[Any]],
    ) -> None:
        self._provider(event)
        async with self.db.tenant(event.organization_id) as connection:
            if not await sql.first_time(connection, consumer, event):
                log.info("duplicate event ignored", extra={"event_id": str(event.event_id)})
                return
            await apply(connection)

    async def on_requested(self, event: ConnectionRequestedV1) -> None:
        cid = connection_id(event.organization_id, event.provider)
        await self._once(
            "connection-store.on_requested",
            event,
            lambda c: sql.record_attempt(c, cid, event),
        )

    async def on_failed(self, event: ConnectionFailedV1) -> None:
        cid = connection_id(event.organization_id, event.provider)
        await self._once(
            "connection-store.on_failed", event, lambda c: sql.record_failure(c, cid, event)
        )

    async def on_established(self, event: ConnectionEstablishedV1) -> None:
        mode = domain.auth_mode(self._provider(event), event.auth_type)
        await self._once(
            "connection-store.on_established",
            event,
            lambda c: sql.establish(
                c,
                event,
                next_refresh_at=domain.next_refresh_at(mode, event.token_expires_at),
                next_check_at=domain.next_check_at(
                    datetime.now(UTC), self.settings.check_interval_s, self.settings.check_jitter
                ),
            ),
        )

    async def on_refreshed(self, event: TokenRefreshedV1) -> None:
        async def apply(connection: Connection) -> None:
            row = await sql.current(connection, event.organization_id, event.provider)
            if row is None:
                return
            mode = domain.auth_mode(self._provider(event), row["auth_type"])
            applied = await sql.apply_refresh(
                connection,
                event,
                next_refresh_at=domain.next_refresh_at(mode, event.token_expires_at),
            )
            if not applied:
                log.info(
                    "stale token.refreshed ignored",
                    extra={"version": event.credential_version, "row": row["credential_version"]},
                )

        await self._once("connection-store.on_refreshed", event, apply)

    async def on_unhealthy(self, event: ConnectionUnhealthyV1) -> None:
        async def apply(connection: Connection) -> None:
            row = await sql.current(connection, event.organization_id, event.provider)
            if row is None or _stale(row, event.credential_version):
                return
            await sql.set_health(
                connection,
                row["id"],
                status=domain.status_after_unhealthy(event.reason, row["status"]),
                error=event.message,
                error_code=event.reason,
                checked_at=event.occurred_at,
            )

        await self._once("connection-store.on_unhealthy", event, apply)

    async def on_recovered(self, event: ConnectionRecoveredV1) -> None:
        async def apply(connection: Connection) -> None:
            row = await sql.current(connection, event.organization_id, event.provider)
            if row is None or _stale(row, event.credential_version):
                return
            await sql.set_health(
                connection,
                row["id"],
                status="active",
                error=None,
                error_code=None,
                checked_at=event.occurred_at,
            )

        await self._once("connection-store.on_recovered", event, apply)

    def register(self, broker: KafkaBroker) -> None:
        handlers: list[tuple[Topic, str, Callable[[Any], Awaitable[None]]]] = [
            (Topic.CONNECTION_REQUESTED, "on_requested", self.on_requested),
            (Topic.CONNECTION_FAILED, "on_failed", self.on_failed),
            (Topic.CONNECTION_ESTABLISHED, "on_established", self.on_established),
            (Topic.TOKEN_REFRESHED, "on_refreshed", self.on_refreshed),
            (Topic.CONNECTION_UNHEALTHY, "on_unhealthy", self.on_unhealthy),
            (Topic.CONNECTION_RECOVERED, "on_recovered", self.on_recovered),
        ]
        for topic, name, handler in handlers:
            subscribe(
                broker,
                self.settings,
                topic=topic,
                group=f"connection-store.{name}",
                handler=handler,
            )


def _stale(row: asyncpg.Record, version: int) -> bool:
    """A health verdict about an older credential than the row holds, or a disconnected row."""
    return bool(row["credential_version"] > version or row["status"] in ("disconnected", "pending"))
