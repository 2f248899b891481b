"""The monitor against the provider sandbox in memory (every catalog provider), with a real key
ring, the real prober and guarded transport, and a publisher that records what was reported."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from health_monitor.adapters.prober import ProviderProber
from health_monitor.domain import Plan, plan
from health_monitor.service import HealthMonitor, Policy
from hub_catalog import AuthMode, Catalog, PlatformCredentials, Provider, load_catalog
from hub_contracts import ConnectionCheckDueV1, ConnectionCheckedV1, Credentials, Event
from hub_keyring import Binding, KeyRing
from hub_providers import OAuthClient, OutboundHttp
from provider_sandbox import SandboxSettings, create_app, example_value, platform_environment

SANDBOX = "http://sandbox.test"
REDIRECT = "https://hub.example/v1/oauth/callback"
SHOP = "acme"
CATALOG = load_catalog()
TENANT = [p.id for p in CATALOG.tenant_providers()]
PROVED = [p.id for p in CATALOG.tenant_providers() if plan(p, p.auth) != Plan.SHAPE]
BEST_EFFORT = [p.id for p in CATALOG.tenant_providers() if plan(p, p.auth) == Plan.SHAPE]


@dataclass
class Recorder:
    """The publisher port: keeps every reported transition in ``events``, every
    ``connection.checked`` in ``checked``."""

    events: list[Event] = field(default_factory=list)
    checked: list[ConnectionCheckedV1] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        if isinstance(event, ConnectionCheckedV1):
            self.checked.append(event)
        else:
            self.events.append(event)


@dataclass
class Sleeps:
    """``sleep`` without waiting: records the delays asked for."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(base_url_override=SANDBOX)


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing([("test1", os.urandom(32))])


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's control API (and its transport, which the monitor's calls go through)."""
    app = create_app(SandboxSettings(), catalog=CATALOG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX) as client:
        yield client


@pytest.fixture
async def outbound(catalog: Catalog, sandbox: httpx.AsyncClient) -> OutboundHttp:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"only the trusted sandbox host may be called, not {host}")

    return OutboundHttp(catalog, transport=sandbox._transport, resolver=no_dns)


@pytest.fixture
def platform(catalog: Catalog) -> PlatformCredentials:
    return PlatformCredentials(platform_environment(catalog))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MonitorFactory = Callable[..., HealthMonitor]


@pytest.fixture
def make_monitor(
    catalog: Catalog,
    keyring: KeyRing,
    platform: PlatformCredentials,
    outbound: OutboundHttp,
    recorder: Recorder,
    sleeps: Sleeps,
) -> MonitorFactory:
    def make(**policy: Any) -> HealthMonitor:
        return HealthMonitor(
            catalog,
            keyring,
            platform,
            ProviderProber(outbound),
            recorder,
            policy=Policy(**policy),
            sleep=sleeps,
        )

    return make


@pytest.fixture
def monitor(make_monitor: MonitorFactory) -> HealthMonitor:
    return make_monitor()


async def connect(
    outbound: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient, provider: Provider
) -> dict[str, str]:
    """The credential a connection in the provider's default mode holds once connected: an
    OAuth access token issued by the sandbox, or values of the fields' shape."""
    mode = provider.auth
    if mode.oauth is None:
        return {field.name: example_value(field) for field in mode.fields}
    environment = platform_environment(catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    client = OAuthClient(
        outbound,
        provider,
        values | dict.fromkeys(provider.tenant_params, SHOP),
        redirect_uri=REDIRECT,
    )
    verifier = secrets.token_urlsafe(48)
    page = await sandbox.get(client.authorization_url(state="s", code_verifier=verifier))
    assert page.status_code == 302, page.text
    code = dict(parse_qsl(urlsplit(page.headers["location"]).query))[mode.oauth.code_param]
    tokens = await client.exchange_code(code, code_verifier=verifier)
    return {"access_token": tokens.access_token.get_secret_value()}


def due(
    keyring: KeyRing,
    provider: Provider,
    values: dict[str, str],
    *,
    status: str = "active",
    last_error_code: str | None = None,
    organization_id: uuid.UUID | None = None,
    mode: AuthMode | None = None,
    trigger: str = "scheduled",
    credential_version: int = 1,
) -> ConnectionCheckDueV1:
    """A ``connection.check_due`` as the store's sweep emits it: every value encrypted, bound
    to its organization, provider and field."""
    org = organization_id or uuid.uuid4()
    mode = mode or provider.auth

    def seal(name: str) -> Any:
        return keyring.encrypt(values[name], Binding(org, provider.id, name))

    tokens = {name: seal(name) for name in ("access_token", "refresh_token") if name in values}
    fields = {name: seal(name) for name in values if name not in tokens}
    return ConnectionCheckDueV1.model_validate(
        {
            "organization_id": org,
            "provider": provider.id,
            "connection_id": uuid.uuid4(),
            "credential_version": credential_version,
            "auth_type": mode.type.value,
            "trigger": trigger,
            "status": status,
            "last_error_code": last_error_code,
            "credentials": Credentials(**tokens, fields=fields),
            "metadata": dict.fromkeys(provider.tenant_params, f"{SHOP}.myshopify.com"),
        }
    )


async def fault(sandbox: httpx.AsyncClient, provider_id: str, mode: str, **options: Any) -> None:
    answer = await sandbox.post(f"/_sandbox/{provider_id}/faults", json={"mode": mode, **options})
    assert answer.status_code == 200, answer.text


async def calls(sandbox: httpx.AsyncClient, provider_id: str) -> dict[str, int]:
    counts: dict[str, dict[str, int]] = (await sandbox.get("/_sandbox/calls")).json()
    return counts.get(provider_id, {})


Connect = Callable[[str], Awaitable[tuple[Provider, dict[str, str]]]]


@pytest.fixture
def connected(outbound: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient) -> Connect:
    async def make(provider_id: str) -> tuple[Provider, dict[str, str]]:
        provider = catalog.get(provider_id)
        return provider, await connect(outbound, catalog, sandbox, provider)

    return make
