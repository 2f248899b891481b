"""The store's Prometheus metrics (``hub_runtime.metrics``), served at ``/metrics``: the sweep
backlog, the outbox, connections per provider and status (read at scrape time), consumer lag,
credential reads and their on-demand refreshes."""

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
        self.credential_reads = self.counter(
            "credential_reads_total",
            "Credential reads by hub services, by service, provider and outcome.",
            ["service", "provider", "outcome"],
        )
        self.on_demand_refreshes = self.counter(
            "credential_refreshes_total",
            "On-demand refreshes a credential read waited for, by provider, role (claimed: this "
            "read asked for it; joined: another read had) and outcome.",
            ["provider", "role", "outcome"],
        )
        self.refresh_wait = self.histogram(
            "credential_refresh_wait_seconds",
            "How long a credential read waited for its on-demand refresh, by provider.",
            ["provider"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
        )
        self.purged_reads = self.counter(
            "credential_reads_purged_total", "Audit rows of credential reads past retention."
        )
