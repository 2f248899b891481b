"""Issue 13, case 7: a key rotation while traffic flows, on the whole hub as processes (real
PostgreSQL, broker and sandbox), by the procedure of README "Operating it":

1. add the new key first (every service restarted with ``new,old``);
2. ``hubctl keys reencrypt`` while brands connect (OAuth and API keys), tokens refresh and
   notifications go out;
3. wait until ``hubctl lag`` shows 0, run ``hubctl keys reencrypt`` again, ``--dry-run`` shows 0;
4. drop the old key (every service restarted with ``new``).

Afterwards, with the old key gone: OAuth flows started under the old key finish (their
verifiers were re-encrypted), every connection refreshes and checks again, every notification
is delivered through the brand's own Resend key, no dead letter anywhere, and no table of the
database holds a ciphertext under the old key."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from hub_contracts import Topic, dlq_topic
from hub_localstack.run import SERVICES, run_extras
from hub_localstack.services import ServiceProcess

from .conftest import HUB, START_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

JWT_SECRET = "development-only-jwt-secret-change-me-0123456789"
RECIPIENT = "ops@brand.example"


def _token(org: uuid.UUID) -> str:
    claims = {
        "sub": "admin-1",
        "org": str(org),
        "scope": "integrations:read integrations:write",
        "exp": datetime.now(UTC) + timedelta(hours=1),
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _auth(org: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(org)}"}


@pytest.fixture(scope="module")
def hub(hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    logs = tmp_path_factory.mktemp("rotation-logs")
    env = {
        **hub_env,
        **run_extras(logs),
        "CONNECTION_STORE_SWEEP_INTERVAL_S": "0.3",
        "NOTIFIER_WORKER_INTERVAL_S": "0.2",
    }
    processes = {
        name: ServiceProcess(
            name,
            module,
            env,
            port_variable=SERVICES[name].port_variable,
            log_dir=logs,
            timeout=START_TIMEOUT_S,
        )
        for name, module in HUB.items()
    }
    processes["notifier"].env["NOTIFIER_STORE_URL"] = processes["connection-store"].url
    found = Hub(processes, env)
    try:
        found.restart(env["CREDENTIAL_KEYS"])
        yield found
    finally:
        for process in processes.values():
            process.stop()


class Hub:
    def __init__(self, processes: dict[str, ServiceProcess], env: dict[str, str]) -> None:
        self.processes = processes
        self.env = env

    @property
    def gateway(self) -> str:
        return self.processes["oauth-gateway"].url

    @property
    def store(self) -> str:
        return self.processes["connection-store"].url

    def restart(self, keys: str) -> None:
        """Every service with ``CREDENTIAL_KEYS=keys``, on the ports they had (all at once: a
        start costs seconds of imports on a loaded machine; requests meanwhile are retried)."""
        processes = list(self.processes.values())
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(lambda p: p.stop(), processes))
            for process in processes:
                process.env["CREDENTIAL_KEYS"] = keys
            list(pool.map(lambda p: p.start(), processes))

    def hubctl(self, keys: str, *args: str) -> str:
        ports = {SERVICES[n].port_variable: str(p.port) for n, p in self.processes.items()}
        done = subprocess.run(
            [sys.executable, "-m", "hubctl", *args],
            env={**self.env, **ports, "CREDENTIAL_KEYS": keys, "COLUMNS": "200", "TERM": "dumb"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout


async def _retrying(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """One request, retried while the service is restarting (connection refused): a rolling
    restart of one replica, not the rotation, is what refuses it."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return await call()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(httpx.TransportError):
            if found := await check():
                return found
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.3)


