"""The gateway in memory: its app with in-memory flows and events, the provider sandbox in
process behind the guarded transport, a clock the test moves, and a browser with a cookie jar."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from hub_catalog import Catalog, PlatformCredentials, load_catalog
from hub_contracts import Event
from hub_keyring import KeyRing, new_submission_key_spec
from oauth_gateway.app import create_app
from oauth_gateway.errors import PublishFailedError
from oauth_gateway.service import PendingFlow, Revocations
from oauth_gateway.settings import DEVELOPMENT_JWT_SECRET, GatewaySettings
from provider_sandbox import SandboxSettings, platform_environment
from provider_sandbox import create_app as create_sandbox

SANDBOX = "http://sandbox.test"
GATEWAY = "http://127.0.0.1:8101"
RETURN = "http://127.0.0.1:8100/settings/integrations"
E = TypeVar("E", bound=Event)


class Clock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class MemoryFlows:
    """``PendingFlows`` in memory; expiry judged by the test's clock, claim is atomic; what the
    outbox would hold goes to ``events`` (``Harness`` wires its ``MemoryEvents``)."""

    def __init__(self, clock: Clock, events: MemoryEvents | None = None) -> None:
        self.clock = clock
        self.events = events if events is not None else MemoryEvents()
        self.rows: dict[uuid.UUID, PendingFlow] = {}
        self.claimed: set[uuid.UUID] = set()
        self.consumed: set[uuid.UUID] = set()

    async def create(self, flow: PendingFlow, requested: Event) -> None:
        await self.events.publish(requested)
        self.rows[flow.flow_id] = flow

    async def claim(self, flow_id: uuid.UUID, provider: str) -> PendingFlow | None:
        flow = self.rows.get(flow_id)
        if (
            flow is None
            or flow.provider != provider
            or flow_id in self.claimed
            or flow_id in self.consumed
            or flow.expires_at <= self.clock()
        ):
            return None
        self.claimed.add(flow_id)
        return flow

    async def return_to(
        self, flow_id: uuid.UUID, organization_id: uuid.UUID, provider: str
    ) -> str | None:
        flow = self.rows.get(flow_id)
        if flow is None or flow.organization_id != organization_id or flow.provider != provider:
            return None
        return flow.return_to

    async def finish(self, flow: PendingFlow, result: Event) -> bool:
        if flow.flow_id in self.consumed:
            return False
        await self.events.publish(result)
        self.consumed.add(flow.flow_id)
        return True

    async def end(
        self, flow_id: uuid.UUID, provider: str, organization_id: uuid.UUID, result: Event
    ) -> bool:
        flow = self.rows.get(flow_id)
        if (
            flow is None
            or flow.provider != provider
            or flow.organization_id != organization_id
            or flow_id in self.consumed
        ):
            return False
        await self.events.publish(result)
        self.consumed.add(flow_id)
        return True

    async def expire(
        self, result: Callable[[PendingFlow], Event], *, limit: int, claim_grace_s: float
    ) -> int:
        due = [
            flow
            for flow in self.rows.values()
            if flow.flow_id not in self.consumed
            and flow.flow_id not in self.claimed
            and flow.expires_at <= self.clock()
        ][:limit]
        for flow in due:
            await self.events.publish(result(flow))
            self.consumed.add(flow.flow_id)
        return len(due)


class MemoryEvents:
    def __init__(self) -> None:
        self.published: list[Event] = []
        self.fail = False

    async def publish(self, event: Event) -> None:
        if self.fail:
            raise PublishFailedError()
        self.published.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.published if isinstance(event, kind)]


def new_key_spec() -> str:
    return "test1:" + base64.b64encode(os.urandom(32)).decode()


def token(
    org: uuid.UUID,
    scopes: str = "integrations:read integrations:write",
    secret: str = DEVELOPMENT_JWT_SECRET,
) -> str:
    claims = {
        "sub": "admin-1",
        "org": str(org),
        "scope": scopes,
        "exp": datetime.now(UTC) + timedelta(hours=1),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class Harness:
    app: Any
    browser: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    flows: MemoryFlows
    events: MemoryEvents
    clock: Clock
    ring: KeyRing
    catalog: Catalog
    settings: GatewaySettings
    org: uuid.UUID = field(default_factory=uuid.uuid4)
    extra_browsers: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(self.org)}"}

    def new_browser(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url=GATEWAY)
        self.extra_browsers.append(client)
        return client

    async def start(
        self, provider: str, browser: httpx.AsyncClient | None = None, **body: Any
    ) -> httpx.Response:
        if provider == "shopify":
            body.setdefault("shop", "acme.myshopify.com")
        return await (browser or self.browser).post(
            f"/v1/orgs/{self.org}/integrations/{provider}/oauth/start",
            json=body,
            headers=self.headers,
        )

    async def authorize(self, auth_url: str) -> str:
        """What the provider's authorize page sends the browser back to."""
        answer = await self.sandbox.get(auth_url)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    async def callback_url(self, provider: str, **body: Any) -> str:
        started = await self.start(provider, **body)
        assert started.status_code == 201, started.text
        return await self.authorize(started.json()["auth_url"])

    async def connect(self, provider: str, **body: Any) -> httpx.Response:
        return await self.browser.get(await self.callback_url(provider, **body))

    async def calls(self, provider: str) -> dict[str, int]:
        counts: dict[str, dict[str, int]] = (await self.sandbox.get("/_sandbox/calls")).json()
        return counts.get(provider, {})

    def revocations(self) -> Revocations:
        """The app's revocation use case, over the same catalog, ring and providers."""
        oauth = self.app.state.api.oauth
        return Revocations(
            catalog=oauth.catalog,
            platform=oauth.platform,
            ring=oauth.ring,
            providers=oauth.providers,
        )

    async def token_calls(self, provider: str) -> int:
        return (await self.calls(provider)).get("token", 0)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(base_url_override=SANDBOX)


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_sandbox(SandboxSettings(), catalog=load_catalog())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX) as client:
        yield client


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(
        credential_keys=new_key_spec(),
        submission_keys=new_submission_key_spec("s1"),
        migrate_on_start=False,
    )


async def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"only the trusted sandbox host may be reached, not {host}")


@pytest.fixture
async def gateway(
    catalog: Catalog, sandbox: httpx.AsyncClient, settings: GatewaySettings
) -> AsyncIterator[Harness]:
    clock = Clock()
    events = MemoryEvents()
    flows = MemoryFlows(clock, events)
    app = create_app(
        settings,
        catalog=catalog,
        platform=PlatformCredentials(platform_environment(catalog)),
        outbound_transport=sandbox._transport,
        resolver=_no_dns,
        flows=flows,
        events=events,
        now=clock,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=GATEWAY) as browser,
    ):
        harness = Harness(
            app=app,
            browser=browser,
            sandbox=sandbox,
            flows=flows,
            events=events,
            clock=clock,
            ring=KeyRing.from_spec(settings.credential_keys),
            catalog=catalog,
            settings=settings,
        )
        yield harness
        for client in harness.extra_browsers:
            await client.aclose()
