"""SECURITY.md 20: only allow-listed public hosts, no redirects, a deadline, a size cap."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


async def test_the_connection_goes_to_the_checked_address_never_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No DNS rebinding between the check and the connect: the name is resolved once, by the
    guard's resolver; the socket is opened to the address it checked (the real transport)."""
    looked_up: list[str] = []
    system_lookup = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host.decode() if isinstance(host, bytes) else str(host))
        return system_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    checked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        checked.append(host)
        return ["192.0.0.9"]  # public per ipaddress; no TLS server for slack.com answers there

    outbound = OutboundHttp(CATALOG, OutboundPolicy(connect_timeout_s=1.0), resolver=resolver)
    try:
        with pytest.raises(httpx.TransportError):
            await _get_with(outbound, "slack", "https://slack.com/api/auth.test")
    finally:
        await outbound.aclose()
    assert checked == ["slack.com"]
    assert "slack.com" not in looked_up, looked_up


async def _get_with(outbound: OutboundHttp, provider_id: str, url: str) -> httpx.Response:
    async with outbound.client(CATALOG.get(provider_id)) as client:
        return await client.get(url, timeout=httpx.Timeout(2.0, connect=1.0))


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    """SECURITY 21: a provider answering with a certificate nobody trusts is never talked to,
    even on the sandbox's trusted host (the transport has no switch to turn verification off)."""
    cert_path, key_path = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    base = f"https://localhost:{port}"
    try:
        trusting = ssl.create_default_context(cafile=str(cert_path))
        async with httpx.AsyncClient(verify=trusting) as control:  # the server itself works
            assert (await control.get(f"{base}/api/auth.test")).text == "ok"
        catalog = load_catalog(base_url_override=base)
        outbound = OutboundHttp(catalog)
        try:
            async with outbound.client(catalog.get("slack")) as client:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(f"{base}/api/auth.test")
        finally:
            await outbound.aclose()
    finally:
        server.close()
        await server.wait_closed()
