"""The refresher's Prometheus metrics (``hub_runtime.metrics``), served at ``GET /metrics``;
the README lists the families. The in-process counts (``events``, ``calls``,
``dead_letters``) mirror the counters for the service's own reads and its tests."""

from __future__ import annotations

from collections import Counter

from hub_runtime.metrics import ServiceMetrics

CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("token-refresher")
        self.events: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.dead_letters: Counter[str] = Counter()
        self._events = self.counter(
            "events",
            "token.expiring events handled, by provider and outcome.",
            ["provider", "outcome"],
        )
        self._calls = self.counter(
            "provider_calls",
            "Calls to provider token endpoints, by provider and result.",
            ["provider", "result"],
        )
        self._call_seconds = self.histogram(
            "provider_call_seconds",
            "Time spent in provider token calls.",
            ["provider"],
            buckets=CALL_BUCKETS,
        )
        self._dead_letters = self.counter(
            "dead_letters", "token.expiring records sent to the DLQ, by reason.", ["reason"]
        )

    def event(self, provider: str, outcome: str) -> None:
        self.events[(provider, outcome)] += 1
        self._events.labels(provider, outcome).inc()

    def call(self, provider: str, result: str, seconds: float) -> None:
        self.calls[(provider, result)] += 1
        self._calls.labels(provider, result).inc()
        self._call_seconds.labels(provider).observe(seconds)

    def dead_letter(self, reason: str) -> None:
        self.dead_letters[reason] += 1
        self._dead_letters.labels(reason).inc()

    def outcomes(self, outcome: str) -> int:
        """Events with ``outcome`` over every provider."""
        return sum(n for (_, o), n in self.events.items() if o == outcome)
