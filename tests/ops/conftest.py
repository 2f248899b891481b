"""The whole hub as processes on the real stack (PostgreSQL, broker, sandbox), for the operator
tests: metrics, ``hubctl``, traces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_localstack.run import SERVICES, run_extras
from hub_localstack.services import ServiceProcess

START_TIMEOUT_S = 180.0
"""Five services on a shared two-core machine: a start can take minutes when others run too."""

HUB = {
    "oauth-gateway": "oauth_gateway",
    "connection-store": "connection_store",
    "token-refresher": "token_refresher",
    "health-monitor": "health_monitor",
    "notifier": "notifier",
}


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces") / "spans.jsonl"


@pytest.fixture(scope="module")
def hub(
    hub_env: dict[str, str], trace_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    """Every hub service started (name → process), writing spans to ``trace_file``."""
    logs = tmp_path_factory.mktemp("hub-logs")
    env = {
        **hub_env,
        **run_extras(trace_file.parent),
        "OTEL_TRACES_FILE": str(trace_file),
        "CONNECTION_STORE_SWEEP_INTERVAL_S": "0.3",
    }
    processes = {
        name: ServiceProcess(
            name,
            module,
            env,
            port_variable=SERVICES[name].port_variable,
            log_dir=logs,
            timeout=START_TIMEOUT_S,
        )
        for name, module in HUB.items()
    }
    processes["notifier"].env["NOTIFIER_STORE_URL"] = processes["connection-store"].url
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()
