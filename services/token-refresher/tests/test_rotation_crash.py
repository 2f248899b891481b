"""Issue 13, case 2: a refresher killed (SIGKILL) right after a rotating provider answered, before
``token.refreshed`` was published, then restarted. The answer was journaled first, so after the
restart the store holds the rotated refresh token, the connection stays active, and the
provider saw exactly one token call (none with the old, now invalid, refresh token).

The kill comes from the fault-injection hook (``TOKEN_REFRESHER_FAULT_INJECTION``, refused in
production); the store and both refreshers are processes on the real broker and PostgreSQL, the
sandbox process plays Shopify and Slack."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    Credentials,
    EncryptedCredential,
    connection_id,
)
from hub_keyring import Binding
from hub_localstack.services import ServiceProcess
from hub_providers import OAuthClient, OutboundHttp, TokenSet
from hub_providers.errors import CredentialRevokedError
from hub_runtime import publish_event
from hub_runtime.metrics import sample
from provider_sandbox import platform_environment
from pydantic import ValidationError
from token_refresher.settings import RefresherSettings

from .stack import (
    PARTITIONS,
    connect_at,
    eventually,
    metrics_of,
    outbound_to,
    partition_of,
    producer,
    readiness,
    refresher,
    ring_of,
    sandbox_calls,
    token_calls,
    wait_for_group,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REDIRECT = "https://hub.example/v1/oauth/callback"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rotation-crash")


@pytest.fixture(scope="module")
def store(hub_env: dict[str, str], logs: Path) -> Iterator[ServiceProcess]:
    with ServiceProcess(
        "connection-store",
        "connection_store",
        {**hub_env, "CONNECTION_STORE_SWEEP_INTERVAL_S": "0.3"},
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    ) as process:
        yield process


async def _row(database_url: str, connection: uuid.UUID) -> asyncpg.Record | None:
    db = await asyncpg.connect(database_url)
    try:
        row: asyncpg.Record | None = await db.fetchrow(
            """SELECT status, credential_version, refresh_token_encrypted::text AS refresh
               FROM integration_connections WHERE id = $1""",
            connection,
        )
    finally:
        await db.close()
    return row


async def _journaled(database_url: str, connection: uuid.UUID) -> int:
    """Renewals of ``connection`` in the journal, published or not."""
    db = await asyncpg.connect(database_url)
    try:
        count: int = await db.fetchval(
            """SELECT count(*) FROM token_refresher_journal
               WHERE payload->>'connection_id' = $1 AND payload->>'event_type' = 'token.refreshed'
                 AND (payload->>'credential_version')::int = 2""",
            str(connection),
        )
    finally:
        await db.close()
    return count


async def _unsent_journal(database_url: str) -> int:
    db = await asyncpg.connect(database_url)
    try:
        count: int = await db.fetchval(
            "SELECT count(*) FROM token_refresher_journal WHERE sent_at IS NULL"
        )
    finally:
        await db.close()
    return count


def _wait_exit(process: ServiceProcess, timeout_s: float) -> int:
    assert process.process is not None
    deadline = time.monotonic() + timeout_s
    while (code := process.process.poll()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.name} still running")
        time.sleep(0.05)
    return code


@dataclass
class _Connection:
    provider_id: str
    tokens: TokenSet
    established: ConnectionEstablishedV1
    calls_before: int


async def _connect(
    http: OutboundHttp,
    sandbox_url: str,
    hub_env: dict[str, str],
    provider_id: str,
    tokens: TokenSet,
    partitions: Collection[int] = range(PARTITIONS),
) -> _Connection:
    """A connection of ``provider_id`` whose token is due at once (issued 58 minutes ago), of an
    organization whose key lands on one of ``partitions``."""
    assert tokens.refresh_token is not None
    org = uuid.uuid4()
    while partition_of(org, provider_id) not in partitions:
        org = uuid.uuid4()
    ring = ring_of(hub_env)

    def seal(name: str, value: Any) -> EncryptedCredential:
        return ring.encrypt(value, Binding(org, provider_id, name))

    provider = http.catalog.get(provider_id)
    established = ConnectionEstablishedV1(
        organization_id=org,
        provider=provider_id,
        connection_id=connection_id(org, provider_id),
        auth_type="oauth2_authorization_code",
        credentials=Credentials(
            access_token=seal("access_token", tokens.access_token),
            refresh_token=seal("refresh_token", tokens.refresh_token),
        ),
        occurred_at=datetime.now(UTC) - timedelta(minutes=58),
        token_expires_at=datetime.now(UTC) + timedelta(minutes=2),
        scopes=tokens.scopes,
        account=Account(id="acct-1", name="Acme"),
        metadata=dict.fromkeys(provider.tenant_params, "acme"),
    )
    calls = token_calls(await sandbox_calls(sandbox_url), provider_id)
    return _Connection(provider_id, tokens, established, calls)


async def _killed_after_answer(
    connection: _Connection,
    process: ServiceProcess,
    *,
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
    alone: bool,
) -> None:
    """Publish the connection, let the sweep hand it to ``process`` (fault injection on), and
    check it died right after the provider answered: one call, the answer journaled (and, with no
    other replica running, in the journal only)."""
    async with producer(kafka_bootstrap) as bus:
        await publish_event(bus, connection.established)
    assert await asyncio.to_thread(_wait_exit, process, 30) == -signal.SIGKILL
    row = await _row(database_url, connection.established.connection_id)
    assert row is not None
    assert await _journaled(database_url, connection.established.connection_id) == 1
    if alone:  # nobody left to publish it
        assert row["credential_version"] == 1
        assert await _unsent_journal(database_url) == 1
    else:  # a running replica's relay may already have published the journaled answer
        assert row["credential_version"] in (1, 2)
    calls = token_calls(await sandbox_calls(sandbox_url), connection.provider_id)
    assert calls - connection.calls_before == 1


async def _rotated(database_url: str, connection: _Connection) -> asyncpg.Record:
    async def at_version_2() -> asyncpg.Record | None:
        found = await _row(database_url, connection.established.connection_id)
        return found if found and found["credential_version"] == 2 else None

    row: asyncpg.Record = await eventually(at_version_2, timeout_s=30)
    return row


async def _dropped_redelivery(provider_id: str, *processes: ServiceProcess) -> None:
    """One of ``processes`` read the dead refresher's uncommitted ``token.expiring`` again and
    dropped it as settled (the journaled answer was projected first), calling nobody."""

    async def stale() -> bool:
        texts = [await metrics_of(p) for p in processes]
        counts = [
            sample(t, "token_refresher_events_total", provider=provider_id, outcome="stale")
            for t in texts
        ]
        return sum(counts) >= 1

    await eventually(stale, timeout_s=30)


async def _check(
    connection: _Connection,
    row: asyncpg.Record,
    http: OutboundHttp,
    hub_env: dict[str, str],
    sandbox_url: str,
) -> None:
    """Active, one token call, and the stored refresh token is the rotated one: the provider
    accepts it and refuses the old one."""
    provider_id = connection.provider_id
    assert row["status"] == "active"
    assert row["credential_version"] == 2
    calls = token_calls(await sandbox_calls(sandbox_url), provider_id) - connection.calls_before
    assert calls == 1, f"{provider_id} saw {calls} token calls"
    org = connection.established.organization_id
    stored = EncryptedCredential.model_validate_json(row["refresh"])
    rotated = ring_of(hub_env).decrypt(stored, Binding(org, provider_id, "refresh_token"))
    old = connection.tokens.refresh_token
    assert old is not None
    assert rotated.get_secret_value() != old.get_secret_value()
    provider = http.catalog.get(provider_id)
    environment = platform_environment(http.catalog)
    client = OAuthClient(
        http,
        provider,
        {c.name: environment[c.env] for c in provider.platform_credentials}
        | dict.fromkeys(provider.tenant_params, "acme"),
        redirect_uri=REDIRECT,
    )
    with pytest.raises(CredentialRevokedError):
        await client.refresh(old)
    assert (await client.refresh(rotated)).access_token


async def test_sigkill_after_the_provider_answered_keeps_the_rotated_token(
    store: ServiceProcess,
    hub_env: dict[str, str],
    logs: Path,
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
) -> None:
    """Shopify: the only refresher dies after the answer and is restarted (its successor
    publishes the journaled answer on start). Slack: of two running refreshers, the owner of the
    connection's partition dies after the answer; the other takes the partition over only once
    the journal is drained. Each drops the redelivered ``token.expiring`` of the dead one."""
    kill = {"TOKEN_REFRESHER_FAULT_INJECTION": "kill_after_provider_answer"}
    # Its relay ticks once at start, then never again in this test: the kill always comes
    # before its own publication (a tick could otherwise slip in as the journal's connection
    # goes back to the pool), so only the restarted process can publish the answer.
    idle_relay = {"TOKEN_REFRESHER_JOURNAL_INTERVAL_S": "600"}
    alone = refresher(hub_env, logs, "token-refresher-killed-at-shopify", **kill, **idle_relay)
    owner = refresher(hub_env, logs, "token-refresher-killed-at-slack", **kill)
    survivor = refresher(hub_env, logs, "token-refresher-survivor")
    where = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap}
    http = outbound_to(sandbox_url)
    try:
        _, shopify_tokens, slack_tokens = await asyncio.gather(
            asyncio.to_thread(alone.start),
            connect_at(http, sandbox_url, "shopify"),
            connect_at(http, sandbox_url, "slack"),
        )
        shopify = await _connect(http, sandbox_url, hub_env, "shopify", shopify_tokens)
        await _killed_after_answer(shopify, alone, sandbox_url=sandbox_url, alone=True, **where)

        await asyncio.gather(asyncio.to_thread(owner.start), asyncio.to_thread(survivor.start))
        await asyncio.to_thread(wait_for_group, [owner, survivor])
        shopify_row = await _rotated(database_url, shopify)
        await _dropped_redelivery("shopify", owner, survivor)

        owned = readiness(owner)["partitions"]
        slack = await _connect(http, sandbox_url, hub_env, "slack", slack_tokens, owned)
        await _killed_after_answer(slack, owner, sandbox_url=sandbox_url, alone=False, **where)
        slack_row = await _rotated(database_url, slack)
        await asyncio.to_thread(wait_for_group, [survivor])  # took the dead owner's partitions
        await _dropped_redelivery("slack", survivor)
        await _check(shopify, shopify_row, http, hub_env, sandbox_url)
        await _check(slack, slack_row, http, hub_env, sandbox_url)
        assert await _unsent_journal(database_url) == 0
    finally:
        for process in (survivor, owner, alone):
            process.stop()
        await http.aclose()


def test_fault_injection_is_refused_in_production(hub_env: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="FAULT_INJECTION"):
        RefresherSettings(
            credential_keys=hub_env["CREDENTIAL_KEYS"],
            environment="production",
            fault_injection="kill_after_provider_answer",
        )
