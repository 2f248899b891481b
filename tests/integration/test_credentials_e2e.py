"""Credentials for hub services end to end (issue 12): two connection-store replicas and a
token-refresher as processes on the real PostgreSQL, broker and the sandbox process. 100 reads
at once of an expired rotating-refresh-token connection (Shopify) make one token-endpoint call
and all get the new token; the plaintext never reaches a log, a span, a metric or an event."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from hub_catalog import load_catalog
from hub_contracts import Account, ConnectionEstablishedV1, Credentials, Topic, connection_id
from hub_keyring import Binding, KeyRing
from hub_localstack.services import ServiceProcess
from hub_providers import OAuthClient, OutboundHttp, TokenSet
from hub_runtime import publish_event
from provider_sandbox import platform_environment

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CATALOG = load_catalog()
REDIRECT = "https://hub.example/v1/oauth/callback"
CANARY_KEY = "pk_CANARY-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("credentials-e2e")


@pytest.fixture(scope="module")
def hub(hub_env: dict[str, str], logs: Path) -> Iterator[dict[str, ServiceProcess]]:
    env = {
        **hub_env,
        "LOG_LEVEL": "DEBUG",
        "OTEL_TRACES_FILE": str(logs / "spans.jsonl"),
        "CONNECTION_STORE_SWEEP_INTERVAL_S": "3600",  # only on-demand refreshes here
        "CONNECTION_STORE_CREDENTIALS_WAIT_S": "20",
    }
    processes = {
        name: ServiceProcess(
            name, "connection_store", env, port_variable="CONNECTION_STORE_PORT", log_dir=logs
        )
        for name in ("store-1", "store-2")
    }
    processes["refresher"] = ServiceProcess(
        "refresher",
        "token_refresher",
        env,
        port_variable="TOKEN_REFRESHER_PORT",
        log_dir=logs,
        health_path="/healthz",
    )
    with contextlib.ExitStack() as stack:
        for process in processes.values():
            stack.enter_context(process)
        yield processes


def _service_token(env: dict[str, str], providers: str) -> str:
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
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return issued.stdout.strip()


async def _connect(sandbox_url: str, provider_id: str = "shopify") -> TokenSet:
    """The OAuth flow against the sandbox process: a real refresh token."""
    catalog = load_catalog(base_url_override=sandbox_url)
    provider = catalog.get(provider_id)
    environment = platform_environment(catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    http = OutboundHttp(catalog)
    try:
        client = OAuthClient(http, provider, values | {"shop": "acme"}, redirect_uri=REDIRECT)
        verifier = secrets.token_urlsafe(48)
        async with httpx.AsyncClient() as browser:
            page = await browser.get(client.authorization_url(state="s", code_verifier=verifier))
        assert page.status_code == 302, page.text
        code = dict(parse_qsl(urlsplit(page.headers["location"]).query))[client.spec.code_param]
        return await client.exchange_code(code, code_verifier=verifier)
    finally:
        await http.aclose()


def _established(
    ring: KeyRing,
    org: uuid.UUID,
    provider: str,
    auth_type: str,
    *,
    expires_in_s: float | None,
    access: str | None = None,
    refresh: str | None = None,
    fields: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> ConnectionEstablishedV1:
    def seal(name: str, value: str) -> Any:
        return ring.encrypt(value, Binding(org, provider, name))

    return ConnectionEstablishedV1(
        organization_id=org,
        provider=provider,
        connection_id=connection_id(org, provider),
        auth_type=auth_type,
        credentials=Credentials(
            access_token=seal("access_token", access) if access else None,
            refresh_token=seal("refresh_token", refresh) if refresh else None,
            fields={name: seal(name, value) for name, value in (fields or {}).items()},
        ),
        occurred_at=datetime.now(UTC) - timedelta(hours=2),
        token_expires_at=(
            None if expires_in_s is None else datetime.now(UTC) + timedelta(seconds=expires_in_s)
        ),
        account=Account(id="acct-1", name="Acme"),
        metadata=metadata or {},
    )


async def _calls(sandbox_url: str) -> int:
    """Shopify token-endpoint calls other than code exchanges."""
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        counts = (await client.get("/_sandbox/calls")).json().get("shopify", {})
    return int(counts.get("token", 0) - counts.get("token.authorization_code", 0))


async def _row_status(store: ServiceProcess, org: uuid.UUID, provider: str) -> str | None:
    issued = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "connection_store.issuer", "--org", str(org)],
        env=store.env,
        capture_output=True,
        text=True,
        check=True,
    )
    async with httpx.AsyncClient(base_url=store.url, timeout=30) as client:
        answer = await client.get(
            f"/v1/orgs/{org}/integrations/{provider}",
            headers={"Authorization": f"Bearer {issued.stdout.strip()}"},
        )
    status: str | None = answer.json().get("status")
    return status


async def _topic_bytes(bootstrap: str, topics: list[Topic]) -> bytes:
    """Every record of ``topics`` from the beginning, headers and bodies."""
    consumer = AIOKafkaConsumer(
        *[t.value for t in topics],
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = bytearray()
    try:
        for _ in range(30):
            batch = await consumer.getmany(timeout_ms=200)
            if not batch and seen:
                break
            for records in batch.values():
                for record in records:
                    seen += record.value or b""
                    for _, value in record.headers or ():
                        seen += value
    finally:
        await consumer.stop()
    return bytes(seen)


async def _until_active(store: ServiceProcess, org: uuid.UUID, provider: str) -> None:
    for _ in range(300):
        if await _row_status(store, org, provider) == "active":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{provider} never became active")


async def test_a_provider_outage_during_a_needed_refresh_is_503_then_the_next_read_works(
    hub: dict[str, ServiceProcess],
    hub_env: dict[str, str],
    kafka_bootstrap: str,
    sandbox_url: str,
) -> None:
    ring = KeyRing.from_spec(hub_env["CREDENTIAL_KEYS"])
    org = uuid.uuid4()
    tokens = await _connect(sandbox_url, "google_ads")
    assert tokens.refresh_token is not None
    async with KafkaBroker(kafka_bootstrap, acks="all") as bus:
        await bus.start()
        await publish_event(
            bus,
            _established(
                ring,
                org,
                "google_ads",
                "oauth2_authorization_code",
                expires_in_s=-30,
                access=tokens.access_token.get_secret_value(),
                refresh=tokens.refresh_token.get_secret_value(),
            ),
        )
    store = hub["store-1"]
    await _until_active(store, org, "google_ads")
    headers = {"Authorization": f"Bearer {_service_token(hub_env, 'google_ads')}"}
    path = f"{store.url}/v1/orgs/{org}/integrations/google_ads/credentials"
    async with httpx.AsyncClient(base_url=sandbox_url) as control:
        fault = await control.post("/_sandbox/google_ads/faults", json={"mode": "unavailable"})
        assert fault.status_code == 200, fault.text
        try:
            async with httpx.AsyncClient(timeout=60) as client:
                down = await client.get(path, headers=headers)
        finally:
            await control.post("/_sandbox/google_ads/faults", json={"mode": "ok"})
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "refresh_unavailable"
    assert int(down.headers["retry-after"]) >= 1
    assert tokens.access_token.get_secret_value() not in down.text
    await asyncio.sleep(int(down.headers["retry-after"]))
    async with httpx.AsyncClient(timeout=60) as client:
        up = await client.get(path, headers=headers)
    assert up.status_code == 200, up.text
    assert up.json()["credential_version"] == 2
    assert up.json()["fields"]["access_token"] != tokens.access_token.get_secret_value()


async def test_100_reads_of_an_expired_rotating_token_make_one_refresh_and_leak_nothing(
    hub: dict[str, ServiceProcess],
    hub_env: dict[str, str],
    kafka_bootstrap: str,
    sandbox_url: str,
    logs: Path,
) -> None:
    ring = KeyRing.from_spec(hub_env["CREDENTIAL_KEYS"])
    org = uuid.uuid4()
    tokens = await _connect(sandbox_url)
    assert tokens.refresh_token is not None
    old = tokens.access_token.get_secret_value()
    async with KafkaBroker(kafka_bootstrap, acks="all") as bus:
        await bus.start()
        await publish_event(
            bus,
            _established(
                ring,
                org,
                "shopify",
                "oauth2_authorization_code",
                expires_in_s=-30,
                access=old,
                refresh=tokens.refresh_token.get_secret_value(),
                metadata={"shop": "acme"},
            ),
        )
        await publish_event(
            bus,
            _established(
                ring,
                org,
                "klaviyo",
                "api_key",
                expires_in_s=None,
                fields={"private_api_key": CANARY_KEY},
            ),
        )
    stores = [hub["store-1"], hub["store-2"]]
    for provider in ("shopify", "klaviyo"):
        await _until_active(stores[0], org, provider)
    before = await _calls(sandbox_url)
    headers = {"Authorization": f"Bearer {_service_token(hub_env, 'shopify klaviyo')}"}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        answers = await asyncio.gather(
            *[
                client.get(
                    f"{stores[n % 2].url}/v1/orgs/{org}/integrations/shopify/credentials",
                    params={"min_ttl_s": 300},
                    headers=headers,
                )
                for n in range(100)
            ]
        )
        canary = await client.get(
            f"{stores[1].url}/v1/orgs/{org}/integrations/klaviyo/credentials", headers=headers
        )
        metrics = [(await client.get(f"{s.url}/metrics")).text for s in stores]
    assert [a.status_code for a in answers] == [200] * 100, {a.text for a in answers}
    new = {a.json()["fields"]["access_token"] for a in answers}
    assert len(new) == 1
    assert old not in new
    assert {a.json()["credential_version"] for a in answers} == {2}
    assert await _calls(sandbox_url) - before == 1
    assert canary.json()["fields"] == {"private_api_key": CANARY_KEY}

    [fresh] = new
    secrets_out = [fresh, CANARY_KEY, old, tokens.refresh_token.get_secret_value()]
    for process in hub.values():
        process.stop()  # flush every log and span
    log_text = "".join(p.log_path.read_text(errors="replace") for p in hub.values())
    spans = (logs / "spans.jsonl").read_text()
    assert "credentials" in spans
    assert "GET" in log_text + spans
    events = await _topic_bytes(
        kafka_bootstrap,
        [Topic.CONNECTION_ESTABLISHED, Topic.TOKEN_EXPIRING, Topic.TOKEN_REFRESHED],
    )
    assert b"on_demand" in events
    for secret in secrets_out:
        assert secret not in log_text, "a credential reached a log"
        assert secret not in spans, "a credential reached a span"
        assert all(secret not in text for text in metrics), "a credential reached a metric"
        assert secret.encode() not in events, "a credential reached an event"
