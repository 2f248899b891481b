"""Prometheus metrics, one registry per app (no globals), served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class PrometheusMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "notifier_events",
            "Events handled, by consumer and outcome (opened, reminded, duplicate, stale, "
            "closed, closed_silently, nothing_open, redelivered).",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "notifier_deliveries",
            "Delivery attempts by channel and outcome (sent, retry, failed, uncertain).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.undeliverables = Counter(
            "notifier_undeliverable",
            "Notifications nobody could be told, by reason (no_channel: the organization has no "
            "Slack connection, no webhook, no email recipients or sender).",
            ["reason"],
            registry=self.registry,
        )

    def event(self, consumer: str, outcome: str) -> None:
        self.events.labels(consumer, outcome).inc()

    def delivery(self, channel: str, outcome: str) -> None:
        self.deliveries.labels(channel, outcome).inc()

    def undeliverable(self, reason: str) -> None:
        self.undeliverables.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
