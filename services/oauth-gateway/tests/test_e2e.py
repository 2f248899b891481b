"""End to end: the gateway and connection-store as processes on the real PostgreSQL and broker,
the provider sandbox as every provider, and a test acting as the browser.

Processes start once for the module; every test uses an organization of its own. An OTLP/HTTP
collector in the test receives both services' spans.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from hub_catalog import AuthType, HealthCheckMode, load_catalog, value_at
from hub_contracts import (
    ALL_TOPICS,
    ConnectionFailedV1,
    ConnectionRequestedV1,
    Event,
    Topic,
    connection_id,
    dlq_topic,
    parse_event,
)
from hub_keyring import Binding, KeyRing
from hub_localstack.processes import free_port
from hub_localstack.services import ServiceProcess
from hub_runtime import ServiceSettings, create_broker, publish_event
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind
from provider_sandbox.recordings import fill, load_recordings

from .conftest import token
from .test_credentials import TYPED, good_fields, rejected_fields

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CATALOG = load_catalog()
OAUTH = [p.id for p in CATALOG.oauth_providers()]
JWT_SECRET = "e2e-platform-jwt-secret-" + "j" * 32
T = TypeVar("T")


# --- an OTLP/HTTP collector ---------------------------------------------------------------------


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    trace_id: str
    kind: int
    attributes: str


class Collector:
    def __init__(self) -> None:
        self.spans: list[CollectedSpan] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.receive(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    found.append(
                        CollectedSpan(
                            service,
                            span.name,
                            span.trace_id.hex(),
                            span.kind,
                            str(span.attributes),
                        )
                    )
        with self.lock:
            self.spans.extend(found)


# --- the processes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    gateway: str
    store: str
    sandbox: str
    env: dict[str, str]
    logs: list[Path]
    collector: Collector


@pytest.fixture(scope="module")
def stack(
    hub_env: dict[str, str], sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    collector = Collector()
    collector.thread.start()
    env = {
        **hub_env,
        "PLATFORM_JWT_SECRET": JWT_SECRET,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    logs = tmp_path_factory.mktemp("e2e-logs")
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
        yield Stack(
            gateway.url,
            store.url,
            sandbox_url,
            env,
            [gateway.log_path, store.log_path],
            collector,
        )
    collector.server.shutdown()
    collector.server.server_close()


def bearer(org: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(org, secret=JWT_SECRET)}"}


def eventually(probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def store_view(stack: Stack, org: uuid.UUID, provider: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{stack.store}/v1/orgs/{org}/integrations/{provider}", headers=bearer(org), timeout=5
    )
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


def active(stack: Stack, org: uuid.UUID, provider: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        view = store_view(stack, org, provider)
        return view if view["status"] == "active" else None

    return eventually(probe)


def browser_connect(stack: Stack, org: uuid.UUID, provider: str) -> httpx.Response:
    """Start, follow auth_url to the sandbox's authorize page, follow it back to the callback,
    all with one cookie jar, as a browser would."""
    body = {"shop": "acme.myshopify.com"} if provider == "shopify" else {}
    with httpx.Client(timeout=10) as browser:
        started = browser.post(
            f"{stack.gateway}/v1/orgs/{org}/integrations/{provider}/oauth/start",
            json=body,
            headers=bearer(org),
        )
        assert started.status_code == 201, started.text
        authorize = browser.get(started.json()["auth_url"])
        assert authorize.status_code == 302, authorize.text
        callback = browser.get(authorize.headers["location"])
    assert callback.status_code == 303, callback.text
    return callback


def expected_account(provider_id: str) -> str:
    provider = CATALOG.get(provider_id)
    spec = provider.checks.identity or provider.checks.health
    assert spec is not None
    if provider.tenant_params:
        return f"Sandbox {provider.name} acme"
    if spec.account_name_path:
        return f"Sandbox {provider.name} account"
    # No name at the provider: the account id stands in, as the recorded answer holds it
    # (Google Ads: "customers/<id>").
    recordings = load_recordings()[provider_id]
    assert spec.account_id_path is not None
    account_id = recordings.account_id or f"sbx-{provider_id}-account"
    body = fill(recordings.answers["health"].body, {"account_id": account_id})
    return str(value_at(body, spec.account_id_path))


# --- OAuth --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider_id", OAUTH)
def test_a_browser_connects_every_oauth_provider(provider_id: str, stack: Stack) -> None:
    org = uuid.uuid4()
    callback = browser_connect(stack, org, provider_id)
    location = callback.headers["location"]
    assert f"integration={connection_id(org, provider_id)}" in location
    assert location.endswith("status=connected")
    view = active(stack, org, provider_id)
    assert view["account_name"] == expected_account(provider_id)
    assert view["auth_type"] == AuthType.OAUTH2_AUTHORIZATION_CODE.value
    assert "access_token" in view["credentials_present"]


def test_a_replay_from_another_cookie_jar_is_refused(stack: Stack) -> None:
    org = uuid.uuid4()
    before = httpx.get(f"{stack.sandbox}/_sandbox/calls").json().get("stripe_connect", {})
    with httpx.Client(timeout=10) as browser:
        started = browser.post(
            f"{stack.gateway}/v1/orgs/{org}/integrations/stripe_connect/oauth/start",
            json={},
            headers=bearer(org),
        )
        location = browser.get(started.json()["auth_url"]).headers["location"]
    replay = httpx.get(location, timeout=10)
    assert replay.status_code == 303  # back to the return URL, saying why (issue 11)
    assert "status=error&reason=browser_mismatch" in replay.headers["location"]
    after = httpx.get(f"{stack.sandbox}/_sandbox/calls").json()["stripe_connect"]
    assert after.get("token", 0) == before.get("token", 0)


# --- API keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider_id", TYPED)
def test_api_keys_connect_and_rejected_keys_leave_nothing(provider_id: str, stack: Stack) -> None:
    org = uuid.uuid4()
    url = f"{stack.gateway}/v1/orgs/{org}/integrations/{provider_id}/credentials"
    provider = CATALOG.get(provider_id)
    if provider.checks.health_mode == HealthCheckMode.BEST_EFFORT:
        # The provider cannot judge a key (GA4, Clarity): the catalog's shape is the check.
        refused = dict.fromkeys(good_fields(provider_id), "not a key")
        expected_code = "invalid_field"
    else:
        refused, expected_code = rejected_fields(provider_id), "credentials_rejected"
    rejected = httpx.post(url, json={"fields": refused}, headers=bearer(org), timeout=10)
    assert rejected.status_code == 422, rejected.text
    assert rejected.json()["error"]["code"] == expected_code
    accepted = httpx.post(
        url, json={"fields": good_fields(provider_id)}, headers=bearer(org), timeout=10
    )
    assert accepted.status_code == 201, accepted.text
    view = active(stack, org, provider_id)
    assert view["credential_version"] == 1  # only the accepted key was ever established
    assert sorted(view["credentials_present"]) == sorted(
        [*good_fields(provider_id), *(["access_token"] if provider.auth.mint else [])]
    )


def test_onboarding_submissions_are_validated_from_the_topic(stack: Stack) -> None:
    ring = KeyRing.from_spec(stack.env["CREDENTIAL_KEYS"])
    org = uuid.uuid4()

    def request(provider: str, fields: dict[str, str]) -> ConnectionRequestedV1:
        return ConnectionRequestedV1(
            organization_id=org,
            provider=provider,
            flow_id=uuid.uuid4(),
            auth_type="api_key",
            submission={
                name: ring.encrypt(value, Binding(org, provider, name))
                for name, value in fields.items()
            },
        )

    accepted = request("klaviyo", good_fields("klaviyo"))
    refused = request("resend", rejected_fields("resend"))
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    asyncio.run(_publish(bootstrap, accepted, refused))
    assert active(stack, org, "klaviyo")["account_name"] == "Sandbox Klaviyo account"
    # The refusal is read from the topic: connection-store applies connection.failed only to a
    # row its connection.requested consumer already created (two topics, no order between them).
    failures = [
        parse_event(m.value, topic=Topic.CONNECTION_FAILED.value)
        for m in asyncio.run(_messages(bootstrap, [Topic.CONNECTION_FAILED.value]))
    ]
    (failed,) = [
        f for f in failures if isinstance(f, ConnectionFailedV1) and f.organization_id == org
    ]
    assert failed.event_id == uuid.uuid5(refused.event_id, "connection.failed")
    assert failed.flow_id == refused.flow_id
    assert failed.reason == "credentials_rejected"
    assert failed.message.startswith("Resend rejected this API key")
    refused_view = store_view(stack, org, "resend")
    assert refused_view["credentials_present"] == []
    assert refused_view["credential_version"] == 0


# --- canaries: ciphertext only ------------------------------------------------------------------


def test_canary_tokens_appear_nowhere(stack: Stack, database_url: str) -> None:
    canary = f"canary-at-{uuid.uuid4().hex}"
    canary_refresh = f"canary-rt-{uuid.uuid4().hex}"
    canary_key = f"canary-key-{uuid.uuid4().hex}"
    httpx.post(
        f"{stack.sandbox}/_sandbox/slack/next-token",
        json={"access_token": canary, "refresh_token": canary_refresh},
    )
    org = uuid.uuid4()
    browser_connect(stack, org, "slack")
    assert active(stack, org, "slack")["account_name"] == "Sandbox Slack account"
    answer = httpx.post(
        f"{stack.gateway}/v1/orgs/{org}/integrations/resend/credentials",
        json={"fields": {"api_key": canary_key}},
        headers=bearer(org),
    )
    assert answer.status_code == 201
    active(stack, org, "resend")
    issued = [t["token"] for t in httpx.get(f"{stack.sandbox}/_sandbox/slack/tokens").json()]
    assert canary in issued
    assert canary_refresh in issued
    secrets = [canary, canary_refresh, canary_key]

    # the superuser's dump: the services' login role may read no table of its own accord
    dump = _database_dump(database_url)
    assert str(connection_id(org, "slack")) in dump  # the dump holds the connection...
    assert "oauth_flows" in dump
    for secret in secrets:  # ...as ciphertext only
        assert secret not in dump

    topics = [*ALL_TOPICS, *(dlq_topic(t) for t in ALL_TOPICS)]
    messages = [
        (m.key or b"") + (m.value or b"") + b"".join(v or b"" for _, v in m.headers)
        for m in asyncio.run(_messages(stack.env["KAFKA_BOOTSTRAP_SERVERS"], topics))
    ]
    assert any(str(connection_id(org, "slack")).encode() in m for m in messages)
    for secret in secrets:
        assert not any(secret.encode() in m for m in messages)

    deadline = time.monotonic() + 20  # the span processors export in batches
    while not {"oauth-gateway", "connection-store"} <= {s.service for s in stack.collector.spans}:
        assert time.monotonic() < deadline, "no span of the gateway or the store arrived"
        time.sleep(0.2)
    for path in stack.logs:
        text = path.read_text()
        assert "oauth callback" in text or "connection-store" in text
        for secret in secrets:
            assert secret not in text, path.name
    spans = " ".join(s.attributes + s.name for s in stack.collector.spans)
    for secret in secrets:
        assert secret not in spans


def _database_dump(database_url: str) -> str:
    from hub_localstack.postgres import POSTGRES_BIN_PATH

    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--data-only", "--dbname", database_url],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode()


async def _publish(bootstrap: str, *events: Event) -> None:
    broker = create_broker(ServiceSettings(kafka_bootstrap_servers=bootstrap))
    async with broker:
        await broker.start()
        for event in events:
            await publish_event(broker, event)


async def _messages(bootstrap: str, topics: list[str]) -> list[Any]:
    """Every record on ``topics`` from the start (until the topics are idle for 3 s)."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"e2e-scan-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=10,
    )
    found: list[Any] = []
    await consumer.start()
    try:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 3:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found.extend(records)
                idle_since = time.monotonic()
    finally:
        await consumer.stop()
    return found


# --- one trace ----------------------------------------------------------------------------------


def test_one_trace_spans_the_callback_the_publish_and_the_stores_consumer(stack: Stack) -> None:
    org = uuid.uuid4()
    browser_connect(stack, org, "google_drive")
    active(stack, org, "google_drive")

    def trace() -> list[CollectedSpan] | None:
        with stack.collector.lock:
            spans = list(stack.collector.spans)
        callbacks = [
            s
            for s in spans
            if s.service == "oauth-gateway"
            and s.name == "GET /v1/oauth/{provider}/callback"
            and "google_drive" in s.attributes
        ]
        for callback in callbacks:
            same = [s for s in spans if s.trace_id == callback.trace_id]
            consumed = [
                s
                for s in same
                if s.service == "connection-store"
                and "connection.established" in s.name
                and s.kind == SpanKind.CONSUMER.value + 1  # OTLP enum is offset by one
            ]
            published = [
                s
                for s in same
                if s.service == "oauth-gateway" and s.name == "connection.established publish"
            ]
            if consumed and published:
                return same
        return None

    spans = eventually(trace, timeout=20)
    assert len({s.trace_id for s in spans}) == 1
