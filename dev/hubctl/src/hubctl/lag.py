"""``hubctl lag``: records not consumed yet per consumer group and topic, as every service reports
it on ``/metrics`` (``<service>_consumer_lag``: high watermark minus position of the partitions
its consumers own). Read from the services, because the local broker cannot list groups."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from hub_runtime.metrics import samples

from hubctl.doctor import SETTINGS, service_url


@dataclass(frozen=True)
class Lag:
    readings: dict[tuple[str, str, str], float]
    """(service, group, topic) → records not consumed yet."""
    unreachable: list[str]

    @property
    def total(self) -> float:
        return sum(self.readings.values())


async def consumer_lag() -> Lag:
    readings: dict[tuple[str, str, str], float] = {}
    unreachable: list[str] = []
    async with httpx.AsyncClient(timeout=5) as http:
        for name, factory in SETTINGS.items():
            try:
                answer = await http.get(f"{service_url(factory())}/metrics")
                answer.raise_for_status()
            except Exception:  # not configured, down or restarting: its lag is unknown
                unreachable.append(name)
                continue
            for (sample, labels), value in samples(answer.text).items():
                found = dict(labels)
                if sample.endswith("_consumer_lag") and "group" in found:
                    readings[(name, found["group"], found.get("topic", ""))] = value
    return Lag(dict(sorted(readings.items())), unreachable)
