"""Per-connection locks, slots and rate-limit gates."""

from __future__ import annotations

import asyncio

from token_refresher.service.limits import CallLimits, KeyedLocks


async def test_keyed_lock_serves_waiters_in_arrival_order_and_forgets_idle_keys() -> None:
    locks = KeyedLocks()
    order: list[int] = []

    async def worker(n: int) -> None:
        release = await locks.acquire("connection")
        order.append(n)
        await asyncio.sleep(0.001)
        release()
        release()  # idempotent

    await asyncio.gather(*(worker(n) for n in range(10)))
    assert order == list(range(10))
    assert len(locks) == 0


async def test_a_cancelled_waiter_does_not_leak_the_key() -> None:
    locks = KeyedLocks()
    release = await locks.acquire("k")
    waiter = asyncio.create_task(locks.acquire("k"))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    release()
    assert len(locks) == 0


async def test_while_limited_calls_go_one_at_a_time_until_an_answer() -> None:
    limits = CallLimits(max_concurrency=10, per_provider_concurrency=5)
    gate = limits.gate("slack")
    gate.rate_limited(0.0)
    first = await limits.call_slot("slack")
    second = asyncio.create_task(limits.call_slot("slack"))
    await asyncio.sleep(0.01)
    assert not second.done()  # the probe lock
    gate.answered()
    first()
    (await second)()
    assert gate.in_flight == 0


def test_cool_down_follows_the_clock() -> None:
    now = [100.0]
    limits = CallLimits(
        max_concurrency=1,
        per_provider_concurrency=1,
        clock=lambda: now[0],
    )
    gate = limits.gate("google_ads")
    gate.rate_limited(30)
    assert gate.cooldown_remaining() == 30
    now[0] += 25
    assert gate.cooldown_remaining() == 5
    gate.rate_limited(1)  # a shorter limit never shortens the one in force
    assert gate.cooldown_remaining() == 5
    assert gate.consecutive_limits == 1  # the same burst of calls: not another limit
    now[0] += 5
    gate.rate_limited(10)  # the probe after the cool-down was limited again
    assert gate.consecutive_limits == 2
