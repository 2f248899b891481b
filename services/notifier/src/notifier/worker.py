"""The loop that plans and delivers: woken by new work, else every ``interval_s``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from notifier.service import Notifier

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, notifier: Notifier, *, interval_s: float) -> None:
        self.notifier = notifier
        self.interval_s = interval_s
        self.woken = asyncio.Event()

    def wake(self) -> None:
        self.woken.set()

    async def once(self) -> int:
        """One round: plan what is due, then deliver what is due; how much was done."""
        return await self.notifier.plan_due() + await self.notifier.deliver_due()

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
