"""Helpers for the tests that run the refresher (and the store) as processes against the real
broker and the session's sandbox process."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, load_catalog
from hub_contracts import ContractError, Event, Topic, message_key, parse_event
from hub_keyring import KeyRing
from hub_localstack.services import ServiceProcess
from hub_providers import OAuthClient, OutboundHttp, TokenSet
from provider_sandbox import platform_environment

REDIRECT = "https://hub.example/v1/oauth/callback"
PARTITIONS = 6
"""Partitions of every hub topic (``hub_localstack.topics.create_topics``)."""


def sandbox_catalog(sandbox_url: str) -> Catalog:
    return load_catalog(base_url_override=sandbox_url)


def outbound_to(sandbox_url: str) -> OutboundHttp:
    return OutboundHttp(sandbox_catalog(sandbox_url))


def ring_of(env: Mapping[str, str]) -> KeyRing:
    return KeyRing.from_spec(env["CREDENTIAL_KEYS"])


async def connect_at(
    http: OutboundHttp,
    sandbox_url: str,
    provider_id: str,
    *,
    shop: str = "acme",
    browser: httpx.AsyncClient | None = None,
) -> TokenSet:
    """The OAuth flow of ``provider_id`` against the sandbox process. Many flows at once share
    one ``browser``: a client per flow costs its TLS context, and on a loaded machine those
    stalls add up to connect timeouts."""
    catalog = http.catalog
    provider = catalog.get(provider_id)
    environment = platform_environment(catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    client = OAuthClient(
        http, provider, values | dict.fromkeys(provider.tenant_params, shop), redirect_uri=REDIRECT
    )
    verifier = secrets.token_urlsafe(48)
    async with contextlib.AsyncExitStack() as stack:
        if browser is None:
            browser = await stack.enter_async_context(httpx.AsyncClient())
        page = await browser.get(client.authorization_url(state="s", code_verifier=verifier))
    assert page.status_code == 302, page.text
    code = dict(parse_qsl(urlsplit(page.headers["location"]).query))[client.spec.code_param]
    return await client.exchange_code(code, code_verifier=verifier)


async def sandbox_calls(sandbox_url: str) -> dict[str, dict[str, int]]:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        counts: dict[str, dict[str, int]] = (await client.get("/_sandbox/calls")).json()
    return counts


async def sandbox_fault(sandbox_url: str, provider_id: str, mode: str, **options: Any) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        answer = await client.post(
            f"/_sandbox/{provider_id}/faults", json={"mode": mode, **options}
        )
    assert answer.status_code == 200, answer.text


def token_calls(counts: Mapping[str, Mapping[str, int]], provider_id: str) -> int:
    """Token-endpoint calls other than code exchanges (faulted ones included)."""
    mine = counts.get(provider_id, {})
    return mine.get("token", 0) - mine.get("token.authorization_code", 0)


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[KafkaBroker]:
    broker = KafkaBroker(bootstrap, acks="all")
    async with broker:
        await broker.start()
        yield broker


async def read_topic(
    bootstrap: str,
    topic: Topic,
    *,
    until: Callable[[list[Event]], bool],
    timeout_s: float = 30.0,
    settle_s: float = 0.0,
) -> list[Event]:
    """Every event of ``topic`` from the beginning (no group), until ``until(events)`` holds,
    then ``settle_s`` more seconds for stragglers; raises ``TimeoutError``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.value, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        events: list[Event] = []
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while True:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for record in records:
                    with contextlib.suppress(ContractError):
                        events.append(parse_event(record.value or b"", topic=topic.value))
            now = time.monotonic()
            if settle_until is None and until(events):
                settle_until = now + settle_s
            if settle_until is not None and now >= settle_until:
                return events
            if now > deadline:
                raise TimeoutError(f"{topic.value}: condition not met; {len(events)} events read")
    finally:
        await consumer.stop()


def about(connection_ids: Iterable[uuid.UUID]) -> Callable[[Event], bool]:
    wanted = set(connection_ids)
    return lambda event: getattr(event, "connection_id", None) in wanted


def partition_of(organization_id: uuid.UUID, provider: str, partitions: int = PARTITIONS) -> int:
    """The partition the default partitioner picks for a connection's key."""
    return (murmur2(message_key(organization_id, provider)) & 0x7FFFFFFF) % partitions


def refresher(
    env: Mapping[str, str], log_dir: Path, name: str = "token-refresher", **settings: str
) -> ServiceProcess:
    return ServiceProcess(
        name,
        "token_refresher",
        {**env, **settings},
        port_variable="TOKEN_REFRESHER_PORT",
        log_dir=log_dir,
        health_path="/healthz",
    )


def readiness(process: ServiceProcess) -> dict[str, Any]:
    try:
        answer = httpx.get(f"{process.url}/readyz", timeout=2)
    except httpx.TransportError:
        return {"status": "down"}
    body: dict[str, Any] = answer.json()
    return body


def wait_for_group(processes: list[ServiceProcess], timeout_s: float = 30.0) -> list[list[int]]:
    """Wait until every process is ready and together they own each partition exactly once."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = [readiness(p) for p in processes]
        owned = [s.get("partitions", []) for s in states]
        flat = sorted(p for parts in owned for p in parts)
        if all(s.get("status") == "ready" for s in states) and flat == list(range(PARTITIONS)):
            return owned
        if time.monotonic() > deadline:
            raise TimeoutError(f"group not settled: {states}")
        time.sleep(0.1)


async def metrics_of(process: ServiceProcess) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{process.url}/metrics")).text


async def eventually(check: Callable[[], Any], *, timeout_s: float, every_s: float = 0.2) -> Any:
    """Await ``check()`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(every_s)
