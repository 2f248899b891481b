"""Prometheus metrics with ``prometheus_client``: one registry per app, consistent names.

Every family is ``<service>_<name>`` (counters end in ``_total`` on the wire), labelled only by
bounded values (providers, outcomes, topics, reasons; never an organization id). Gauges that need
I/O are refreshed by ``on_scrape`` callbacks just before ``/metrics`` renders
(``hub_runtime.http_api.metrics_router``). ``dead_letters`` is process-wide: ``dead_letter``
counts every record it sends to a DLQ, and every service's ``/metrics`` shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
Reading = Iterable[tuple[Sequence[str], float]]

RUNTIME = CollectorRegistry()
"""The process-wide families the runtime itself counts (rendered by every service)."""

dead_letters = Counter(
    "hub_dead_letters",
    "Records sent to a dead-letter topic, by source topic and reason.",
    ["topic", "reason"],
    registry=RUNTIME,
)


def service_prefix(service: str) -> str:
    """``token-refresher`` → ``token_refresher``: the prefix of a service's families."""
    return service.replace("-", "_").replace(".", "_")


class ServiceMetrics:
    """A service's registry: declare families with ``counter``/``gauge``/``histogram``, read
    gauges at scrape time with ``on_scrape``, render with ``scrape``."""

    def __init__(self, service: str) -> None:
        self.prefix = service_prefix(service)
        self.registry = CollectorRegistry()
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def _name(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(self._name(name), documentation, list(labels), registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(self._name(name), documentation, list(labels), registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    ) -> Histogram:
        return Histogram(
            self._name(name),
            documentation,
            list(labels),
            buckets=tuple(buckets),
            registry=self.registry,
        )

    def reading(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        read: Callable[[], Reading],
    ) -> Gauge:
        """A gauge whose samples ``read()`` returns at each scrape (label values, value)."""
        gauge = self.gauge(name, documentation, labels)

        async def refresh() -> None:
            gauge.clear()
            for values, value in read():
                (gauge.labels(*values) if labels else gauge).set(value)

        self._refreshers.append(refresh)
        return gauge

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run ``refresh`` before each scrape (a gauge that needs a query)."""
        self._refreshers.append(refresh)

    async def scrape(self) -> bytes:
        """The exposition text: refresh the gauges (a failing one is logged and keeps its last
        value), then this registry and the runtime's."""
        for refresh in self._refreshers:
            try:
                await refresh()
            except Exception as exc:
                log.warning("metrics refresh failed", extra={"error": type(exc).__name__})
        return generate_latest(self.registry) + generate_latest(RUNTIME)

    def render(self) -> bytes:
        """This registry and the runtime's as they are (no refresh)."""
        return generate_latest(self.registry) + generate_latest(RUNTIME)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse exposition text with ``prometheus_client``'s parser: (sample name, sorted labels)
    → value. Raises ``ValueError`` on text that is not the exposition format."""
    parsed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample_name, pairs), value in samples(text).items()
        if sample_name == name and wanted <= set(pairs)
    )
