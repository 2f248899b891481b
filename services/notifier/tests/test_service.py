"""The notifier end to end in one process: real PostgreSQL, the sandbox playing Slack and
Resend behind the guarded transport, connection-store stood in for by ``FakeDirectory``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from hub_runtime.logging import JsonFormatter
from notifier.adapters.database import PostgresDatabase
from notifier.adapters.senders import ChannelSenders
from notifier.domain.deliveries import RetryPolicy
from notifier.domain.incidents import Recovery, Unhealthy
from notifier.domain.routing import PlatformChannels
from notifier.metrics import PrometheusMetrics
from notifier.service.dispatcher import Dispatcher
from notifier.service.planner import Planner
from notifier.service.triage import Triage
from notifier.service.worker import Worker
from pydantic import SecretStr

from .conftest import RESEND_KEY, WEBHOOK, FakeDirectory, brand_slack, connect

pytestmark = pytest.mark.integration
UNHEALTHY, RECOVERED, ESTABLISHED = "t.unhealthy", "t.recovered", "t.established"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Harness:
    triage: Triage
    planner: Planner
    dispatcher: Dispatcher
    worker: Worker
    directory: FakeDirectory
    sandbox: httpx.AsyncClient
    clock: Clock
    metrics: PrometheusMetrics
    database: PostgresDatabase

    async def settle(self) -> None:
        for _ in range(20):
            if not await self.worker.once():
                return
        raise AssertionError("the worker never settled")

    async def unhealthy(self, org: uuid.UUID, reason: str = "revoked", **changes: Any) -> str:
        facts = {
            "organization_id": org,
            "provider": "meta_ads",
            "reason": reason,
            "credential_version": 1,
            "message": "Meta Ads refused the credential (HTTP 400, 190)",
            "occurred_at": self.clock.now,
            **changes,
        }
        event_id = changes.pop("event_id", None) or uuid.uuid4()
        facts.pop("event_id", None)
        return await self.triage.on_unhealthy(UNHEALTHY, event_id, Unhealthy(**facts))

    async def recovered(self, org: uuid.UUID, *, version: int | None = 1, **changes: Any) -> str:
        recovery = Recovery(
            organization_id=org,
            provider="meta_ads",
            cause="recovered" if version is not None else "reconnected",
            credential_version=version,
            occurred_at=changes.get("occurred_at", self.clock.now),
        )
        return await self.triage.on_recovery(
            RECOVERED if version is not None else ESTABLISHED,
            changes.get("event_id", uuid.uuid4()),
            recovery,
        )

    async def actions(self, provider: str) -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = (
            await self.sandbox.get(f"/_sandbox/{provider}/actions")
        ).json()
        return done

    async def calls(self, provider: str) -> dict[str, int]:
        counts: dict[str, int] = (
            (await self.sandbox.get("/_sandbox/calls")).json().get(provider, {})
        )
        return counts

    async def deliveries(self, org: uuid.UUID) -> list[dict[str, Any]]:
        async with self.database.transaction() as tx:
            return await tx.deliveries.of_organization(org)


@pytest.fixture
def harness(
    database: PostgresDatabase, outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> Callable[..., Harness]:
    def build(**platform: Any) -> Harness:
        clock = Clock(datetime.now(UTC))
        directory = FakeDirectory()
        metrics = PrometheusMetrics()
        senders = ChannelSenders(
            outbound,
            keyring,
            slack_webhook_url=SecretStr(WEBHOOK) if platform.get("slack_webhook") else None,
            resend_api_key=SecretStr(RESEND_KEY) if platform.get("resend", True) else None,
        )
        retry = RetryPolicy(max_attempts=4, base_s=1.0, max_s=10.0)
        lease = timedelta(seconds=30)
        planner = Planner(
            database,
            directory,
            metrics,
            platform=PlatformChannels(
                slack_webhook=platform.get("slack_webhook", False),
                resend=platform.get("resend", True),
                email_from="Hub <hub@platform.test>",
            ),
            provider_names={"meta_ads": "Meta Ads"},
            admin_base_url="https://admin.example",
            retry=retry,
            lease=lease,
            clock=clock,
        )
        dispatcher = Dispatcher(
            database, directory, senders, metrics, retry=retry, lease=lease, clock=clock
        )
        worker = Worker(planner, dispatcher, interval_s=0.05)
        triage = Triage(
            database, metrics, reminder_interval=timedelta(hours=24), clock=clock, wake=worker.wake
        )
        return Harness(
            triage, planner, dispatcher, worker, directory, sandbox, clock, metrics, database
        )

    return build


async def brand(h: Harness, outbound: OutboundHttp, keyring: KeyRing, **settings: Any) -> uuid.UUID:
    """An organization with a Slack connection routing alerts to #ops and one recipient."""
    org = uuid.uuid4()
    token = await connect(outbound, h.sandbox, "slack")
    h.directory.set(
        org,
        slack=brand_slack(keyring, org, token),
        recipients=("ops@brand.test",),
        **settings,
    )
    return org


