"""SECURITY.md 23 across processes: 20 ``token.expiring`` for one rotating-refresh-token
connection published at once, two refresher processes on the real broker, the sandbox process
playing the provider → exactly one refresh call, and the connection still works. Then the
owner of the connection's partition is stopped mid-refresh: the call finishes, its
``token.refreshed`` goes out, and the other process drops the redelivered events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_catalog import load_catalog
from hub_contracts import TokenExpiringV1, TokenRefreshedV1, Topic
from hub_keyring import Binding
from hub_localstack.services import ServiceProcess
from hub_providers import OAuthClient, TokenSet, check
from hub_runtime import publish_event
from hub_runtime.metrics import sample
from provider_sandbox import platform_environment

from .conftest import expiring
from .stack import (
    about,
    connect_at,
    metrics_of,
    outbound_to,
    partition_of,
    producer,
    read_topic,
    readiness,
    refresher,
    ring_of,
    sandbox_calls,
    sandbox_fault,
    token_calls,
    wait_for_group,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refreshers")


@pytest.fixture(scope="module")
def pair(hub_env: dict[str, str], log_dir: Path) -> Iterator[list[ServiceProcess]]:
    processes = [refresher(hub_env, log_dir, f"token-refresher-{n}") for n in (1, 2)]
    try:
        for process in processes:
            process.start()
        wait_for_group(processes)
        yield processes
    finally:
        for process in processes:
            process.stop()


async def _twenty(
    hub_env: dict[str, str], sandbox_url: str, provider_id: str
) -> tuple[TokenSet, list[TokenExpiringV1]]:
    http = outbound_to(sandbox_url)
    tokens = await connect_at(http, sandbox_url, provider_id)
    await http.aclose()
    event = expiring(ring_of(hub_env), CATALOG.get(provider_id), tokens=tokens, version=1)
    return tokens, [event.model_copy(update={"event_id": uuid.uuid4()}) for _ in range(20)]


async def _still_works(hub_env: dict[str, str], sandbox_url: str, event: TokenRefreshedV1) -> None:
    """The new access token passes the provider's check and the new refresh token refreshes."""
    ring = ring_of(hub_env)
    credentials = event.credentials
    assert credentials.access_token is not None
    assert credentials.refresh_token is not None

    def open_(field: str, sealed: object) -> str:
        binding = Binding(event.organization_id, event.provider, field)
        return ring.decrypt(sealed, binding).get_secret_value()  # type: ignore[arg-type]

    http = outbound_to(sandbox_url)
    provider = http.catalog.get(event.provider)
    environment = platform_environment(http.catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials} | {"shop": "acme"}
    spec = provider.checks.health
    assert spec is not None
    access = open_("access_token", credentials.access_token)
    await check(http, provider, provider.auth, spec, values | {"access_token": access})
    client = OAuthClient(http, provider, values, redirect_uri="https://hub.example/cb")
    from pydantic import SecretStr

    again = await client.refresh(SecretStr(open_("refresh_token", credentials.refresh_token)))
    assert again.refresh_token is not None
    await http.aclose()


async def test_twenty_triggers_two_processes_one_refresh_call(
    pair: list[ServiceProcess], hub_env: dict[str, str], sandbox_url: str, kafka_bootstrap: str
) -> None:
    tokens, events = await _twenty(hub_env, sandbox_url, "shopify")
    connection = events[0].connection_id
    before = token_calls(await sandbox_calls(sandbox_url), "shopify")
    await sandbox_fault(sandbox_url, "shopify", "slow", delay=0.5)
    try:
        async with producer(kafka_bootstrap) as broker:
            await asyncio.gather(*(publish_event(broker, e) for e in events))
        refreshed = await read_topic(
            kafka_bootstrap,
            Topic.TOKEN_REFRESHED,
            until=lambda seen: any(about([connection])(e) for e in seen),
            settle_s=3.0,
        )
    finally:
        await sandbox_fault(sandbox_url, "shopify", "ok")

    mine = [e for e in refreshed if about([connection])(e)]
    assert len(mine) == 1
    assert isinstance(mine[0], TokenRefreshedV1)
    assert mine[0].credential_version == 2
    assert token_calls(await sandbox_calls(sandbox_url), "shopify") - before == 1
    await _still_works(hub_env, sandbox_url, mine[0])
    assert tokens.refresh_token is not None


async def test_owner_stopped_mid_refresh_hands_over_without_a_second_call(
    pair: list[ServiceProcess],
    hub_env: dict[str, str],
    sandbox_url: str,
    kafka_bootstrap: str,
    log_dir: Path,
) -> None:
    _, events = await _twenty(hub_env, sandbox_url, "slack")
    first = events[0]
    connection = first.connection_id
    partition = partition_of(first.organization_id, "slack")
    owner = next(p for p in pair if partition in readiness(p)["partitions"])
    other = next(p for p in pair if p is not owner)
    before = token_calls(await sandbox_calls(sandbox_url), "slack")
    await sandbox_fault(sandbox_url, "slack", "slow", delay=2.0)
    try:
        async with producer(kafka_bootstrap) as broker:
            await asyncio.gather(*(publish_event(broker, e) for e in events))

        async def call_started() -> bool:
            return token_calls(await sandbox_calls(sandbox_url), "slack") > before

        deadline = asyncio.get_running_loop().time() + 15
        while not await call_started():
            assert asyncio.get_running_loop().time() < deadline, "no refresh call started"
            await asyncio.sleep(0.05)
        # SIGTERM while the provider is still answering: the call must finish and be
        # published before the partition is given up; nothing of it is committed.
        await asyncio.to_thread(owner.stop)
        await asyncio.to_thread(wait_for_group, [other], 30.0)
        refreshed = await read_topic(
            kafka_bootstrap,
            Topic.TOKEN_REFRESHED,
            until=lambda seen: any(about([connection])(e) for e in seen),
            settle_s=3.0,
        )
    finally:
        await sandbox_fault(sandbox_url, "slack", "ok")
        owner.start()  # the module's pair is whole again for whoever comes next
    mine = [e for e in refreshed if about([connection])(e)]
    assert len(mine) == 1
    assert token_calls(await sandbox_calls(sandbox_url), "slack") - before == 1
    # The survivor read all 20 again and dropped them on the credential version.
    events = "token_refresher_events_total"
    assert sample(await metrics_of(other), events, provider="slack", outcome="stale") == 20
    assert isinstance(mine[0], TokenRefreshedV1)
    await _still_works(hub_env, sandbox_url, mine[0])
