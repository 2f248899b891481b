"""Every ``hubctl`` command against the real stack: the services as processes, PostgreSQL, the
broker and the sandbox; ``hubctl`` itself as a process with the environment ``make run`` gives."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hub_contracts import Topic
from hub_localstack.run import SERVICES
from hub_localstack.services import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def cli_env(hub_env: dict[str, str], hub: dict[str, ServiceProcess]) -> dict[str, str]:
    """The services' environment, with the ports they were started on."""
    ports = {SERVICES[name].port_variable: str(p.port) for name, p in hub.items()}
    return {**hub_env, **ports, "COLUMNS": "200", "TERM": "dumb"}


def hubctl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "hubctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def connected(cli_env: dict[str, str], hub: dict[str, ServiceProcess]) -> dict[str, Any]:
    """Two organizations, each with Resend connected through the gateway by API key."""
    orgs = [uuid.uuid4(), uuid.uuid4()]
    keys = [f"canary-key-{uuid.uuid4().hex}" for _ in orgs]
    for org, key in zip(orgs, keys, strict=True):
        token = hubctl(cli_env, "token", "--org", str(org)).stdout.strip()
        answer = httpx.post(
            f"{hub['oauth-gateway'].url}/v1/orgs/{org}/integrations/resend/credentials",
            json={"fields": {"api_key": key}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
    store = hub["connection-store"].url
    deadline = time.monotonic() + 30
    for org in orgs:
        token = hubctl(cli_env, "token", "--org", str(org)).stdout.strip()
        while True:
            body = httpx.get(
                f"{store}/v1/orgs/{org}/integrations/resend",
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            if body.get("status") == "active":
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
    return {"orgs": orgs, "keys": keys}


def test_token_is_accepted_by_the_store(
    cli_env: dict[str, str], hub: dict[str, ServiceProcess]
) -> None:
    org = uuid.uuid4()
    token = hubctl(cli_env, "token", "--org", str(org), "--scope", "integrations:read")
    answer = httpx.get(
        f"{hub['connection-store'].url}/v1/orgs/{org}/integrations",
        headers={"Authorization": f"Bearer {token.stdout.strip()}"},
    )
    assert answer.status_code == 200, answer.text
    other = httpx.get(
        f"{hub['connection-store'].url}/v1/orgs/{uuid.uuid4()}/integrations",
        headers={"Authorization": f"Bearer {token.stdout.strip()}"},
    )
    assert other.status_code in (401, 403, 404)  # never another organization's data
    production = hubctl(
        {**cli_env, "HUB_ENVIRONMENT": "production"}, "token", "--org", str(org), check=False
    )
    assert production.returncode == 2


def test_connections_list_and_show_never_print_a_secret(
    cli_env: dict[str, str], connected: dict[str, Any]
) -> None:
    org, key = connected["orgs"][0], connected["keys"][0]
    listed = hubctl(cli_env, "connections", "list", str(org)).stdout
    assert "resend" in listed
    assert "active" in listed
    shown = hubctl(cli_env, "connections", "show", str(org), "resend").stdout
    assert "next_check_at" in shown
    assert "history" in shown
    assert "connected" in shown.split("history", 1)[1]
    assert "(in " in shown  # the next check is due in the future
    for text in (listed, shown):
        assert key not in text
        assert "ciphertext" not in text
    missing = hubctl(cli_env, "connections", "show", str(org), "slack", check=False)
    assert missing.returncode == 1


def test_catalog_validate_and_show(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert "catalog valid" in hubctl(cli_env, "catalog", "validate").stdout
    broken = tmp_path / "providers.yaml"
    broken.write_text("providers:\n  - id: nope\n")
    refused = hubctl(cli_env, "catalog", "validate", "--file", str(broken), check=False)
    assert refused.returncode == 1
    assert "invalid catalog" in refused.stderr
    table = hubctl(cli_env, "catalog", "show").stdout
    assert "slack" in table
    assert "shopify" in table
    entry = json.loads(hubctl(cli_env, "catalog", "show", "slack").stdout)
    assert entry["id"] == "slack"
    assert hubctl(cli_env, "catalog", "show", "nope", check=False).returncode == 1


async def _dead_letters(env: dict[str, str]) -> str:
    return (await asyncio.to_thread(hubctl, env, "dlq", "list", "connection.established")).stdout


async def test_dlq_list_show_and_replay_once(cli_env: dict[str, str], kafka_bootstrap: str) -> None:
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            Topic.CONNECTION_ESTABLISHED.value,
            f'{{"broken": "{marker}"'.encode(),
            key=b"k",
            headers=[("x-test", marker.encode()), ("event-type", b"connection.established")],
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + 30
    while "malformed" not in (listed := await _dead_letters(cli_env)):
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.3)
    records = json.loads(await asyncio.to_thread(_dlq_json, kafka_bootstrap, marker))
    assert records, "the dead letter keeps the record's own headers"
    where = records[0]
    shown = hubctl(cli_env, "dlq", "show", "connection.established", where).stdout
    assert "dlq-reason: malformed" in shown
    assert f"x-test: {marker}" in shown
    assert marker in shown

    first = hubctl(cli_env, "dlq", "replay", "connection.established", where)
    assert "1 published" in first.stderr
    again = hubctl(cli_env, "dlq", "replay", "connection.established", where)
    assert "0 published, 1 already replayed" in again.stderr
    dry = hubctl(cli_env, "dlq", "replay", "connection.established", "--all", "--dry-run")
    assert "already" in dry.stdout
    replayed = await _replays(kafka_bootstrap, marker)
    assert len(replayed) == 1, replayed
    assert replayed[0]["x-test"] == marker
    assert replayed[0]["dlq-replay-of"] == f"connection.established.dlq/{where.replace(':', '/')}"


def _broker_env(bootstrap: str) -> Any:
    """hubctl's readers take the broker from the environment: set it for the call only (left
    set, it would send every later test module to this module's broker once it is gone)."""
    return mock.patch.dict(os.environ, {"KAFKA_BOOTSTRAP_SERVERS": bootstrap})


def _dlq_json(bootstrap: str, marker: str) -> str:
    """``PARTITION:OFFSET`` of every DLQ record carrying ``x-test: marker`` (one per consumer
    group that dead-lettered it), read with hubctl's own reader."""
    from hubctl import dlq

    with _broker_env(bootstrap):
        found = asyncio.run(dlq.list_dead_letters("connection.established"))
    return json.dumps(
        [f"{r.partition}:{r.offset}" for r in found if r.headers.get("x-test") == marker]
    )


async def _replays(bootstrap: str, marker: str) -> list[dict[str, str]]:
    from hubctl import dlq

    def read() -> list[Any]:
        with _broker_env(bootstrap):
            return asyncio.run(dlq._read_all(Topic.CONNECTION_ESTABLISHED.value))

    records = await asyncio.to_thread(read)
    return [h for *_, h in records if h.get("x-test") == marker and "dlq-replay-of" in h]


def test_doctor_checks_without_printing_secrets(
    cli_env: dict[str, str], connected: dict[str, Any]
) -> None:
    done = hubctl(cli_env, "doctor")
    text = done.stdout + done.stderr
    for name in ("PostgreSQL", "broker", "connection-store", "notifier", "PLATFORM_JWT_SECRET"):
        assert name in text
    assert "FAIL" not in text
    assert "will not hear about problems" in text
    for org in connected["orgs"]:
        assert str(org) in text
    secret_values = [
        cli_env["CREDENTIAL_KEYS"].partition(":")[2],
        "development-only-jwt-secret-change-me-0123456789",
    ]
    for value in secret_values:
        assert value not in text

    shared = "one-secret-for-two-roles-0123456789abcdef"
    same = hubctl(
        {**cli_env, "PLATFORM_JWT_SECRET": shared, "HUB_SERVICE_TOKEN_SECRET": shared},
        "doctor",
        check=False,
    )
    assert same.returncode == 1
    assert "the same value" in same.stdout
    assert shared not in same.stdout + same.stderr
    down = {**cli_env, SERVICES["notifier"].port_variable: str(_closed_port())}
    unreachable = hubctl(down, "doctor", check=False)
    assert unreachable.returncode == 1


def _closed_port() -> int:
    from hub_localstack.processes import free_port

    return free_port()


async def _key_ids(database_url: str, org: uuid.UUID) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT credential_fields_encrypted FROM integration_connections "
            "WHERE organization_id = $1",
            org,
        )
    finally:
        await connection.close()
    assert row is not None
    fields = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return {value["key_id"] for value in fields.values()}


async def test_keys_new_then_reencrypt_dry_run_resumable(
    cli_env: dict[str, str], connected: dict[str, Any], database_url: str
) -> None:
    entry = hubctl(cli_env, "keys", "new", "rotated1").stdout.strip()
    key_id, _, material = entry.partition(":")
    assert key_id == "rotated1"
    assert len(base64.urlsafe_b64decode(material + "=" * (-len(material) % 4))) == 32
    rotated = {**cli_env, "CREDENTIAL_KEYS": f"{entry},{cli_env['CREDENTIAL_KEYS']}"}
    old = cli_env["CREDENTIAL_KEYS"].partition(":")[0]

    connections = "connection-store integration_connections: {} rows hold an older key"
    dry = hubctl(rotated, "keys", "reencrypt", "--dry-run").stdout
    assert connections.format(2) in dry
    assert "oauth-gateway oauth_gateway_outbox.payload" in dry
    assert "token-refresher token_refresher_journal.payload" in dry
    assert await _key_ids(database_url, connected["orgs"][0]) == {old}

    partial = hubctl(rotated, "keys", "reencrypt", "--max-rows", "1", "--batch-size", "1")
    assert "in 1 rows" in partial.stdout
    assert connections.format(1) in hubctl(rotated, "keys", "reencrypt", "--dry-run").stdout
    rest = hubctl(rotated, "keys", "reencrypt").stdout
    assert "re-encrypted" in rest
    after = hubctl(rotated, "keys", "reencrypt", "--dry-run").stdout
    assert re.search(r"^0 rows hold an older key", after, re.MULTILINE), after
    for org in connected["orgs"]:
        assert await _key_ids(database_url, org) == {"rotated1"}
    assert secrets.compare_digest(entry, entry)
