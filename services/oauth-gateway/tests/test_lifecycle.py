"""The lifecycle's ends (issue 13, items 3 and 6): the gateway on the real PostgreSQL and broker
(in process, with a clock the test moves and the sandbox behind its guarded transport), and
connection-store as a process reading what the gateway's outbox relays.

- Every connect attempt ends: a callback refused for ``flow_expired`` or ``browser_mismatch``,
  a denial at the provider, and a flow nobody comes back to all end with ``connection.failed``;
  the store shows the attempt failed with the reason, and a reconnect never hides the status
  underneath.
- A disconnect in the store reaches the gateway (``connection.disconnected``), which withdraws
  the grant with the provider's own revocation request (Slack, Meta, Stripe, Shopify).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from hub_catalog import Catalog, PlatformCredentials
from hub_localstack.services import ServiceProcess
from hub_runtime.metrics import sample
from oauth_gateway.app import create_app
from oauth_gateway.settings import GatewaySettings
from provider_sandbox import platform_environment

from .conftest import GATEWAY, token

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SWEEP_S = 0.5
TTL_S = 60
SHORT_TTL_S = 3


class ShiftedClock:
    """The real time plus an offset the test sets (the database keeps the real clock)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="module")
def store(hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("expiry-logs")
    with ServiceProcess(
        "connection-store",
        "connection_store",
        hub_env,
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    ) as process:
        yield process.url


@dataclass
class Gateway:
    browser: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    clock: ShiftedClock
    app: Any

    def other_browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url=GATEWAY)

    async def start(self, org: uuid.UUID, provider: str = "slack") -> dict[str, Any]:
        started = await self.browser.post(
            f"/v1/orgs/{org}/integrations/{provider}/oauth/start",
            json={"shop": "acme.myshopify.com"} if provider == "shopify" else {},
            headers={"Authorization": f"Bearer {token(org)}"},
        )
        assert started.status_code == 201, started.text
        body: dict[str, Any] = started.json()
        return body

    async def authorize(self, auth_url: str) -> str:
        answer = await self.sandbox.get(auth_url)
        assert answer.status_code == 302, answer.text
        return str(answer.headers["location"])


async def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"only the trusted sandbox host may be reached, not {host}")


@pytest.fixture
async def gateway(
    request: pytest.FixtureRequest,
    hub_env: dict[str, str],
    kafka_bootstrap: str,
    store: str,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> AsyncIterator[Gateway]:
    settings = GatewaySettings(
        credential_keys=hub_env["CREDENTIAL_KEYS"],
        database_url=hub_env["DATABASE_URL"],
        database_migration_url=hub_env["DATABASE_MIGRATION_URL"],
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
        flow_ttl_s=TTL_S,
        expiry_interval_s=SWEEP_S,
        claim_grace_s=5,
    )
    if hasattr(request, "param"):  # a lifetime shorter than a deployment may set (60 s)
        settings = settings.model_copy(update={"flow_ttl_s": request.param})
    clock = ShiftedClock()
    app = create_app(
        settings,
        catalog=catalog,
        platform=PlatformCredentials(platform_environment(catalog)),
        outbound_transport=sandbox._transport,
        resolver=_no_dns,
        now=clock,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=GATEWAY) as browser,
    ):
        yield Gateway(browser, sandbox, clock, app)


async def view(store: str, org: uuid.UUID, provider: str = "slack") -> dict[str, Any]:
    """The store's view of the integration."""
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(
            f"{store}/v1/orgs/{org}/integrations/{provider}",
            headers={"Authorization": f"Bearer {token(org)}"},
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def settled(
    store: str, org: uuid.UUID, *, state: str, within: float = 20.0
) -> dict[str, Any]:
    """The store's view once its attempt is in ``state`` (or the last view, failing)."""
    deadline = time.monotonic() + within
    while True:
        found = await view(store, org)
        if (found.get("attempt") or {}).get("state") == state:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"attempt not {state} within {within} s: {found}")
        await asyncio.sleep(0.2)


def refused_with(answer: httpx.Response) -> str:
    """The reason a refused callback sends the browser back to the console with (a state we
    signed is refused with a 303 to the flow's return URL)."""
    assert answer.status_code == 303, answer.text
    result = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    assert result["status"] == "error"
    return result["reason"]


