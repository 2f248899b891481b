"""End to end, as processes: connection-store, health-monitor and the notifier on the real
PostgreSQL and broker, the provider sandbox process playing Meta, Slack and Resend, and a real
SMTP server (aiosmtpd) for the fallback.

- A brand's Meta token is revoked at the provider; a due check finds it (health-monitor) → one
  Slack message to the routed channel and one email (the brand's own Resend), each naming Meta
  Ads and the reconnect step; three more sweeps and repeated verdicts → nothing new; a reconnect
  (``connection.established``) → one recovery message, the Slack alert updated in place.
- A brand without Slack gets email only (SMTP); one with neither gets nothing, and the log and
  ``/metrics`` say so.
- Slack answering 429 then 200 → one message. The notifier killed while its Slack and Resend
  requests are in flight (sent, result not committed) and started again → still one message and
  one email: the delivery records say uncertain (Slack, not repeated) and sent (Resend, repeated
  under the same Idempotency-Key, which the sandbox de-duplicates).
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import httpx
import pytest
from hub_catalog import load_catalog
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionUnhealthyV1,
    Credentials,
    connection_id,
)
from hub_keyring import Binding, KeyRing
from hub_localstack.services import ServiceProcess
from hub_providers import OAuthClient, OutboundHttp
from hub_runtime import ServiceSettings, create_broker, publish_event
from provider_sandbox import platform_environment

from .conftest import SmtpHandler

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SWEEP_INTERVAL_S = 0.3
SEND_LEASE_S = 4
REDIRECT = "https://hub.example/v1/oauth/callback"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, SmtpHandler]]:
    from aiosmtpd.controller import Controller
    from hub_localstack.processes import free_port

    handler, port = SmtpHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notifier-e2e")


@pytest.fixture(scope="module")
def store(hub_env: dict[str, str], logs: Path) -> Iterator[ServiceProcess]:
    env = {**hub_env, "CONNECTION_STORE_SWEEP_INTERVAL_S": str(SWEEP_INTERVAL_S)}
    with ServiceProcess(
        "connection-store",
        "connection_store",
        env,
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    ) as process:
        yield process


@pytest.fixture(scope="module")
def monitor(hub_env: dict[str, str], logs: Path, store: ServiceProcess) -> Iterator[ServiceProcess]:
    with ServiceProcess(
        "health-monitor",
        "health_monitor",
        hub_env,
        port_variable="HEALTH_MONITOR_PORT",
        log_dir=logs,
    ) as process:
        yield process


@pytest.fixture(scope="module")
def notifier_env(
    hub_env: dict[str, str], store: ServiceProcess, smtp: tuple[int, SmtpHandler]
) -> dict[str, str]:
    return {
        **hub_env,
        "NOTIFIER_STORE_URL": store.url,
        "NOTIFIER_ADMIN_BASE_URL": "https://admin.example",
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp[0]),
        "NOTIFIER_SMTP_STARTTLS": "false",
        "NOTIFIER_EMAIL_FROM": "Hub <hub@platform.test>",
        "NOTIFIER_SEND_LEASE_S": str(SEND_LEASE_S),
        "NOTIFIER_WORKER_INTERVAL_S": "0.2",
        "NOTIFIER_RETRY_BASE_S": "0.2",
    }


def notifier_process(env: dict[str, str], logs: Path) -> ServiceProcess:
    return ServiceProcess(
        "notifier",
        "notifier",
        env,
        port_variable="NOTIFIER_PORT",
        log_dir=logs,
        health_path="/readyz",
    )


@pytest.fixture(scope="module")
def notifier(
    notifier_env: dict[str, str], logs: Path, monitor: ServiceProcess
) -> Iterator[ServiceProcess]:
    with notifier_process(notifier_env, logs) as process:
        yield process


async def wait(predicate: Callable[[], Awaitable[Any]], what: str, within: float = 30) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    """Drives the stack the way the platform, the gateway and a brand would."""

    def __init__(
        self,
        hub_env: dict[str, str],
        store: ServiceProcess,
        sandbox_url: str,
        database_url: str,
        kafka_bootstrap: str,
    ) -> None:
        self.env = hub_env
        self.store = store
        self.sandbox_url = sandbox_url
        self.database_url = database_url
        self.ring = KeyRing.from_spec(hub_env["CREDENTIAL_KEYS"])
        self.catalog = load_catalog(base_url_override=sandbox_url)
        self.outbound = OutboundHttp(self.catalog)
        self.http = httpx.AsyncClient(timeout=10)
        self.producer = create_broker(
            ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, service_name="e2e")
        )

    async def __aenter__(self) -> Stack:
        await self.producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.producer.stop()
        await self.http.aclose()
        await self.outbound.aclose()

    def token_for(self, org: uuid.UUID) -> dict[str, str]:
        issued = subprocess.run(
            [sys.executable, "-m", "connection_store.issuer", "--org", str(org)],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return {"Authorization": f"Bearer {issued.stdout.strip()}"}

    async def oauth_token(self, provider_id: str) -> str:
        provider = self.catalog.get(provider_id)
        environment = platform_environment(self.catalog)
        values = {c.name: environment[c.env] for c in provider.platform_credentials}
        client = OAuthClient(self.outbound, provider, values, redirect_uri=REDIRECT)
        verifier = secrets.token_urlsafe(48)
        redirect = await self.http.get(client.authorization_url(state="s", code_verifier=verifier))
        query = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))
        tokens = await client.exchange_code(query[client.spec.code_param], code_verifier=verifier)
        return tokens.access_token.get_secret_value()

    async def establish(
        self, org: uuid.UUID, provider: str, credentials: Credentials, **extra: Any
    ) -> None:
        auth_type = extra.pop("auth_type", "oauth2_authorization_code")
        await publish_event(
            self.producer,
            ConnectionEstablishedV1(
                organization_id=org,
                provider=provider,
                connection_id=connection_id(org, provider),
                auth_type=auth_type,
                credentials=credentials,
                **extra,
            ),
        )

        async def active() -> bool:
            answer = await self.http.get(
                f"{self.store.url}/v1/orgs/{org}/integrations/{provider}",
                headers=self.token_for(org),
            )
            return bool(answer.json()["status"] == "active")

        await wait(active, f"{provider} to be active")

    async def connect_oauth(self, org: uuid.UUID, provider: str) -> str:
        token = await self.oauth_token(provider)
        sealed = self.ring.encrypt(token, Binding(org, provider, "access_token"))
        expires = datetime.now(UTC) + timedelta(days=59)
        await self.establish(
            org, provider, Credentials(access_token=sealed), token_expires_at=expires
        )
        return token

    async def connect_slack(self, org: uuid.UUID, channel: str) -> None:
        await self.connect_oauth(org, "slack")
        answer = await self.http.patch(
            f"{self.store.url}/v1/orgs/{org}/integrations/slack/settings",
            headers=self.token_for(org),
            json={"channel_routing": {"connection_needs_attention": channel}},
        )
        assert answer.status_code == 200, answer.text

    async def connect_resend(self, org: uuid.UUID, sender: str) -> None:
        sealed = self.ring.encrypt(
            f"re_brand_{uuid.uuid4().hex}", Binding(org, "resend", "api_key")
        )
        await self.establish(
            org, "resend", Credentials(fields={"api_key": sealed}), auth_type="api_key"
        )
        await self.notify_settings(org, email_from=sender)

    async def notify_settings(self, org: uuid.UUID, **settings: Any) -> None:
        answer = await self.http.patch(
            f"{self.store.url}/v1/orgs/{org}/notifications",
            headers=self.token_for(org),
            json=settings,
        )
        assert answer.status_code == 200, answer.text

    async def unhealthy(self, org: uuid.UUID, reason: str = "revoked") -> None:
        """A verdict as health-monitor publishes it (used where the check itself is not the
        point of the test)."""
        await publish_event(
            self.producer,
            ConnectionUnhealthyV1(
                organization_id=org,
                provider="meta_ads",
                connection_id=connection_id(org, "meta_ads"),
                credential_version=1,
                reason=reason,
                message="Meta Ads refused the access token (HTTP 400, 190).",
                detected_by="health-monitor",
            ),
        )

    async def force_check(self, org: uuid.UUID) -> None:
        connection = await asyncpg.connect(self.database_url)
        try:
            await connection.execute(
                "UPDATE integration_connections SET next_check_at = now() - interval '1 s' "
                "WHERE organization_id = $1 AND provider = 'meta_ads'",
                org,
            )
        finally:
            await connection.close()

    async def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.http.request(method, f"{self.sandbox_url}/_sandbox{path}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def slack_posts(self, channel: str) -> list[dict[str, Any]]:
        done = await self.sandbox("GET", "/slack/actions")
        return [a for a in done if a["body"].get("channel") == channel]

    async def emails_to(self, address: str) -> list[dict[str, Any]]:
        done = await self.sandbox("GET", "/resend/actions")
        return [a for a in done if address in a["body"]["to"]]

    async def calls(self, provider: str, endpoint: str) -> int:
        return int((await self.sandbox("GET", "/calls")).get(provider, {}).get(endpoint, 0))

    async def deliveries(self, org: uuid.UUID) -> list[dict[str, Any]]:
        connection = await asyncpg.connect(self.database_url)
        try:
            records = await connection.fetch(
                "SELECT channel, action, state, attempts FROM notifier_deliveries "
                "WHERE organization_id = $1 ORDER BY created_at, action",
                org,
            )
        finally:
            await connection.close()
        return [dict(r) for r in records]


@pytest.fixture
async def stack(
    hub_env: dict[str, str],
    store: ServiceProcess,
    sandbox_url: str,
    database_url: str,
    kafka_bootstrap: str,
) -> Any:
    async with Stack(hub_env, store, sandbox_url, database_url, kafka_bootstrap) as driver:
        yield driver
        await driver.sandbox("POST", "/slack/faults", {"mode": "ok"})
        await driver.sandbox("POST", "/resend/faults", {"mode": "ok"})


async def test_a_revoked_meta_token_is_told_once_and_the_reconnect_once(
    stack: Stack, notifier: ServiceProcess, monitor: ServiceProcess
) -> None:
    org = uuid.uuid4()
    await stack.connect_slack(org, "#ops-a")
    await stack.connect_resend(org, "Brand A <alerts@brand-a.test>")
    await stack.notify_settings(org, email_recipients=["ops@brand-a.test"])
    meta_token = await stack.connect_oauth(org, "meta_ads")

    await stack.sandbox("POST", "/meta_ads/revoke", {"token": meta_token})
    await stack.force_check(org)
    (alert,) = await wait(lambda: stack.slack_posts("#ops-a"), "the Slack alert")
    (email,) = await wait(lambda: stack.emails_to("ops@brand-a.test"), "the email")
    for text in (alert["body"]["text"], email["body"]["subject"], email["body"]["text"]):
        assert "Meta Ads" in text
    for text in (alert["body"]["text"], email["body"]["text"]):
        assert "Reconnect Meta Ads in Settings → Integrations" in text
    assert "https://admin.example/admin/settings/integrations/meta-ads" in email["body"]["text"]
    assert email["body"]["from"] == "Brand A <alerts@brand-a.test>"

    for _ in range(3):  # three more sweeps with the check due, and the verdict repeated
        await stack.force_check(org)
        await stack.unhealthy(org)
        await asyncio.sleep(SWEEP_INTERVAL_S * 3)
    await asyncio.sleep(1.0)
    assert len(await stack.slack_posts("#ops-a")) == 1
    assert len(await stack.emails_to("ops@brand-a.test")) == 1

    await stack.connect_oauth(org, "meta_ads")  # reconnect
    await wait(lambda: _count(stack.emails_to("ops@brand-a.test"), 2), "the recovery email")
    await asyncio.sleep(1.0)
    posts = await stack.slack_posts("#ops-a")
    emails = await stack.emails_to("ops@brand-a.test")
    # The recovery goes where the alert went (nothing is routed for connection_recovered).
    assert [p["action"] for p in posts] == ["post_message", "update_message", "post_message"] or [
        p["action"] for p in posts
    ] == ["post_message", "post_message", "update_message"]
    (recovery,) = [p for p in posts[1:] if p["action"] == "post_message"]
    (update,) = [p for p in posts if p["action"] == "update_message"]
    assert recovery["body"]["text"].startswith("Resolved: Meta Ads is working again")
    assert update["body"]["ts"] == alert["result_id"]
    assert "Resolved" in update["body"]["text"]
    assert emails[1]["body"]["subject"] == "Resolved: Meta Ads is working again"
    records = await stack.deliveries(org)
    assert all(r["state"] == "sent" for r in records), records


async def _count(found: Awaitable[list[Any]], n: int) -> bool:
    return len(await found) >= n


async def test_email_only_without_slack_and_nothing_without_either(
    stack: Stack, notifier: ServiceProcess, smtp: tuple[int, SmtpHandler]
) -> None:
    _, handler = smtp
    email_only, nothing = uuid.uuid4(), uuid.uuid4()
    await stack.notify_settings(email_only, email_recipients=["ops@brand-b.test"])
    before = await stack.calls("slack", "action.post_message")
    await stack.unhealthy(email_only)
    await stack.unhealthy(nothing)

    async def mailed() -> list[Any]:
        return [m for to, m in handler.messages if "ops@brand-b.test" in to]

    (message,) = await wait(mailed, "the SMTP email")
    assert message["Subject"] == "Action needed: Meta Ads connection revoked"
    assert "Reconnect Meta Ads in Settings" in message.get_body(("plain",)).get_content()

    async def said_so() -> bool:
        return str(nothing) in notifier.log_path.read_text() and "no notification channel" in (
            notifier.log_path.read_text()
        )

    await wait(said_so, "the log line about nobody to tell")
    metrics = (await stack.http.get(f"{notifier.url}/metrics")).text
    assert 'notifier_undeliverable_total{reason="no_channel"}' in metrics
    assert await stack.calls("slack", "action.post_message") == before
    assert await stack.deliveries(nothing) == []


async def test_slack_429_then_200_delivers_one_message(
    stack: Stack, notifier: ServiceProcess
) -> None:
    org = uuid.uuid4()
    await stack.connect_slack(org, "#ops-d")
    before = await stack.calls("slack", "action.post_message")
    await stack.sandbox("POST", "/slack/faults", {"mode": "rate_limited", "retry_after": 1})
    await stack.unhealthy(org)
    await wait(lambda: _more(stack.calls("slack", "action.post_message"), before), "the 429")
    await stack.sandbox("POST", "/slack/faults", {"mode": "ok"})
    await wait(lambda: stack.slack_posts("#ops-d"), "the message")
    await asyncio.sleep(1.5)
    assert len(await stack.slack_posts("#ops-d")) == 1
    assert await stack.calls("slack", "action.post_message") == before + 2
    assert await stack.deliveries(org) == [
        {"channel": "slack_bot", "action": "post", "state": "sent", "attempts": 2}
    ]


async def _more(count: Awaitable[int], than: int) -> bool:
    return await count > than


async def test_killed_after_sending_before_committing_sends_nothing_twice(
    stack: Stack, notifier_env: dict[str, str], logs: Path, notifier: ServiceProcess
) -> None:
    org = uuid.uuid4()
    await stack.connect_slack(org, "#ops-e")
    await stack.connect_resend(org, "Brand E <alerts@brand-e.test>")
    await stack.notify_settings(org, email_recipients=["ops@brand-e.test"])
    posts = await stack.calls("slack", "action.post_message")
    sends = await stack.calls("resend", "action.send_email")
    for provider in ("slack", "resend"):  # answers come 3 s after the request arrived
        await stack.sandbox("POST", f"/{provider}/faults", {"mode": "slow", "delay": 3})
    await stack.unhealthy(org)
    await wait(lambda: _more(stack.calls("slack", "action.post_message"), posts), "the post")
    await wait(lambda: _more(stack.calls("resend", "action.send_email"), sends), "the email")
    notifier.kill()  # both requests are out; no result was committed
    states = {r["channel"]: r["state"] for r in await stack.deliveries(org)}
    assert states == {"slack_bot": "sending", "resend": "sending"}
    await wait(lambda: stack.slack_posts("#ops-e"), "the sandbox to finish the post", 10)
    for provider in ("slack", "resend"):
        await stack.sandbox("POST", f"/{provider}/faults", {"mode": "ok"})

    with notifier_process(notifier_env, logs):

        async def settled() -> list[dict[str, Any]] | None:
            records = await stack.deliveries(org)
            return records if all(r["state"] in ("sent", "uncertain") for r in records) else None

        records = await wait(settled, "the abandoned deliveries to settle", SEND_LEASE_S * 5)
    assert {r["channel"]: r["state"] for r in records} == {
        "slack_bot": "uncertain",
        "resend": "sent",
    }
    assert len(await stack.slack_posts("#ops-e")) == 1
    assert await stack.calls("slack", "action.post_message") == posts + 1
    assert len(await stack.emails_to("ops@brand-e.test")) == 1
    assert await stack.calls("resend", "action.send_email") == sends + 2
