"""The notifier's Prometheus metrics (``hub_runtime.metrics``), one registry per app, served at
``/metrics``."""

from __future__ import annotations

from hub_runtime.metrics import ServiceMetrics


class PrometheusMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("notifier")
        self.events = self.counter(
            "events",
            "Events handled, by consumer and outcome (opened, reminded, duplicate, stale, "
            "closed, closed_silently, nothing_open, redelivered).",
            ["consumer", "outcome"],
        )
        self.deliveries = self.counter(
            "deliveries",
            "Delivery attempts by channel and outcome (sent, retry, failed, uncertain).",
            ["channel", "outcome"],
        )
        self.undeliverables = self.counter(
            "undeliverable",
            "Notifications nobody could be told, by reason (no_channel: the organization has no "
            "Slack connection, no webhook, no email recipients or sender).",
            ["reason"],
        )

    def event(self, consumer: str, outcome: str) -> None:
        self.events.labels(consumer, outcome).inc()

    def delivery(self, channel: str, outcome: str) -> None:
        self.deliveries.labels(channel, outcome).inc()

    def undeliverable(self, reason: str) -> None:
        self.undeliverables.labels(reason).inc()
