"""The loop that plans and delivers: woken by new work, else every ``interval_s``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from notifier.service.dispatcher import Dispatcher
from notifier.service.planner import Planner

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, planner: Planner, dispatcher: Dispatcher, *, interval_s: float) -> None:
        self.planner = planner
        self.dispatcher = dispatcher
        self.interval_s = interval_s
        self.woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self.woken.set()

    async def once(self) -> int:
        """One round: plan what is due, then deliver what is due; how much was done."""
        return await self.planner.plan_due() + await self.dispatcher.deliver_due()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def stopped(self) -> bool:
        """Whether the started loop has ended (it only ends by a bug or a stop)."""
        return self._task is not None and self._task.done()

    async def run(self) -> None:
        failures = 0
        while True:
            self.woken.clear()
            try:
                busy = await self.once()
                failures = 0
            except Exception:
                failures += 1
                if failures == 1:
                    log.exception("notifier round failed; retrying")
                busy = 0
                await asyncio.sleep(min(30.0, 0.5 * 2**failures) * random.uniform(0.8, 1.2))
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.interval_s)
