"""The monitor's Prometheus metrics (``hub_runtime.metrics``), served at ``/metrics``.

Labelled by provider, outcome, trigger and reason (bounded sets: the catalog's providers and the
domain's outcomes). No connection or organization ids as labels.
"""

from __future__ import annotations

from hub_runtime.metrics import ServiceMetrics

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("health-monitor")
        self.checks = self.counter(
            "checks",
            "Checks finished, by provider, outcome and trigger.",
            ["provider", "outcome", "trigger"],
        )
        self.events = self.counter(
            "events",
            "connection.unhealthy / connection.recovered published, by reason.",
            ["event_type", "reason"],
        )
        self.failures = self.counter(
            "check_failures", "Checks that ended without a verdict, by reason.", ["reason"]
        )
        self.durations = self.histogram(
            "check_duration_seconds",
            "Check duration, retries included.",
            ["provider"],
            buckets=DURATION_BUCKETS,
        )
        self.platform_checks = self.counter(
            "platform_account_checks",
            "Checks of the platform's shared accounts, by provider and outcome.",
            ["provider", "outcome"],
        )
        self.platform_up = self.gauge(
            "platform_account_healthy",
            "1 while the platform's shared account at the provider proves healthy, 0 when the "
            "provider refused it or stopped answering (the operators' alert).",
            ["provider"],
        )
        self._in_flight = self.gauge("checks_in_flight", "Checks running now.")
        self._running = 0

    @property
    def in_flight(self) -> int:
        return self._running

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        self._running = value
        self._in_flight.set(value)

    def checked(self, provider: str, outcome: str, trigger: str, seconds: float) -> None:
        self.checks.labels(provider, outcome, trigger).inc()
        self.durations.labels(provider).observe(seconds)

    def reported(self, event_type: str, reason: str) -> None:
        self.events.labels(event_type, reason).inc()

    def failed(self, reason: str) -> None:
        """A check that ended without a verdict (dead-lettered, not published)."""
        self.failures.labels(reason).inc()

    def platform_checked(self, provider: str, outcome: str) -> None:
        self.platform_checks.labels(provider, outcome).inc()

    def platform_healthy(self, provider: str, healthy: bool) -> None:
        self.platform_up.labels(provider).set(1 if healthy else 0)
