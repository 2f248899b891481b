"""The prober adapter raises only ``hub_providers.errors``: what the library leaves unmapped
(a tenant host the catalog refuses, a DNS failure) is mapped here; a proof returns nothing."""

from __future__ import annotations

import socket

import httpx
import pytest
from health_monitor.adapters.prober import ProviderProber
from health_monitor.domain import Plan
from hub_catalog import load_catalog
from hub_providers import OutboundHttp
from hub_providers.errors import ProviderUnavailableError, UnsafeDestinationError

CATALOG = load_catalog()  # real provider hosts, no sandbox override
RESEND = CATALOG.get("resend")
SHOPIFY = CATALOG.get("shopify")


def _prober(
    resolve_to: list[str] | OSError, seen: list[httpx.Request] | None = None
) -> ProviderProber:
    async def resolver(host: str, port: int) -> list[str]:
        if isinstance(resolve_to, OSError):
            raise resolve_to
        return resolve_to

    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, json={"data": []})

    transport = httpx.MockTransport(answer)
    return ProviderProber(OutboundHttp(CATALOG, transport=transport, resolver=resolver))


async def test_a_proof_raises_nothing() -> None:
    seen: list[httpx.Request] = []
    prober = _prober(["93.184.216.34"], seen)

    await prober.probe(RESEND, RESEND.auth, Plan.REQUEST, {"api_key": "re_" + "k" * 20})

    assert [request.url.host for request in seen] == ["api.resend.com"]


async def test_a_tenant_host_outside_the_allow_list_is_an_unsafe_destination() -> None:
    prober = _prober(["93.184.216.34"])
    with pytest.raises(UnsafeDestinationError):
        await prober.probe(
            SHOPIFY,
            SHOPIFY.auth,
            Plan.REQUEST,
            {"access_token": "shpat_" + "t" * 20, "shop": "acme.evil.example"},
        )


async def test_a_name_that_does_not_resolve_is_no_answer() -> None:
    prober = _prober(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    with pytest.raises(ProviderUnavailableError) as caught:
        await prober.probe(RESEND, RESEND.auth, Plan.REQUEST, {"api_key": "re_" + "k" * 20})
    assert caught.value.status_code is None
