"""The README's example, end to end, as processes on the real PostgreSQL, broker and provider
sandbox: onboarding seals a Klaviyo key to the gateway's public key and publishes it
(``connection.requested`` v2), the gateway opens, validates and connects it, and the README's
program, run as it is, reads the credential from connection-store with ``hub_client`` and calls
Klaviyo (the sandbox) with ``provider_auth``. Also: a brand that never connected the provider
gets ``NotConnected`` with the store's message.

Needs connection-store's credentials API (issue 12, branch ``credapi``: the route and
``connection_store.issuer --service ... --providers ...``); skipped, saying so, without it.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hub_catalog import load_catalog
from hub_client import HubClient, NotConnected, connection_requested, fetch_submission_key
from hub_localstack.services import ServiceProcess
from hub_runtime import ServiceSettings, create_broker, publish_event
from provider_sandbox import example_value

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

README = Path(__file__).resolve().parents[1] / "README.md"
JWT_SECRET = "readme-platform-jwt-secret-" + "r" * 32


def _example() -> str:
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    return block


@dataclass(frozen=True)
class Hub:
    gateway: str
    store: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub_env: dict[str, str] = request.getfixturevalue("hub_env")
    env = {**hub_env, "PLATFORM_JWT_SECRET": JWT_SECRET}
    logs = tmp_path_factory.mktemp("readme-logs")
    store = ServiceProcess(
        "connection-store",
        "connection_store",
        env,
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    )
    gateway = ServiceProcess(
        "oauth-gateway", "oauth_gateway", env, port_variable="OAUTH_GATEWAY_PORT", log_dir=logs
    )
    with store, gateway:
        yield Hub(gateway.url, store.url, env)


def _service_token(hub: Hub, providers: str) -> str:
    issued = subprocess.run(
        [
            sys.executable,
            "-m",
            "connection_store.issuer",
            "--service",
            "spend-sync",
            "--providers",
            providers,
        ],
        env=hub.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return issued.stdout.strip()


def _klaviyo_key() -> dict[str, str]:
    mode = load_catalog().get("klaviyo").auth_mode("api_key")
    assert mode is not None
    return {field.name: example_value(field) for field in mode.fields}


async def _onboard(hub: Hub, org: uuid.UUID) -> None:
    """What the onboarding team's service does (docs/producers.md)."""
    key = await fetch_submission_key(hub.gateway)
    event = connection_requested(key, org, "klaviyo", _klaviyo_key(), requested_by="onboarding")
    settings = ServiceSettings(kafka_bootstrap_servers=hub.env["KAFKA_BOOTSTRAP_SERVERS"])
    async with create_broker(settings) as broker:
        await publish_event(broker, event)


def _run_example(hub: Hub, org: uuid.UUID, token: str) -> subprocess.CompletedProcess[str]:
    env = {**hub.env, "HUB_URL": hub.store, "HUB_SERVICE_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-c", _example(), str(org)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _connected(hub: Hub, org: uuid.UUID, token: str) -> None:
    """Until the store serves the credential (the gateway validated it at the sandbox)."""
    async with HubClient(hub.store, token) as client:
        for _ in range(240):
            try:
                await client.credentials(org, "klaviyo")
                return
            except NotConnected:
                await asyncio.sleep(0.25)
    raise AssertionError("the sealed submission never became a connection")


def test_the_readme_example_reads_klaviyo_with_a_credential_from_the_hub(hub: Hub) -> None:
    org = uuid.uuid4()
    token = _service_token(hub, "klaviyo")
    asyncio.run(_onboard(hub, org))
    asyncio.run(_connected(hub, org, token))
    ran = _run_example(hub, org, token)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "Sandbox Klaviyo account", ran.stdout + ran.stderr
    for secret in _klaviyo_key().values():
        assert secret not in ran.stdout + ran.stderr
    skipped = _run_example(hub, uuid.uuid4(), token)
    assert skipped.stdout.startswith("skipped: not_connected: "), skipped.stdout + skipped.stderr


async def test_a_brand_without_the_connection_gets_not_connected_with_the_stores_message(
    hub: Hub,
) -> None:
    token = await asyncio.to_thread(_service_token, hub, "klaviyo")
    async with HubClient(hub.store, token) as client:
        with pytest.raises(NotConnected) as raised:
            await client.credentials(uuid.uuid4(), "klaviyo")
    assert raised.value.code == "not_connected"
    assert raised.value.status == 404
    assert raised.value.message
    async with httpx.AsyncClient() as http:
        listed = (await http.get(f"{hub.gateway}/v1/submission-keys")).json()["keys"]
    assert listed[0]["key_id"] == "devs1"
