"""Fixtures: the provider sandbox in memory behind the guarded transport, a key ring, a
connection-store stand-in, a real SMTP server (aiosmtpd), and a migrated database per module."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from hub_catalog import Catalog, load_catalog
from hub_keyring import Binding, KeyRing, new_key_spec
from hub_localstack.processes import free_port
from hub_providers import OAuthClient, OutboundHttp
from notifier.adapters.database import PostgresDatabase, migrate
from notifier.domain.routing import BrandSlack, ConnectionFacts, Context, Recipients
from notifier.errors import DirectoryUnavailableError
from provider_sandbox import SandboxSettings, create_app, platform_environment

SANDBOX = "http://sandbox.test"
REDIRECT = "https://hub.example/v1/oauth/callback"
WEBHOOK = "https://hooks.slack.com/services/T0SANDBOX/B0SANDBOX/abcdef0123456789"
RESEND_KEY = "re_platform_0123456789abcdef"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(base_url_override=SANDBOX)


@pytest.fixture
def sandbox() -> httpx.AsyncClient:
    """The sandbox's control API (and its transport, shared with ``outbound``)."""
    app = create_app(SandboxSettings(access_log=False), catalog=load_catalog())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX)


@pytest.fixture
async def outbound(catalog: Catalog, sandbox: httpx.AsyncClient) -> AsyncIterator[OutboundHttp]:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"only the sandbox host may be reached: {host}")

    yield OutboundHttp(catalog, transport=sandbox._transport, resolver=no_dns)
    await sandbox.aclose()


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing.from_spec(new_key_spec("test1"))


async def connect(outbound: OutboundHttp, sandbox: httpx.AsyncClient, provider_id: str) -> str:
    """A token the sandbox issued for ``provider_id`` (authorize → code → exchange)."""
    provider = outbound.catalog.get(provider_id)
    environment = platform_environment(outbound.catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    client = OAuthClient(outbound, provider, values, redirect_uri=REDIRECT)
    verifier = secrets.token_urlsafe(48)
    redirect = await sandbox.get(client.authorization_url(state="s", code_verifier=verifier))
    code = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))[client.spec.code_param]
    tokens = await client.exchange_code(code, code_verifier=verifier)
    return tokens.access_token.get_secret_value()


def brand_slack(
    keyring: KeyRing, org: uuid.UUID, token: str, routing: dict[str, str] | None = None
) -> BrandSlack:
    sealed = keyring.encrypt(token, Binding(org, "slack", "access_token"))
    return BrandSlack(
        credential_version=1,
        access_token=sealed.model_dump(mode="json"),
        team="Brand HQ",
        channel_routing=routing if routing is not None else {"connection_needs_attention": "#ops"},
        default_channel="#general",
    )


@dataclass
class FakeDirectory:
    """connection-store's notification context, per organization, set by the test."""

    contexts: dict[uuid.UUID, Context] = field(default_factory=dict)
    down: bool = False
    calls: int = 0

    def set(
        self,
        org: uuid.UUID,
        *,
        slack: BrandSlack | None = None,
        recipients: tuple[str, ...] = (),
        account: str | None = "Brand Ads",
        version: int = 1,
        **settings: Any,
    ) -> None:
        self.contexts[org] = Context(
            recipients=Recipients(email_recipients=recipients, **settings),
            connection=ConnectionFacts(
                "meta_ads", "Meta Ads", "expired", account, credential_version=version
            ),
            slack=slack,
        )

    async def context(self, organization_id: uuid.UUID, provider: str) -> Context:
        self.calls += 1
        if self.down:
            raise DirectoryUnavailableError("connection-store did not answer: ConnectError")
        return self.contexts.get(organization_id, Context())


@dataclass
class SmtpHandler:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("rejected"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, SmtpHandler]]:
    """A real SMTP server (aiosmtpd, its own thread) on a free port; no TLS."""
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def migrated_database_url(owner_database_url: str, login_database_url: str) -> str:
    """Migrated by the owner role; the URL of the login role the notifier logs in as."""
    asyncio.run(migrate(owner_database_url))
    return login_database_url


@pytest.fixture
async def database(migrated_database_url: str) -> AsyncIterator[PostgresDatabase]:
    database = PostgresDatabase(migrated_database_url, pool_size=4)
    await database.open()
    try:
        yield database
    finally:
        await database.close()
