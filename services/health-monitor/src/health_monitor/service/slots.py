"""Provider calls in flight: bounded overall and per provider."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class CallSlots:
    """A slot of the global limit and one of the provider's for each call; the provider's is
    taken first, so a busy provider holds no global slot while it waits."""

    def __init__(self, overall: int, per_provider: int) -> None:
        self._overall = asyncio.Semaphore(overall)
        self._per_provider = per_provider
        self._providers: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, provider: str) -> AsyncIterator[None]:
        own = self._providers.get(provider)
        if own is None:
            own = self._providers[provider] = asyncio.Semaphore(self._per_provider)
        async with own, self._overall:
            yield
