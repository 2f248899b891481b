"""The ``Store`` port: one organization's transaction, or one across organizations, each with
the table adapters over its connection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from connection_store.adapters.ciphertexts import PostgresCiphertexts
from connection_store.adapters.connections import PostgresConnections
from connection_store.adapters.credential_reads import (
    PostgresCredentialReads,
    PostgresReadRetention,
)
from connection_store.adapters.database import Database
from connection_store.adapters.flags import PostgresFlags
from connection_store.adapters.history import PostgresHistory
from connection_store.adapters.inbox import PostgresInbox
from connection_store.adapters.notification_settings import PostgresNotificationSettings
from connection_store.adapters.outbox import PostgresOutbox
from connection_store.adapters.schedule import PostgresSchedule


@dataclass(frozen=True)
class PostgresTenant:
    connections: PostgresConnections
    flags: PostgresFlags
    notification_settings: PostgresNotificationSettings
    inbox: PostgresInbox
    outbox: PostgresOutbox
    history: PostgresHistory
    credential_reads: PostgresCredentialReads


@dataclass(frozen=True)
class PostgresWorker:
    schedule: PostgresSchedule
    ciphertexts: PostgresCiphertexts
    outbox: PostgresOutbox
    read_retention: PostgresReadRetention


class PostgresStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def tenant(self, organization_id: uuid.UUID) -> AsyncIterator[PostgresTenant]:
        """A ``Database.tenant`` transaction (row-level security), and every statement also
        names the organization: two independent guards."""
        async with self.db.tenant(organization_id) as tx:
            yield PostgresTenant(
                connections=PostgresConnections(tx, organization_id),
                flags=PostgresFlags(tx, organization_id),
                notification_settings=PostgresNotificationSettings(tx, organization_id),
                inbox=PostgresInbox(tx, organization_id),
                outbox=PostgresOutbox(tx, organization_id),
                history=PostgresHistory(tx, organization_id),
                credential_reads=PostgresCredentialReads(tx, organization_id),
            )

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[PostgresWorker]:
        async with self.db.worker() as tx:
            yield PostgresWorker(
                schedule=PostgresSchedule(tx),
                ciphertexts=PostgresCiphertexts(tx),
                outbox=PostgresOutbox(tx),
                read_retention=PostgresReadRetention(tx),
            )
