"""The gateway outbox against a broker that stops answering (SIGSTOP, not a clean shutdown):
the gateway and connection-store as processes, the real PostgreSQL and Tansu, the sandbox.

While the broker is paused for 30 s, 50 brands start and finish connecting: every start and
every callback answers promptly (the result is durable in PostgreSQL, the relay publishes it
later); within 30 s of SIGCONT every connection is active in the store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hub_localstack.broker import TansuBroker
from hub_localstack.services import ServiceProcess

from .conftest import token

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PAUSE_S = 30.0
CALLBACKS = 50
BROWSERS = 5
"""Brands connecting at the same time (the 50 are spread over the pause)."""
PROMPT_S = 10.0
"""An answer slower than this is not prompt: a callback that waited on the paused broker would
wait for the producer's 30 s timeout (unloaded, an answer takes well under a second)."""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    folder = tmp_path_factory.mktemp("paused-tansu")
    with TansuBroker(folder / "tansu.log", pid_path=folder / "tansu.pid") as tansu:
        yield tansu


@pytest.fixture(scope="module")
def kafka_bootstrap(broker: TansuBroker) -> str:
    """This module's own broker (the plugin's fixture, overridden): the test must signal it."""
    return broker.bootstrap_servers


@pytest.fixture(scope="module")
def services(
    hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("pause-logs")
    store = ServiceProcess(
        "connection-store",
        "connection_store",
        hub_env,
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    )
    gateway = ServiceProcess(
        "oauth-gateway", "oauth_gateway", hub_env, port_variable="OAUTH_GATEWAY_PORT", log_dir=logs
    )
    with store, gateway:
        yield store, gateway


def _pid(broker: TansuBroker) -> int:
    assert broker.pid_path is not None
    return int(Path(broker.pid_path).read_text().strip())


async def _connect(gateway: str, org: uuid.UUID) -> float:
    """One brand connects Slack as a browser would; returns the slowest answer, in seconds."""
    slowest = 0.0
    async with httpx.AsyncClient(timeout=PAUSE_S) as browser:
        began = time.monotonic()
        started = await browser.post(
            f"{gateway}/v1/orgs/{org}/integrations/slack/oauth/start",
            json={},
            headers={"Authorization": f"Bearer {token(org)}"},
        )
        slowest = max(slowest, time.monotonic() - began)
        assert started.status_code == 201, started.text
        authorize = await browser.get(started.json()["auth_url"])
        assert authorize.status_code == 302, authorize.text
        began = time.monotonic()
        callback = await browser.get(authorize.headers["location"])
        slowest = max(slowest, time.monotonic() - began)
    assert callback.status_code == 303, callback.text
    assert dict(parse_qsl(urlsplit(callback.headers["location"]).query))["status"] == "connected"
    return slowest


async def _active(store: str, orgs: list[uuid.UUID]) -> set[uuid.UUID]:
    async with httpx.AsyncClient(timeout=5) as client:
        answers = await asyncio.gather(
            *(
                client.get(
                    f"{store}/v1/orgs/{org}/integrations/slack",
                    headers={"Authorization": f"Bearer {token(org)}"},
                )
                for org in orgs
            )
        )
    return {org for org, a in zip(orgs, answers, strict=True) if a.json()["status"] == "active"}


async def test_callbacks_answer_while_the_broker_is_paused_and_nothing_is_lost(
    broker: TansuBroker, services: tuple[ServiceProcess, ServiceProcess]
) -> None:
    store, gateway = services
    warm = uuid.uuid4()
    await _connect(gateway.url, warm)  # everything up and relaying before the pause
    await _wait_active(store.url, [warm], within=30)

    orgs = [uuid.uuid4() for _ in range(CALLBACKS)]
    pid = _pid(broker)
    os.kill(pid, signal.SIGSTOP)
    paused = time.monotonic()
    try:
        browsers = asyncio.Semaphore(BROWSERS)

        async def one(org: uuid.UUID) -> float:
            async with browsers:
                return await _connect(gateway.url, org)

        slowest = await asyncio.gather(*(one(org) for org in orgs))
        assert max(slowest) < PROMPT_S, sorted(slowest)[-5:]
        assert time.monotonic() - paused < PAUSE_S, "the callbacks outlasted the pause"
        assert await _active(store.url, orgs) == set()  # nothing went through the broker
        await asyncio.sleep(max(0.0, PAUSE_S - (time.monotonic() - paused)))
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    await _wait_active(store.url, orgs, within=30)
    assert time.monotonic() - resumed < 30


async def _wait_active(store: str, orgs: list[uuid.UUID], *, within: float) -> None:
    deadline = time.monotonic() + within
    missing = set(orgs)
    while time.monotonic() < deadline:
        missing = set(orgs) - await _active(store, orgs)
        if not missing:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{len(missing)} of {len(orgs)} connections not active in {within} s")
