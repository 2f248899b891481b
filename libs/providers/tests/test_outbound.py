"""SECURITY.md 20: only allow-listed public hosts, no redirects, a deadline, a size cap."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hub_catalog import Catalog, load_catalog
from hub_providers import (
    OutboundHttp,
    OutboundPolicy,
    ProviderRejectedError,
    ProviderUnavailableError,
    ResponseTooLargeError,
    UnsafeDestinationError,
    raise_for_answer,
    send,
)

CATALOG = load_catalog()
SLACK = CATALOG.get("slack")
SHOPIFY = CATALOG.get("shopify")


def _outbound(
    handler: httpx.MockTransport | None = None,
    addresses: list[str] | None = None,
    **policy: float | int,
) -> OutboundHttp:
    async def resolver(host: str, port: int) -> list[str]:
        return addresses or ["93.184.216.34"]

    transport = handler or httpx.MockTransport(
        lambda request: httpx.Response(200, json={"ok": True})
    )
    return OutboundHttp(CATALOG, OutboundPolicy(**policy), transport=transport, resolver=resolver)  # type: ignore[arg-type]


async def _get(outbound: OutboundHttp, provider_id: str, url: str) -> httpx.Response:
    async with outbound.client(CATALOG.get(provider_id)) as client:
        return await client.get(url)


async def test_allow_listed_public_host_is_reached() -> None:
    answer = await _get(_outbound(), "slack", "https://slack.com/api/auth.test")
    assert answer.json() == {"ok": True}


@pytest.mark.parametrize(
    ("provider_id", "url"),
    [
        ("slack", "https://evil.example/api/auth.test"),
        ("slack", "https://slack.com.evil.example/api"),
        ("slack", "http://slack.com/api/auth.test"),
        ("shopify", "https://acme.myshopify.com.evil.example/admin"),
        ("shopify", "https://slack.com/api"),
    ],
)
async def test_hosts_outside_the_providers_allow_list_are_refused(
    provider_id: str, url: str
) -> None:
    with pytest.raises(UnsafeDestinationError):
        await _get(_outbound(), provider_id, url)


async def test_per_tenant_host_matching_the_pattern_is_reached() -> None:
    answer = await _get(_outbound(), "shopify", "https://acme.myshopify.com/admin/api")
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "192.168.1.1"]
)
async def test_allowed_host_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(UnsafeDestinationError, match="private address"):
        await _get(_outbound(addresses=[address]), "slack", "https://slack.com/api/auth.test")


async def test_redirects_are_not_followed() -> None:
    calls: list[str] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"location": "https://evil.example/steal"})

    outbound = _outbound(httpx.MockTransport(redirect))
    async with outbound.client(SLACK) as client:
        request = client.build_request("GET", "https://slack.com/api/auth.test")
        answer = await send(client, SLACK, request)
    assert calls == ["https://slack.com/api/auth.test"]
    with pytest.raises(ProviderRejectedError):
        raise_for_answer(SLACK, answer, None)


async def test_oversized_answers_are_cut_off() -> None:
    big = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 5000))
    with pytest.raises(ResponseTooLargeError):
        await _get(_outbound(big, max_response_bytes=1024), "slack", "https://slack.com/api")


async def test_a_slow_provider_hits_the_deadline() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    outbound = _outbound(httpx.MockTransport(slow), total_timeout_s=0.05)
    async with outbound.client(SLACK) as client:
        with pytest.raises(ProviderUnavailableError, match="did not answer"):
            await send(client, SLACK, client.build_request("GET", "https://slack.com/api"))


def test_configured_takes_the_services_limits_and_trusts_only_the_sandbox(catalog: Catalog) -> None:
    class Limits:
        outbound_connect_timeout_s = 1.5
        outbound_total_timeout_s = 7.0
        outbound_max_response_bytes = 4096

    http = OutboundHttp.configured(catalog, Limits())
    assert (
        http.policy.connect_timeout_s,
        http.policy.total_timeout_s,
        http.policy.max_response_bytes,
    ) == (1.5, 7.0, 4096)
    assert http.policy.trusted_hosts == frozenset({"sandbox.test"})
