"""Key ring (part of ``make bench``): one credential's AES-256-GCM encrypt + decrypt, in µs of
this thread's CPU time (the machine is shared: wall time would measure the neighbours)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from hub_keyring import Binding, KeyRing

from tests.bench.measure import figure


def measure(count: int) -> float:
    """Mean µs of one encrypt + decrypt of a 185-byte access token."""
    ring = KeyRing([("k1", os.urandom(32))])
    binding = Binding(uuid.uuid4(), "google_ads", "access_token")
    secret = "ya29." + "x" * 180
    for _ in range(100):
        ring.decrypt(ring.encrypt(secret, binding), binding)
    started = time.thread_time()
    for _ in range(count):
        ring.decrypt(ring.encrypt(secret, binding), binding)
    return (time.thread_time() - started) / count * 1e6


async def figures(scale: float) -> dict[str, dict[str, object]]:
    return {"keyring_us": figure(measure(max(2000, int(20_000 * scale))), "µs", 10, "lower")}


if __name__ == "__main__":
    print(asyncio.run(figures(1.0)))
