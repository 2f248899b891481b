"""Services as processes, for end-to-end tests: the environment `make run` would give them, a
fresh database, and a readiness wait on their health endpoint.

    env = hub_environment(database_url, kafka_bootstrap, sandbox_url, state_dir)
    with ServiceProcess("connection-store", "connection_store", env,
                        port_variable="CONNECTION_STORE_PORT", log_dir=tmp) as store:
        httpx.get(f"{store.url}/v1/providers", ...)

Each process's output goes to ``<log_dir>/<name>.log`` (so tests can scan logs for canaries).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from hub_localstack.postgres import LOGIN_ROLE, OWNER_ROLE, role_url
from hub_localstack.processes import StartError, free_port, log_tail
from hub_localstack.run import development_environment
from hub_localstack.stack import Endpoints

TEST_KAFKA_SETTINGS = {
    "KAFKA_SESSION_TIMEOUT_MS": "2000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    "KAFKA_FETCH_MAX_WAIT_MS": "10",
}


def hub_environment(
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
    state_dir: Path,
    **extra: str,
) -> dict[str, str]:
    """The development environment of `make run`, pointed at the given servers; the services
    log in to `database_url`'s database as LOGIN_ROLE and migrate as OWNER_ROLE (its roles
    made by postgres.create_roles, as the fixtures do)."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    }
    endpoints = Endpoints(
        role_url(database_url, LOGIN_ROLE),
        kafka_bootstrap,
        role_url(database_url, OWNER_ROLE),
    )
    env = development_environment(endpoints, state_dir, inherited)
    return {
        **env,
        **TEST_KAFKA_SETTINGS,
        "HUB_ENVIRONMENT": "test",
        "PROVIDER_BASE_URL_OVERRIDE": sandbox_url,
        **extra,
    }


class ServiceProcess:
    """``python -m <module>`` on a free port, ready when ``health_path`` answers 200."""

    def __init__(
        self,
        name: str,
        module: str,
        env: Mapping[str, str],
        *,
        port_variable: str,
        log_dir: Path,
        health_path: str = "/healthz",
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.module = module
        self.port = free_port()
        self.env = {**env, port_variable: str(self.port)}
        self.log_path = log_dir / f"{name}.log"
        self.health_path = health_path
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServiceProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.timeout
        while not self._healthy():
            if self.process.poll() is not None:
                raise StartError(
                    f"{self.name} exited with {self.process.returncode}:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StartError(f"{self.name} not healthy after {self.timeout} s")
            time.sleep(0.05)
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + self.health_path, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown at all (crash tests)."""
        self.stop(signal.SIGKILL)

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
