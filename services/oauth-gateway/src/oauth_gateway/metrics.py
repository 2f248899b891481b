"""The gateway's Prometheus metrics (``hub_runtime.metrics``), served at ``/metrics``: OAuth
callbacks and API-key connects by provider, outcome and reason (the gateway's own error codes),
consumer lag."""

from __future__ import annotations

from hub_runtime.metrics import ServiceMetrics


class GatewayMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("oauth-gateway")
        self.callbacks = self.counter(
            "callbacks",
            "OAuth callbacks by provider and outcome (connected, failed: the flow ended with an "
            "error; refused: not tied to a flow this browser started) and reason (error code).",
            ["provider", "outcome", "reason"],
        )
        self.flows_expired = self.counter(
            "flows_expired",
            "OAuth flows the expiry sweep ended with connection.failed (nobody came back).",
            ["provider"],
        )

    def callback(self, provider: str, outcome: str, reason: str | None = None) -> None:
        self.callbacks.labels(provider, outcome, reason or "none").inc()
