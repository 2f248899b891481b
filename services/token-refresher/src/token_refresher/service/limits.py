"""Who may call which provider when: per-connection locks, global and per-provider call slots,
and each provider's rate-limit cool-down. Releases are plain callables, so a task that outlives
its caller (a provider call already sent) can free them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable

Release = Callable[[], None]


class KeyedLocks:
    """One FIFO ``asyncio.Lock`` per key, created on demand and dropped when nobody uses it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    async def acquire(self, key: Hashable) -> Release:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            await lock.acquire()
        except BaseException:
            self._leave(key, users)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                lock.release()
                self._leave(key, users)

        return release

    def _leave(self, key: Hashable, users: list[int]) -> None:
        users[0] -= 1
        if users[0] == 0:
            self._locks.pop(key, None)

    def __len__(self) -> int:
        return len(self._locks)


class ProviderGate:
    """One provider's slots, pending count and rate-limit state."""

    def __init__(self, concurrency: int, clock: Callable[[], float]) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.probe = asyncio.Lock()
        self.pending = 0
        self.in_flight = 0
        self.limited = False
        self.consecutive_limits = 0
        self._cooldown_until = 0.0
        self._clock = clock

    def cooldown_remaining(self) -> float:
        return max(0.0, self._cooldown_until - self._clock())

    def rate_limited(self, cooldown_s: float) -> None:
        """A rate limit; one that lands during a cool-down came from the same burst of calls,
        so it may lengthen the cool-down but does not count as another consecutive limit."""
        if self.cooldown_remaining() == 0:
            self.consecutive_limits += 1
        self._cooldown_until = max(self._cooldown_until, self._clock() + cooldown_s)
        self.limited = True

    def answered(self) -> None:
        """Any answer that is not a rate limit ends the limited state."""
        self.limited = False
        self.consecutive_limits = 0


class CallLimits:
    """The limits on provider calls: connection locks, slots and each provider's gate."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        per_provider_concurrency: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._global = asyncio.Semaphore(max_concurrency)
        self._per_provider = per_provider_concurrency
        self._clock = clock
        self._gates: dict[str, ProviderGate] = {}
        self.connections = KeyedLocks()

    def gate(self, provider: str) -> ProviderGate:
        gate = self._gates.get(provider)
        if gate is None:
            gate = self._gates[provider] = ProviderGate(self._per_provider, self._clock)
        return gate

    def gates(self) -> dict[str, ProviderGate]:
        return dict(self._gates)

    def enter(self, provider: str) -> None:
        """Count one more event of ``provider`` held."""
        self.gate(provider).pending += 1

    def leave(self, provider: str) -> None:
        self.gate(provider).pending -= 1

    async def call_slot(self, provider: str) -> Release:
        """A provider slot, a global slot and, while the provider is limited, its probe lock."""
        gate = self.gate(provider)
        held: list[Release] = []

        def release() -> None:
            while held:
                held.pop()()

        try:
            await gate.slots.acquire()
            held.append(gate.slots.release)
            await self._global.acquire()
            held.append(self._global.release)
            if gate.limited:
                await gate.probe.acquire()
                held.append(gate.probe.release)
        except BaseException:
            release()
            raise
        gate.in_flight += 1

        def done() -> None:
            if held:
                gate.in_flight -= 1
            release()

        return done