async def test_a_revoked_connection_is_told_once_per_channel_and_the_recovery_once(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    assert await h.unhealthy(org) == "opened"
    await h.settle()
    (post,) = await h.actions("slack")
    (email,) = await h.actions("resend")
    assert post["body"]["channel"] == "#ops"
    for text in (post["body"]["text"], str(post["body"]["blocks"]), email["body"]["text"]):
        assert "Meta Ads" in text
        assert "Reconnect Meta Ads in Settings → Integrations" in text
    assert "https://admin.example/admin/settings/integrations/meta-ads" in email["body"]["text"]
    assert email["body"]["to"] == ["ops@brand.test"]
    assert email["body"]["subject"] == "Action needed: Meta Ads connection revoked"

    for _ in range(3):  # three more sweeps report the same
        h.clock.advance(3600)
        assert await h.unhealthy(org) == "duplicate"
        await h.settle()
    assert len(await h.actions("slack")) == 1
    assert len(await h.actions("resend")) == 1

    h.clock.advance(60)
    assert await h.recovered(org, version=None) == "closed"  # reconnected
    await h.settle()
    slack = await h.actions("slack")
    assert sorted(a["action"] for a in slack) == ["post_message", "post_message", "update_message"]
    (recovery,) = [a for a in slack[1:] if a["action"] == "post_message"]
    (update,) = [a for a in slack if a["action"] == "update_message"]
    assert recovery["body"]["channel"] == "#general"  # connection_recovered is not routed
    assert "Resolved: Meta Ads is working again" in recovery["body"]["text"]
    assert update["body"]["ts"] == post["result_id"]
    assert "Resolved" in update["body"]["text"]
    emails = await h.actions("resend")
    assert [e["body"]["subject"] for e in emails][1] == "Resolved: Meta Ads is working again"
    records = await h.deliveries(org)
    assert {(r["kind"], r["channel"], r["action"], r["state"]) for r in records} == {
        ("opened", "slack_bot", "post", "sent"),
        ("opened", "resend", "post", "sent"),
        ("recovered", "slack_bot", "post", "sent"),
        ("recovered", "slack_bot", "update", "sent"),
        ("recovered", "resend", "post", "sent"),
    }
    assert all(r["attempts"] == 1 for r in records)
    assert await h.recovered(org) == "nothing_open"


async def test_a_redelivered_event_changes_nothing(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    event_id = uuid.uuid4()
    assert await h.unhealthy(org, event_id=event_id) == "opened"
    assert await h.unhealthy(org, event_id=event_id) == "redelivered"
    await h.settle()
    assert len(await h.actions("slack")) == 1


async def test_after_the_reminder_interval_the_same_verdict_reminds(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.unhealthy(org)
    await h.settle()
    h.clock.advance(25 * 3600)
    assert await h.unhealthy(org) == "reminded"
    await h.settle()
    posts = await h.actions("slack")
    assert len(posts) == 2
    assert posts[1]["body"]["text"].startswith("Reminder: Meta Ads connection revoked")


async def test_a_brand_without_slack_gets_email_only(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = uuid.uuid4()
    h.directory.set(org, recipients=("ops@brand.test",))
    await h.unhealthy(org)
    await h.settle()
    assert await h.actions("slack") == []
    assert len(await h.actions("resend")) == 1


async def test_a_brand_with_neither_gets_nothing_and_says_so(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness()
    org = uuid.uuid4()
    h.directory.set(org)
    with caplog.at_level(logging.WARNING, logger="notifier.service.planner"):
        await h.unhealthy(org)
        await h.settle()
    assert await h.actions("slack") == []
    assert await h.actions("resend") == []
    assert await h.deliveries(org) == []
    assert any("no notification channel configured" in r.getMessage() for r in caplog.records)
    assert b'notifier_undeliverable_total{reason="no_channel"} 1.0' in h.metrics.render()


async def test_a_brand_without_slack_uses_the_platform_webhook_when_configured(
    harness: Callable[..., Harness],
) -> None:
    h = harness(slack_webhook=True)
    org = uuid.uuid4()
    h.directory.set(org)
    await h.unhealthy(org)
    await h.settle()
    assert [a["action"] for a in await h.actions("slack")] == ["post_webhook"]


async def test_slack_answering_429_then_200_delivers_one_message(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.sandbox.post("/_sandbox/slack/faults", json={"mode": "rate_limited", "retry_after": 5})
    await h.unhealthy(org)
    await h.settle()
    (slack,) = [r for r in await h.deliveries(org) if r["channel"] == "slack_bot"]
    assert (slack["state"], slack["attempts"]) == ("pending", 1)
    assert slack["next_attempt_at"] >= h.clock.now + timedelta(seconds=5)
    await h.sandbox.post("/_sandbox/slack/faults", json={"mode": "ok"})
    h.clock.advance(6)
    await h.settle()
    assert (await h.calls("slack"))["action.post_message"] == 2
    assert len(await h.actions("slack")) == 1
    (slack,) = [r for r in await h.deliveries(org) if r["channel"] == "slack_bot"]
    assert (slack["state"], slack["attempts"]) == ("sent", 2)


async def test_retries_end_in_failed(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.sandbox.post("/_sandbox/slack/faults", json={"mode": "unavailable"})
    await h.unhealthy(org)
    for _ in range(5):
        await h.settle()
        h.clock.advance(20)
    (slack,) = [r for r in await h.deliveries(org) if r["channel"] == "slack_bot"]
    assert (slack["state"], slack["attempts"]) == ("failed", 4)
    assert "503" in slack["last_error"]


async def test_a_crash_after_sending_never_sends_twice(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    """The process sends and dies before recording the result: after the lease, Slack (no
    idempotency) is marked uncertain and not repeated; Resend is repeated with the same key,
    which it de-duplicates. One message each."""
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.unhealthy(org)
    await h.planner.plan_due()
    async with h.database.transaction() as tx:
        claimed = await tx.deliveries.claim(h.clock.now, h.clock.now + timedelta(seconds=30), 10)
    for delivery in claimed:  # sent, then the process dies: no result recorded
        context = await h.directory.context(org, "meta_ads")
        await h.dispatcher.senders.send(delivery, context)
    h.clock.advance(31)
    await h.settle()
    assert len(await h.actions("slack")) == 1
    assert len(await h.actions("resend")) == 1
    assert (await h.calls("resend"))["action.send_email"] == 2
    states = {r["channel"]: r["state"] for r in await h.deliveries(org)}
    assert states == {"slack_bot": "uncertain", "resend": "sent"}
    # The recovery still goes where the alert (maybe) went.
    await h.recovered(org)
    await h.settle()
    assert len(await h.actions("slack")) == 2  # no ts for an uncertain post: no update


async def test_a_delivery_in_flight_is_not_taken_by_another_replica(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.unhealthy(org)
    await h.planner.plan_due()
    async with h.database.transaction() as tx:
        claimed = await tx.deliveries.claim(h.clock.now, h.clock.now + timedelta(seconds=30), 10)
    assert len(claimed) == 2
    h.clock.advance(10)  # within the lease
    assert await h.dispatcher.deliver_due() == 0
    assert await h.actions("slack") == []


async def test_a_recovery_before_anything_went_out_sends_nothing(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.unhealthy(org)
    h.clock.advance(1)
    assert await h.recovered(org) == "closed_silently"
    await h.settle()
    assert await h.actions("slack") == []
    assert await h.actions("resend") == []


async def test_late_or_older_verdicts_open_nothing(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    before = h.clock.now
    h.clock.advance(60)
    await h.recovered(org, version=1)  # processed first, though it happened last
    assert await h.unhealthy(org, occurred_at=before) == "stale"
    assert await h.unhealthy(org, credential_version=0) == "stale"
    await h.settle()
    assert await h.actions("slack") == []


async def test_a_reconnect_makes_a_verdict_about_the_old_credential_stale(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    await h.unhealthy(org)
    await h.settle()
    h.clock.advance(60)
    await h.recovered(org, version=None)
    h.clock.advance(60)
    assert await h.unhealthy(org, credential_version=1) == "stale"
    assert await h.unhealthy(org, credential_version=2) == "opened"


async def test_a_new_reason_supersedes_the_open_incident(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    expires = h.clock.now + timedelta(days=6)
    assert await h.unhealthy(org, "reauth_soon", token_expires_at=expires) == "opened"
    await h.settle()
    h.clock.advance(7 * 86400)
    assert await h.unhealthy(org, "expired") == "opened"
    await h.settle()
    posts = await h.actions("slack")
    assert "expires on" in posts[0]["body"]["blocks"][1]["text"]["text"]
    assert posts[0]["body"]["channel"] == "#general"  # token_expiring_soon is not routed: default
    assert posts[1]["body"]["text"].startswith("Action needed: Meta Ads connection expired")


async def test_planning_waits_for_connection_store(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = await brand(h, outbound, keyring)
    h.directory.down = True
    await h.unhealthy(org)
    await h.settle()
    assert await h.deliveries(org) == []
    h.directory.down = False
    h.clock.advance(5)
    await h.settle()
    assert len(await h.actions("slack")) == 1


async def test_a_notification_about_a_credential_replaced_since_is_dropped(
    harness: Callable[..., Harness], outbound: OutboundHttp, keyring: KeyRing
) -> None:
    h = harness()
    org = uuid.uuid4()
    h.directory.set(org, recipients=("ops@brand.test",), version=2)
    await h.unhealthy(org, credential_version=1)
    await h.settle()
    assert await h.actions("resend") == []


async def test_no_secret_reaches_a_log_line_on_any_path(
    harness: Callable[..., Harness],
    outbound: OutboundHttp,
    keyring: KeyRing,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SECURITY 14 for the notifier: the brand's Slack bot token, the platform's webhook URL and
    Resend key are canaries; alerts, recoveries, the webhook and failing retries are run and
    every record (httpx's request lines included) is formatted as the service would."""
    caplog.set_level(logging.DEBUG)
    h = harness(slack_webhook=True)
    org = uuid.uuid4()
    bot_token = await connect(outbound, h.sandbox, "slack")
    h.directory.set(org, slack=brand_slack(keyring, org, bot_token), recipients=("a@b.test",))
    webhook_only = uuid.uuid4()
    h.directory.set(webhook_only, recipients=("c@d.test",))
    await h.unhealthy(org)
    await h.unhealthy(webhook_only)
    await h.settle()
    await h.recovered(org)
    await h.settle()
    failing = uuid.uuid4()
    h.directory.set(failing, slack=brand_slack(keyring, failing, bot_token))
    await h.sandbox.post("/_sandbox/slack/faults", json={"mode": "unavailable"})
    await h.unhealthy(failing)
    for _ in range(5):
        await h.settle()
        h.clock.advance(20)
    await h.sandbox.post("/_sandbox/slack/faults", json={"mode": "ok"})

    actions = [a["action"] for a in await h.actions("slack")]
    assert {"post_message", "post_webhook"} <= set(actions)
    assert (await h.actions("resend")) != []
    formatter = JsonFormatter("notifier")
    lines = [formatter.format(record) for record in caplog.records]
    assert any("hooks.slack.com" in r.getMessage() for r in caplog.records)  # httpx logged it
    for secret in (bot_token, WEBHOOK.split("/services/")[1], RESEND_KEY):
        assert len(secret) > 8
        assert not any(secret in line for line in lines), secret[:12]
