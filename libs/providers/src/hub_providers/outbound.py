"""Outbound HTTP that can only reach where the catalog says (SECURITY.md 20).

Every call to a provider goes through a ``GuardedTransport``:

- the request's host must be one the provider's allow-list names (patterns such as
  ``{shop}.myshopify.com`` included) or the configured sandbox host;
- the host must not resolve to a private, loopback, link-local or reserved address, unless it is
  the configured sandbox host (development and tests only);
- one deadline covers connecting, sending and reading; the answer is read up to a size cap;
- the connection goes to an address that was checked: ``PinnedTransport`` connects to the
  addresses the guard resolved (handed over in a context variable), never resolving the name
  again (no DNS rebinding between check and connect); TLS still verifies the name;
- redirects are never followed (clients are built with ``follow_redirects=False``), and TLS
  verification is never disabled.

Per-provider clients share one pooled transport, so the guard costs no connections.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore
import httpx
from hub_catalog import Catalog, HostNotAllowedError, Provider

from hub_providers.errors import ResponseTooLargeError, UnsafeDestinationError

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class OutboundPolicy:
    connect_timeout_s: float = 5.0
    total_timeout_s: float = 20.0
    max_response_bytes: int = 1024 * 1024
    trusted_hosts: frozenset[str] = frozenset()
    """Hosts exempt from the address check: only the sandbox, and only when configured."""


class OutboundLimits(Protocol):
    """The outbound limits a service's settings carry (``<SERVICE>_OUTBOUND_...``)."""

    outbound_connect_timeout_s: float
    outbound_total_timeout_s: float
    outbound_max_response_bytes: int


def policy_for(catalog: Catalog, **overrides: Any) -> OutboundPolicy:
    """The policy matching a catalog: its sandbox override host, if any, is trusted."""
    trusted: frozenset[str] = frozenset()
    if catalog.base_url_override is not None:
        host = urlsplit(catalog.base_url_override).hostname
        trusted = frozenset({host}) if host else frozenset()
    return OutboundPolicy(trusted_hosts=trusted, **overrides)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


_CHECKED: ContextVar[Mapping[str, tuple[str, ...]] | None] = ContextVar(
    "hub_outbound_checked", default=None
)
"""Host → the addresses ``GuardedTransport`` checked for it, for the request in flight."""


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked addresses of a host (in order), never by its name, except for the
    trusted sandbox host; a host nobody checked is refused."""

    def __init__(
        self, trusted_hosts: Iterable[str] = (), inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.trusted_hosts = frozenset(trusted_hosts)
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host in self.trusted_hosts:
            targets: tuple[str, ...] = (host,)
        else:
            targets = (_CHECKED.get() or {}).get(host, ())
        if not targets:
            raise httpcore.ConnectError(f"{host}: no checked address to connect to")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in targets:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not a provider")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's pooled transport over ``PinnedBackend``; TLS verification always on."""

    def __init__(
        self,
        trusted_hosts: Iterable[str] = (),
        *,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=True, retries=0, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=0,
            network_backend=PinnedBackend(trusted_hosts, network_backend),
        )


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks each request against one provider's allow-list, then delegates."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        catalog: Catalog,
        provider: Provider,
        policy: OutboundPolicy,
        resolver: Resolver = resolve,
    ) -> None:
        self.inner = inner
        self.catalog = catalog
        self.provider = provider
        self.policy = policy
        self.resolver = resolver

    async def _check(self, url: httpx.URL) -> list[str]:
        """The addresses the request may connect to (none to pin for a trusted host)."""
        host = url.host
        if host in self.policy.trusted_hosts:
            return []
        if url.scheme != "https":
            raise UnsafeDestinationError(self.provider.id, host, "plain http to a provider")
        try:
            self.catalog.check_host(self.provider, host)
        except HostNotAllowedError:
            raise UnsafeDestinationError(self.provider.id, host, "not in the allow-list") from None
        addresses = await self.resolver(host, url.port or 443)
        if not addresses or not all(_public(address) for address in addresses):
            raise UnsafeDestinationError(self.provider.id, host, "resolves to a private address")
        return addresses

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with asyncio.timeout(self.policy.total_timeout_s):
            addresses = await self._check(request.url)
            pinned = _CHECKED.set({**(_CHECKED.get() or {}), request.url.host: tuple(addresses)})
            try:
                response = await self.inner.handle_async_request(request)
                try:
                    body = await _read_capped(response, self.policy.max_response_bytes)
                finally:
                    await response.aclose()
            finally:
                _CHECKED.reset(pinned)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    async def aclose(self) -> None:
        """The inner transport is shared: it is closed by its owner, ``OutboundHttp``."""


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLargeError(limit)
    if response.is_stream_consumed:  # already in memory (e.g. an in-process transport)
        if len(response.content) > limit:
            raise ResponseTooLargeError(limit)
        return response.content
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class OutboundHttp:
    """Owns the pooled transport; hands out guarded clients, one provider each."""

    def __init__(
        self,
        catalog: Catalog,
        policy: OutboundPolicy | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.catalog = catalog
        self.policy = policy or policy_for(catalog)
        self.transport = transport or PinnedTransport(self.policy.trusted_hosts)
        self.resolver = resolver

    @classmethod
    def configured(
        cls,
        catalog: Catalog,
        limits: OutboundLimits,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
    ) -> OutboundHttp:
        """The guarded client with a service's timeouts and size cap from its settings."""
        policy = policy_for(
            catalog,
            connect_timeout_s=limits.outbound_connect_timeout_s,
            total_timeout_s=limits.outbound_total_timeout_s,
            max_response_bytes=limits.outbound_max_response_bytes,
        )
        return cls(catalog, policy, transport=transport, resolver=resolver)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.policy.total_timeout_s, connect=self.policy.connect_timeout_s)

    def guarded(self, provider: Provider) -> GuardedTransport:
        return GuardedTransport(self.transport, self.catalog, provider, self.policy, self.resolver)

    def client(self, provider: Provider) -> httpx.AsyncClient:
        """A client for one provider's calls; cheap, close it when done."""
        return httpx.AsyncClient(
            transport=self.guarded(provider), follow_redirects=False, timeout=self.timeout()
        )

    async def aclose(self) -> None:
        await self.transport.aclose()
