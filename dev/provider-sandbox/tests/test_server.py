"""``python -m provider_sandbox`` serves the control API on the configured port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server() -> Iterator[str]:
    port = _free_port()
    environment = os.environ | {"SANDBOX_HOST": "127.0.0.1", "SANDBOX_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "provider_sandbox"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1]
            try:
                httpx.get(f"{base}/_sandbox/health", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_server_process_answers_the_control_api(server: str) -> None:
    assert httpx.get(f"{server}/_sandbox/calls", timeout=5).json() == {}
    answer = httpx.post(f"{server}/p/slack/slack.com/api/auth.test", timeout=5)
    assert answer.json()["ok"] is False
    assert httpx.get(f"{server}/_sandbox/calls", timeout=5).json() == {"slack": {"health": 1}}
