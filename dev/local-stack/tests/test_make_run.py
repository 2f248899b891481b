"""`make run`'s command brings up the stack and every Procfile service, stays up, and stops
everything on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hub_localstack.processes import free_port
from hub_localstack.run import SERVICES, procfile_names
from hub_localstack.settings import repo_root

pytestmark = pytest.mark.integration
PROCFILE = repo_root() / "deploy" / "local" / "Procfile"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_run_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    names = procfile_names(PROCFILE)
    ports = {
        "LOCAL_STACK_POSTGRES_PORT": free_port(),
        "LOCAL_STACK_KAFKA_PORT": free_port(),
        **{service.port_variable: free_port() for service in SERVICES.values()},
    }
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {name: str(port) for name, port in ports.items()}
    env["LOCAL_STACK_DATA_DIR"] = str(tmp_path / "state")
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "hub_localstack", "run", "--procfile", str(PROCFILE)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        pending = {name: SERVICES[name] for name in names}
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "run.log").read_text()
            for name, service in list(pending.items()):
                url = f"http://127.0.0.1:{service.port(env)}{service.health_path}"
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        del pending[name]
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        assert not pending, f"not healthy: {sorted(pending)}\n{(tmp_path / 'run.log').read_text()}"
        first = (tmp_path / "run.log").read_text().splitlines()[0]
        console = SERVICES["admin-console"].port(env)
        assert first.startswith(f"admin console: http://127.0.0.1:{console}/"), first
        time.sleep(1)
        assert process.poll() is None, "make run must stay up until interrupted"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "run.log").read_text()
    for name in ("LOCAL_STACK_POSTGRES_PORT", "LOCAL_STACK_KAFKA_PORT"):
        assert not _listening(ports[name]), f"{name} still listening after Ctrl-C"
    for name in names:
        assert not _listening(SERVICES[name].port(env)), f"{name} still listening after Ctrl-C"
