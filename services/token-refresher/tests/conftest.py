"""The refresher against the provider sandbox in memory (every catalog provider), with a real key
ring, the real ``ProviderTokens`` and guarded transport, a sink that records what was published,
and a fake clock for backoff and rate-limit waits."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hub_catalog import AuthMode, AuthType, Catalog, PlatformCredentials, Provider, load_catalog
from hub_contracts import Credentials, Event, TokenExpiringV1
from hub_keyring import Binding, KeyRing
from hub_providers import OAuthClient, OutboundHttp, TokenSet
from provider_sandbox import SandboxSettings, create_app, example_value, platform_environment
from token_refresher.adapters.token_source import ProviderTokens
from token_refresher.domain import SettledVersions
from token_refresher.metrics import Metrics
from token_refresher.service import CallLimits, Policy, Refresher, TokenSource

SANDBOX = "http://sandbox.test"
REDIRECT = "https://hub.example/v1/oauth/callback"
SHOP = "acme"
CATALOG = load_catalog()


@dataclass
class Recorder:
    """The sink port: keeps every published event; can be told to fail."""

    events: list[Event] = field(default_factory=list)
    fail: BaseException | None = None

    async def publish(self, event: Event) -> None:
        if self.fail is not None:
            raise self.fail
        self.events.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@dataclass
class FakeClock:
    """Monotonic time that moves only when the refresher sleeps; records the sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[float], Any] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            result = self.on_sleep(seconds)
            if asyncio.iscoroutine(result):
                await result
        await asyncio.sleep(0)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(base_url_override=SANDBOX)


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    return KeyRing([("test1", os.urandom(32))])


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's control API; the refresher's calls go through the same transport."""
    app = create_app(SandboxSettings(), catalog=CATALOG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX) as client:
        yield client


async def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"only the trusted sandbox host may be called, not {host}")


@pytest.fixture
def outbound(catalog: Catalog, sandbox: httpx.AsyncClient) -> OutboundHttp:
    return OutboundHttp(catalog, transport=sandbox._transport, resolver=_no_dns)


@pytest.fixture
def platform(catalog: Catalog) -> PlatformCredentials:
    return PlatformCredentials(platform_environment(catalog))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


RefresherFactory = Callable[..., Refresher]


@pytest.fixture
def make_refresher(
    catalog: Catalog,
    ring: KeyRing,
    platform: PlatformCredentials,
    outbound: OutboundHttp,
    recorder: Recorder,
    clock: FakeClock,
) -> RefresherFactory:
    def make(
        *,
        tokens: TokenSource | None = None,
        max_concurrency: int = 8,
        per_provider_concurrency: int = 4,
        real_time: bool = False,
        **policy: Any,
    ) -> Refresher:
        time_source = None if real_time else clock
        limits = CallLimits(
            max_concurrency=max_concurrency,
            per_provider_concurrency=per_provider_concurrency,
            **({"clock": time_source} if time_source else {}),
        )
        extra: dict[str, Any] = {} if real_time else {"sleep": clock.sleep, "clock": clock}
        return Refresher(
            catalog=catalog,
            tokens=tokens or ProviderTokens(outbound, ring, platform),
            sink=recorder,
            limits=limits,
            settled=SettledVersions(),
            metrics=Metrics(),
            policy=Policy(**policy),
            **extra,
        )

    return make


@pytest.fixture
def refresher(make_refresher: RefresherFactory) -> Refresher:
    return make_refresher()


def oauth_mode(provider: Provider) -> AuthMode:
    return provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE)


async def connect(
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
    provider_id: str,
) -> TokenSet:
    """Run the provider's OAuth flow against the sandbox: the tokens a new connection holds."""
    provider = catalog.get(provider_id)
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
    code = dict(parse_qsl(urlsplit(page.headers["location"]).query))[client.spec.code_param]
    return await client.exchange_code(code, code_verifier=verifier)


def typed_fields(provider: Provider, mode: AuthMode | None = None) -> dict[str, str]:
    """Values of the mode's fields that the sandbox accepts (re-mint providers)."""
    return {f.name: example_value(f) for f in (mode or provider.auth).fields}


def expiring(
    ring: KeyRing,
    provider: Provider,
    *,
    mode: AuthMode | None = None,
    tokens: TokenSet | None = None,
    fields: dict[str, str] | None = None,
    organization_id: uuid.UUID | None = None,
    connection_id: uuid.UUID | None = None,
    version: int = 1,
    expires_in_s: float | None = 300,
    metadata: dict[str, Any] | None = None,
    with_credentials: bool = True,
    ring_for_sealing: KeyRing | None = None,
) -> TokenExpiringV1:
    """A ``token.expiring`` as the store's sweep emits it: each value sealed for its field."""
    org = organization_id or uuid.uuid4()
    mode = mode or provider.auth
    sealer = ring_for_sealing or ring

    def seal(name: str, value: str) -> Any:
        return sealer.encrypt(value, Binding(org, provider.id, name))

    credentials = None
    if with_credentials:
        credentials = Credentials(
            access_token=seal("access_token", tokens.access_token.get_secret_value())
            if tokens
            else None,
            refresh_token=seal("refresh_token", tokens.refresh_token.get_secret_value())
            if tokens and tokens.refresh_token
            else None,
            fields={name: seal(name, value) for name, value in (fields or {}).items()},
        )
    return TokenExpiringV1(
        organization_id=org,
        provider=provider.id,
        connection_id=connection_id or uuid.uuid4(),
        credential_version=version,
        auth_type=mode.type.value,
        refresh_strategy=mode.refresh.value,
        token_expires_at=(
            datetime.now(UTC) + timedelta(seconds=expires_in_s)
            if expires_in_s is not None
            else None
        ),
        credentials=credentials,
        metadata=metadata if metadata is not None else dict.fromkeys(provider.tenant_params, SHOP),
    )


async def fault(sandbox: httpx.AsyncClient, provider_id: str, mode: str, **options: Any) -> None:
    answer = await sandbox.post(f"/_sandbox/{provider_id}/faults", json={"mode": mode, **options})
    assert answer.status_code == 200, answer.text


async def calls(sandbox: httpx.AsyncClient, provider_id: str) -> dict[str, int]:
    counts: dict[str, dict[str, int]] = (await sandbox.get("/_sandbox/calls")).json()
    return counts.get(provider_id, {})


async def refresh_calls(sandbox: httpx.AsyncClient, provider_id: str) -> int:
    """Calls of the token endpoint other than code exchanges, faulted ones included (the
    sandbox counts a faulted call as ``token`` only, before reading its grant)."""
    counts = await calls(sandbox, provider_id)
    return counts.get("token", 0) - counts.get("token.authorization_code", 0)
