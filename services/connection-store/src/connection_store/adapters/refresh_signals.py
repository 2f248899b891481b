"""The ``RefreshSignals`` port: one ``LISTEN credential_refresh`` connection per store process
wakes the local requests waiting for a connection's on-demand refresh; the NOTIFY comes from
whichever replica's consumer settled it. Waiters also poll (``service.credentials``), so a lost
listener costs latency, not correctness; it reconnects on the next wait."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import asyncpg

from connection_store.adapters.connections import REFRESH_CHANNEL

log = logging.getLogger(__name__)
RECONNECT_AFTER_S = 2.0


class PostgresRefreshSignals:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._events: dict[uuid.UUID, asyncio.Event] = {}
        self._waiting: dict[uuid.UUID, int] = {}
        self._lock = asyncio.Lock()
        self._tried_at = 0.0

    async def start(self) -> None:
        await self._ensure()

    async def stop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
        for event in self._events.values():
            event.set()

    async def wait(self, connection_id: uuid.UUID, timeout_s: float) -> bool:
        await self._ensure()
        event = self._events.setdefault(connection_id, asyncio.Event())
        self._waiting[connection_id] = self._waiting.get(connection_id, 0) + 1
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            left = self._waiting[connection_id] - 1
            if left:
                self._waiting[connection_id] = left
            else:
                del self._waiting[connection_id]
                if self._events.get(connection_id) is event:
                    del self._events[connection_id]

    def _notified(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        try:
            connection_id = uuid.UUID(str(payload))
        except ValueError:
            return
        event = self._events.pop(connection_id, None)
        if event is not None:
            event.set()

    def _lost(self, connection: Any) -> None:
        if self._connection is connection:
            self._connection = None
        for event in self._events.values():  # wake everyone: they read the row again
            event.set()
        self._events.clear()

    async def _ensure(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            return
        if time.monotonic() - self._tried_at < RECONNECT_AFTER_S:
            return
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed():
                return
            self._tried_at = time.monotonic()
            try:
                connection = await asyncpg.connect(self.dsn, timeout=5)
                await connection.add_listener(REFRESH_CHANNEL, self._notified)
                connection.add_termination_listener(self._lost)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning(
                    "cannot listen for refresh answers; waiters poll",
                    extra={"error": type(exc).__name__},
                )
                return
            self._connection = connection
