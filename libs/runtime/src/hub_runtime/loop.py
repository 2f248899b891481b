"""The timer that drives a service's background work (sweeps, outbox relays, flow expiry): one
``tick`` after another, at once while a tick says more is waiting, else every ``interval_s``
(±10 %); a failed tick is logged (the traceback once per failure streak) and retried with
exponential backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def repeat(
    tick: Callable[[], Awaitable[bool]],
    *,
    name: str,
    interval_s: float,
    max_backoff_s: float,
) -> None:
    """Run ``tick`` until cancelled; its result says whether more is waiting."""
    failures = 0
    while True:
        try:
            more = await tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            delay = min(interval_s * 2 ** min(failures, 10), max(max_backoff_s, interval_s))
            log.error(
                f"{name} failed; retrying",
                extra={"failures": failures, "retry_in_s": round(delay, 2)},
                exc_info=exc if failures == 1 else None,
            )
            await asyncio.sleep(delay * random.uniform(0.9, 1.1))
            continue
        if failures:
            log.info(f"{name} recovered", extra={"after_failures": failures})
            failures = 0
        if not more:
            await asyncio.sleep(interval_s * random.uniform(0.9, 1.1))
