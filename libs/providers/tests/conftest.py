"""The provider sandbox in memory as every provider, reached through the guarded transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hub_catalog import Catalog, load_catalog
from hub_providers import OutboundHttp
from provider_sandbox import SandboxSettings, create_app, platform_environment

SANDBOX = "http://sandbox.test"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(base_url_override=SANDBOX)


@pytest.fixture
def sandbox(catalog: Catalog) -> httpx.AsyncClient:
    """The sandbox's control API."""
    app = create_app(SandboxSettings(), catalog=load_catalog())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX)


@pytest.fixture
async def http(catalog: Catalog, sandbox: httpx.AsyncClient) -> AsyncIterator[OutboundHttp]:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"the sandbox host is trusted; nothing else may be resolved: {host}")

    outbound = OutboundHttp(catalog, transport=sandbox._transport, resolver=no_dns)
    yield outbound
    await sandbox.aclose()


def platform_values(catalog: Catalog, provider_id: str) -> dict[str, str]:
    environment = platform_environment(catalog)
    provider = catalog.get(provider_id)
    return {c.name: environment[c.env] for c in provider.platform_credentials}
