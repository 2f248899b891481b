"""Deliveries: one per target, the alert updated in place on recovery, and the retry policy."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from notifier.domain import messages
from notifier.domain.deliveries import (
    Delivery,
    Notification,
    RetryPolicy,
    deliveries,
    outdated,
)
from notifier.domain.incidents import Incident
from notifier.domain.routing import Channel, ConnectionFacts, Context, Target


def test_retries_back_off_respect_retry_after_and_end() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=2.0, max_s=600.0)
    first, second = policy.delay(1), policy.delay(2)
    assert first is not None
    assert second is not None
    assert timedelta(seconds=1.6) <= first <= timedelta(seconds=2.4)
    assert timedelta(seconds=3.2) <= second <= timedelta(seconds=4.8)
    assert policy.delay(1, retry_after_s=30) == timedelta(seconds=30)
    assert policy.delay(3) is None


def test_planning_waits_for_connection_store_doubling_up_to_ten_minutes() -> None:
    policy = RetryPolicy(base_s=2.0)
    assert timedelta(seconds=3.2) <= policy.wait_for_directory(1) <= timedelta(seconds=4.8)
    assert policy.wait_for_directory(30) == timedelta(minutes=10)
    spent = RetryPolicy(max_attempts=1)  # deliveries would give up; planning still waits
    assert spent.wait_for_directory(2) == timedelta(seconds=4)


NOTIFICATION = Notification(
    id=uuid.uuid4(),
    incident_id=uuid.uuid4(),
    organization_id=uuid.uuid4(),
    provider="meta_ads",
    kind="recovered",
    sequence=1,
    media=("slack", "email"),
)
MESSAGE = messages.Message(
    "Resolved", "Meta Ads works", "Since", "Nothing", "https://x", None, True
)


def original_post() -> Delivery:
    return Delivery(
        id=uuid.uuid4(),
        notification_id=uuid.uuid4(),
        incident_id=NOTIFICATION.incident_id,
        organization_id=NOTIFICATION.organization_id,
        provider="meta_ads",
        channel=Channel.SLACK_BOT,
        action="post",
        idempotency_key="notifier-x-slack_bot-post",
        target={"channel": "#ops"},
        payload={"blocks": [{"type": "header"}, {"type": "section"}]},
        provider_ref="1700000000.0001",
        provider_channel="C0OPS",
    )


def test_one_post_per_target_each_with_its_own_idempotency_key() -> None:
    found = [
        Target(Channel.SLACK_WEBHOOK, {}),
        Target(Channel.RESEND, {"via": "platform", "from": "hub@x", "to": ["a@b"]}),
    ]
    planned = deliveries(NOTIFICATION, found, MESSAGE)
    assert [(d.channel, d.action) for d in planned] == [
        (Channel.SLACK_WEBHOOK, "post"),
        (Channel.RESEND, "post"),
    ]
    assert planned[1].idempotency_key == f"notifier-{NOTIFICATION.id}-resend-post"
    assert set(planned[0].payload) == {"text", "blocks"}
    assert set(planned[1].payload) == {"subject", "text", "html"}


def test_a_recovery_on_the_brands_slack_also_updates_the_alert_in_place() -> None:
    slack = [Target(Channel.SLACK_BOT, {"channel": "#general"})]
    post, update = deliveries(NOTIFICATION, slack, MESSAGE, original_post())
    assert (post.action, update.action) == ("post", "update")
    assert update.target == {"channel": "C0OPS", "ts": "1700000000.0001"}
    assert update.payload["blocks"][1] == {"type": "section"}  # the alert's text kept below
    webhook = [Target(Channel.SLACK_WEBHOOK, {})]
    assert [d.action for d in deliveries(NOTIFICATION, webhook, MESSAGE, original_post())] == [
        "post"
    ]


def test_an_alert_about_a_replaced_credential_is_outdated_a_recovery_never() -> None:
    at = datetime(2026, 3, 3, tzinfo=UTC)
    incident = Incident(
        NOTIFICATION.incident_id,
        NOTIFICATION.organization_id,
        "meta_ads",
        "revoked",
        2,
        "",
        at,
        at,
        at,
    )
    facts = ConnectionFacts("meta_ads", "Meta Ads", "active", credential_version=3)
    alert = replace(NOTIFICATION, kind="opened")
    assert outdated(alert, incident, Context(connection=facts))
    assert not outdated(alert, incident, Context(connection=replace(facts, credential_version=2)))
    assert not outdated(alert, incident, Context())  # the store knows no connection: told
    assert not outdated(NOTIFICATION, incident, Context(connection=facts))  # recovered