class Brand:
    """One organization: recipients, Resend by API key (its notifications go through it),
    Klaviyo by API key, Google Ads by OAuth."""

    def __init__(self, hub: Hub, http: httpx.AsyncClient) -> None:
        self.org = uuid.uuid4()
        self.hub = hub
        self.http = http
        self.browser = httpx.AsyncClient(timeout=30)
        """The brand admin's own browser, holding the gateway's browser-binding cookie: brands
        that connect at the same moment through one client would overwrite each other's."""
        self.klaviyo_key = f"pk_{uuid.uuid4().hex}"

    async def status(self, provider: str) -> dict[str, Any]:
        answer = await self.http.get(
            f"{self.hub.store}/v1/orgs/{self.org}/integrations/{provider}", headers=_auth(self.org)
        )
        body: dict[str, Any] = answer.json()
        return body

    async def until(self, provider: str, status: str) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            body = await self.status(provider)
            return body if body.get("status") == status else None

        found: dict[str, Any] = await _eventually(reached, f"{self.org} {provider} {status}")
        return found

    async def set_up(self) -> None:
        answer = await _retrying(
            lambda: self.http.patch(
                f"{self.hub.store}/v1/orgs/{self.org}/notifications",
                json={"email_recipients": [RECIPIENT]},
                headers=_auth(self.org),
            )
        )
        assert answer.status_code == 200, answer.text
        await self.typed("resend", {"api_key": f"re_{uuid.uuid4().hex}"})
        await self.typed(
            "klaviyo", {"private_api_key": self.klaviyo_key, "public_api_key": "AbC123"}
        )
        await self.oauth_connect()

    async def typed(self, provider: str, fields: dict[str, str]) -> None:
        answer = await _retrying(
            lambda: self.http.post(
                f"{self.hub.gateway}/v1/orgs/{self.org}/integrations/{provider}/credentials",
                json={"fields": fields},
                headers=_auth(self.org),
            )
        )
        assert answer.status_code == 201, answer.text
        await self.until(provider, "active")

    async def oauth_start(self) -> str:
        """The authorization URL of a Google Ads flow (its verifier sealed in ``oauth_flows``)."""
        started = await _retrying(
            lambda: self.browser.post(
                f"{self.hub.gateway}/v1/orgs/{self.org}/integrations/google_ads/oauth/start",
                json={},
                headers=_auth(self.org),
            )
        )
        assert started.status_code == 201, started.text
        url: str = started.json()["auth_url"]
        return url

    async def oauth_finish(self, auth_url: str) -> None:
        authorize = await self.browser.get(auth_url)
        assert authorize.status_code == 302, authorize.text
        callback = await _retrying(lambda: self.browser.get(authorize.headers["location"]))
        assert callback.status_code == 303, callback.text
        assert "status=connected" in callback.headers["location"], callback.headers["location"]
        await self.until("google_ads", "active")

    async def oauth_connect(self) -> None:
        await self.oauth_finish(await self.oauth_start())

    async def refresh(self, database_url: str) -> None:
        """Google Ads comes due; the sweep hands it to the refresher: one more version."""
        before = (await self.status("google_ads"))["credential_version"]
        db = await asyncpg.connect(database_url)
        try:
            await db.execute(
                "UPDATE integration_connections SET next_refresh_at = now() "
                "WHERE organization_id = $1 AND provider = 'google_ads'",
                self.org,
            )
        finally:
            await db.close()

        async def refreshed() -> bool:
            body = await self.status("google_ads")
            return body.get("status") == "active" and body["credential_version"] > before

        await _eventually(refreshed, f"{self.org} google_ads refreshed")

    async def notify(self, sandbox_url: str) -> None:
        """Klaviyo's key is revoked at the provider; Sync now finds out; the brand is emailed
        through its own Resend key (which the notifier decrypts)."""
        revoked = await self.http.post(
            f"{sandbox_url}/_sandbox/klaviyo/revoke", json={"token": self.klaviyo_key}
        )
        assert revoked.status_code == 200, revoked.text
        synced = await _retrying(
            lambda: self.http.post(
                f"{self.hub.store}/v1/orgs/{self.org}/integrations/klaviyo/sync",
                headers=_auth(self.org),
            )
        )
        assert synced.status_code == 202, synced.text
        await self.until("klaviyo", "expired")

    async def round(self, database_url: str, sandbox_url: str) -> None:
        await self.set_up()
        await self.refresh(database_url)
        await self.notify(sandbox_url)


async def _emails_sent(http: httpx.AsyncClient, sandbox_url: str) -> int:
    actions = (await http.get(f"{sandbox_url}/_sandbox/resend/actions")).json()
    return sum(1 for a in actions if RECIPIENT in str(a.get("body")) and "Klaviyo" in str(a))


