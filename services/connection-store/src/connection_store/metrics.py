"""The store's Prometheus metrics (``hub_runtime.metrics``), served at ``/metrics``: the sweep
backlog, the outbox, connections per provider and status (read at scrape time), consumer lag."""

from __future__ import annotations

from hub_runtime.metrics import ServiceMetrics

OVERDUE_AFTER_S = 300.0
"""A connection due longer than this is overdue: the sweeps are not keeping up."""
BACKLOG_CAP = 100_000
"""Counts stop here, so a scrape stays a bounded index scan whatever the backlog."""


class StoreMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("connection-store")
        self.due = self.gauge(
            "sweep_due", "Connections due now, by kind (refresh, check).", ["kind"]
        )
        self.overdue = self.gauge(
            "sweep_overdue",
            f"Connections due for more than {OVERDUE_AFTER_S:g} s, by kind (refresh, check).",
            ["kind"],
        )
        self.outbox_depth = self.gauge("outbox_depth", "Outbox events not published yet.")
        self.outbox_age = self.gauge(
            "outbox_oldest_age_seconds", "Age of the oldest outbox event not published yet."
        )
        self.connections = self.gauge(
            "connections",
            "Connections across tenants, by provider and status.",
            ["provider", "status"],
        )