async def test_a_callback_after_the_flow_expired_fails_the_attempt(
    gateway: Gateway, store: str
) -> None:
    org = uuid.uuid4()
    location = await gateway.authorize((await gateway.start(org))["auth_url"])
    await settled(store, org, state="connecting")
    gateway.clock.offset = timedelta(seconds=TTL_S + 1)  # the person comes back too late
    refused = await gateway.browser.get(location)
    assert refused_with(refused) == "flow_expired"
    found = await settled(store, org, state="failed")
    assert found["attempt"]["reason"] == "flow_expired"
    assert "expired" in found["attempt"]["message"]
    assert found["status"] == "not_connected"
    assert found["next_step"] == "Connect Slack again in Settings → Integrations."


async def test_a_callback_in_another_browser_fails_the_attempt(
    gateway: Gateway, store: str
) -> None:
    org = uuid.uuid4()
    location = await gateway.authorize((await gateway.start(org))["auth_url"])
    async with gateway.other_browser() as other:
        refused = await other.get(location)
    assert refused_with(refused) == "browser_mismatch"
    found = await settled(store, org, state="failed")
    assert found["attempt"]["reason"] == "browser_mismatch"
    # The flow is over: the right browser cannot use it afterwards either.
    late = await gateway.browser.get(location)
    assert refused_with(late) == "flow_used"


async def test_a_denial_at_the_provider_fails_the_attempt(gateway: Gateway, store: str) -> None:
    org = uuid.uuid4()
    location = await gateway.authorize((await gateway.start(org))["auth_url"])
    parts = urlsplit(location)
    query = dict(parse_qsl(parts.query))
    denied = f"{parts.path}?{urlencode({'state': query['state'], 'error': 'access_denied'})}"
    answer = await gateway.browser.get(denied)
    assert answer.status_code == 303
    assert dict(parse_qsl(urlsplit(answer.headers["location"]).query))["reason"] == (
        "access_denied"
    )
    found = await settled(store, org, state="failed")
    assert found["attempt"]["reason"] == "access_denied"


@pytest.mark.parametrize("gateway", [SHORT_TTL_S], indirect=True)
async def test_an_abandoned_flow_ends_within_its_lifetime_and_one_sweep(
    gateway: Gateway, store: str
) -> None:
    org = uuid.uuid4()
    # Connected first: the abandoned reconnect must not hide the working connection.
    location = await gateway.authorize((await gateway.start(org))["auth_url"])
    assert (await gateway.browser.get(location)).status_code == 303
    deadline = time.monotonic() + 20
    while (await view(store, org))["status"] != "active":
        assert time.monotonic() < deadline, "never active"
        await asyncio.sleep(0.2)

    started = await gateway.start(org)  # and abandoned
    began = time.monotonic()
    found = await settled(store, org, state="failed", within=SHORT_TTL_S + SWEEP_S + 15)
    assert time.monotonic() - began < SHORT_TTL_S + SWEEP_S + 15
    assert found["attempt"]["reason"] == "flow_expired"
    assert found["status"] == "active"  # the reconnect never hid the connection
    assert found["next_step"] is None  # and it still works: nothing to do
    assert found["attempt"]["at"] is not None
    location = await gateway.authorize(started["auth_url"])
    late = await gateway.browser.get(location)
    assert refused_with(late) == "flow_expired"  # the swept flow cannot be used any more
    metrics = (await gateway.browser.get("/metrics")).text
    assert sample(metrics, "oauth_gateway_flows_expired_total", provider="slack") >= 1


@pytest.mark.parametrize("provider", ["slack", "meta_ads", "stripe_connect", "shopify"])
async def test_a_disconnect_withdraws_the_grant_at_the_provider(
    gateway: Gateway, store: str, provider: str
) -> None:
    org = uuid.uuid4()
    location = await gateway.authorize((await gateway.start(org, provider))["auth_url"])
    assert (await gateway.browser.get(location)).status_code == 303
    deadline = time.monotonic() + 20
    while (await view(store, org, provider))["status"] != "active":
        assert time.monotonic() < deadline, "never active"
        await asyncio.sleep(0.2)
    issued = (await gateway.sandbox.get(f"/_sandbox/{provider}/tokens")).json()
    assert not any(token["revoked"] for token in issued)

    async with httpx.AsyncClient(timeout=5) as client:
        gone = await client.delete(
            f"{store}/v1/orgs/{org}/integrations/{provider}",
            headers={"Authorization": f"Bearer {token(org)}"},
        )
    assert gone.status_code == 204
    deadline = time.monotonic() + 20
    while (await gateway.sandbox.get("/_sandbox/calls")).json()[provider].get("revocation") != 1:
        assert time.monotonic() < deadline, "no revocation at the provider"
        await asyncio.sleep(0.2)
    issued = (await gateway.sandbox.get(f"/_sandbox/{provider}/tokens")).json()
    access = [t for t in issued if t["kind"] == "access"]
    assert access[-1]["revoked"], "the connection's access token still works"