async def _dead_letters(bootstrap: str) -> dict[str, int]:
    """Records on every dead-letter topic of the hub."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        found: dict[str, int] = {}
        for topic in Topic:
            name = dlq_topic(topic.value)
            partitions = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in partitions]
            if tps:
                ends = await consumer.end_offsets(tps)
                starts = await consumer.beginning_offsets(tps)
                found[name] = sum(ends[tp] - starts[tp] for tp in tps)
        return found
    finally:
        await consumer.stop()


async def _old_ciphertexts(database_url: str, old_key: str) -> dict[str, int]:
    """Every JSON column of every table in the database: ciphertexts under ``old_key``."""
    db = await asyncpg.connect(database_url)
    try:
        columns = await db.fetch(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('jsonb', 'json')"""
        )
        found: dict[str, int] = {}
        for column in columns:
            table, name = column["table_name"], column["column_name"]
            count = await db.fetchval(
                f'SELECT count(*) FROM "{table}" WHERE jsonb_path_exists("{name}"::jsonb, '  # noqa: S608
                "'$.** ? (exists(@.ciphertext) && @.key_id == $k)', "
                "jsonb_build_object('k', $1::text))",
                old_key,
            )
            found[f"{table}.{name}"] = count
        return found
    finally:
        await db.close()


def _total_pending(dry_run: str) -> int:
    match = re.search(r"^(\d+) rows hold an older key", dry_run, re.MULTILINE)
    assert match, dry_run
    return int(match[1])


@pytest.mark.timeout(1200)  # five services started three times; minutes on a loaded machine
async def test_rotation_under_traffic_then_the_old_key_is_dropped(
    hub: Hub, database_url: str, sandbox_url: str, kafka_bootstrap: str
) -> None:
    old = hub.env["CREDENTIAL_KEYS"]
    old_id = old.partition(":")[0]
    async with httpx.AsyncClient(timeout=30) as http:
        # Under the old key: brands connected, refreshed, notified; flows started, not finished.
        before = [Brand(hub, http) for _ in range(2)]
        await asyncio.gather(*(b.round(database_url, sandbox_url) for b in before))
        pending = [(b, await b.oauth_start()) for b in before]

        new = (await asyncio.to_thread(hub.hubctl, old, "keys", "new", "rotated2")).strip()
        both = f"{new},{old}"
        await asyncio.to_thread(hub.restart, both)  # 1. the new key first, everywhere

        during = [Brand(hub, http) for _ in range(3)]
        traffic = asyncio.gather(*(b.round(database_url, sandbox_url) for b in during))
        first = await asyncio.to_thread(hub.hubctl, both, "keys", "reencrypt")  # 2.
        assert "re-encrypted" in first, first
        await traffic

        async def drained() -> bool:  # 3.
            shown = await asyncio.to_thread(hub.hubctl, both, "lag")
            return "total lag 0" in shown

        await _eventually(drained, "consumer lag drained", within=120)
        await asyncio.to_thread(hub.hubctl, both, "keys", "reencrypt")
        dry_run = await asyncio.to_thread(hub.hubctl, both, "keys", "reencrypt", "--dry-run")
        assert _total_pending(dry_run) == 0, dry_run

        await asyncio.to_thread(hub.restart, new)  # 4. the old key dropped

        # Flows started under the old key finish; everyone refreshes and is checked again.
        for brand, auth_url in pending:
            await brand.oauth_finish(auth_url)
        everyone = before + during
        await asyncio.gather(*(b.refresh(database_url) for b in everyone))
        after = Brand(hub, http)
        await after.round(database_url, sandbox_url)
        everyone.append(after)

        for brand in everyone:
            assert (await brand.status("resend"))["status"] == "active"
            assert (await brand.status("google_ads"))["status"] == "active"
            assert (await brand.status("klaviyo"))["status"] == "expired"

        async def all_emailed() -> bool:
            return await _emails_sent(http, sandbox_url) >= len(everyone)

        await _eventually(all_emailed, "every brand emailed about Klaviyo")
        await asyncio.gather(*(b.browser.aclose() for b in everyone))

    dead = await _dead_letters(kafka_bootstrap)
    assert not any(dead.values()), dead
    leftovers = {k: v for k, v in (await _old_ciphertexts(database_url, old_id)).items() if v}
    assert leftovers == {}, leftovers
    logs = "".join(p.log_path.read_text(errors="replace") for p in hub.processes.values())
    assert "cannot be decrypted" not in logs
