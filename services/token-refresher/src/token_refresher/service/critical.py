"""Critical sections: a provider call and the publication of its outcome, run as their own task
so that cancelling the event (partition revoked, shutdown) does not cancel a call already sent."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from typing import Any

from token_refresher.service.limits import Release

log = logging.getLogger(__name__)


class CriticalSections:
    """The critical sections running, at most one per connection (its lock is held)."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()
        self._of: dict[uuid.UUID, asyncio.Task[Any]] = {}

    async def run(
        self, connection_id: uuid.UUID, work: Coroutine[Any, Any, Any], release: Release
    ) -> Any:
        """Run ``work`` as its own task that cancelling the caller does not stop; ``release``
        once it is done."""
        task = asyncio.create_task(work)
        self._running.add(task)
        self._of[connection_id] = task

        def finished(done: asyncio.Task[Any]) -> None:
            self._running.discard(done)
            if self._of.get(connection_id) is done:
                del self._of[connection_id]
            release()
            failure = None if done.cancelled() else done.exception()
            if failure is not None:
                log.debug("critical section failed", extra={"error": type(failure).__name__})

        task.add_done_callback(finished)
        return await asyncio.shield(task)

    def release_after(self, connection_id: uuid.UUID, release: Release) -> None:
        """``release`` (the connection's lock) now, or once its running section has finished."""
        running = self._of.get(connection_id)
        if running is not None and not running.done():
            running.add_done_callback(lambda _: release())
        else:
            release()

    def running_for(self, connection_id: uuid.UUID) -> bool:
        return connection_id in self._of

    async def drain(self, timeout_s: float) -> int:
        """Wait for the running sections; return how many still run at the timeout."""
        running = set(self._running)
        if not running:
            return 0
        _, still = await asyncio.wait(running, timeout=timeout_s)
        return len(still)

    def __len__(self) -> int:
        return len(self._running)
