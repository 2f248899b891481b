"""The rules: incidents, duplicates, reminders, recoveries, staleness, targets, retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notifier.domain import (
    BrandSlack,
    Channel,
    Context,
    Duplicate,
    Mark,
    Open,
    Platform,
    Recipients,
    Remind,
    RetryPolicy,
    Unhealthy,
    closes,
    on_unhealthy,
    targets,
)

T0 = datetime(2026, 3, 3, 14, 2, tzinfo=UTC)
DAY = timedelta(hours=24)
ORG = uuid.uuid4()


def unhealthy(reason: str = "revoked", at: datetime = T0, version: int = 1) -> Unhealthy:
    return Unhealthy(ORG, "meta_ads", reason, version, "Meta said 190", at)


def opened(reason: str = "revoked") -> Open:
    decision = on_unhealthy(None, unhealthy(reason), T0, DAY)
    assert isinstance(decision, Open)
    return decision


def test_a_first_verdict_opens_an_incident() -> None:
    incident = opened().incident
    assert (incident.reason, incident.opened_at, incident.notifications) == ("revoked", T0, 1)


def test_the_same_reason_again_is_a_duplicate_until_the_reminder_interval_passed() -> None:
    incident = opened().incident
    later = unhealthy(at=T0 + timedelta(hours=6))
    again = on_unhealthy(incident, later, T0 + timedelta(hours=6), DAY)
    assert isinstance(again, Duplicate)
    assert (again.incident.duplicates, again.incident.last_event_at) == (1, later.occurred_at)
    remind = on_unhealthy(again.incident, unhealthy(at=T0 + DAY), T0 + DAY, DAY)
    assert isinstance(remind, Remind)
    assert (remind.incident.notifications, remind.incident.last_notified_at) == (2, T0 + DAY)
    assert remind.incident.id == incident.id


def test_another_reason_supersedes_the_open_incident() -> None:
    soon = opened("reauth_soon").incident
    decision = on_unhealthy(soon, unhealthy("revoked"), T0 + timedelta(hours=1), DAY)
    assert isinstance(decision, Open)
    assert decision.superseded is not None
    assert (decision.superseded.status, decision.superseded.closed_by) == ("closed", "superseded")
    assert decision.incident.reason == "revoked"


def test_a_verdict_about_a_replaced_credential_or_from_before_a_recovery_is_stale() -> None:
    mark = Mark().after_recovery(2, T0)
    assert mark.is_stale(1, T0 + DAY)
    assert mark.is_stale(2, T0 - timedelta(seconds=1))
    assert mark.is_stale(2, T0)
    assert not mark.is_stale(2, T0 + timedelta(seconds=1))
    assert not mark.is_stale(3, T0 - DAY)
    assert not Mark().is_stale(1, T0)


def test_a_recovery_closes_only_what_it_speaks_about() -> None:
    incident = opened().incident
    assert closes(incident, "recovered", 1, T0 + timedelta(minutes=1))
    assert not closes(incident, "recovered", 1, T0 - timedelta(minutes=1))  # arrived out of order
    assert not closes(incident, "recovered", 0, T0 + DAY)  # about an older credential
    assert closes(incident, "reconnected", None, T0 + timedelta(minutes=1))
    assert not closes(incident, "reconnected", None, T0 - timedelta(minutes=1))


def slack() -> BrandSlack:
    return BrandSlack(
        1, {"sealed": True}, "HQ", {"connection_needs_attention": "#ops"}, default_channel="#all"
    )


def test_slack_goes_to_the_routed_channel_and_falls_back_to_the_default() -> None:
    context = Context(slack=slack())
    assert targets("opened", "revoked", context, Platform())[0].where == {"channel": "#ops"}
    recovered = targets("recovered", "revoked", context, Platform())
    assert recovered[0].where == {"channel": "#all"}
    soon = targets("opened", "reauth_soon", context, Platform())
    assert soon[0].where == {"channel": "#all"}  # token_expiring_soon is not routed here


def test_without_a_slack_connection_the_platform_webhook_if_configured() -> None:
    assert targets("opened", "revoked", Context(), Platform()) == []
    found = targets("opened", "revoked", Context(), Platform(slack_webhook=True))
    assert [t.channel for t in found] == [Channel.SLACK_WEBHOOK]


def test_a_connected_slack_without_any_channel_falls_back_to_the_webhook() -> None:
    bare = BrandSlack(1, {}, None, {}, None)
    found = targets("opened", "revoked", Context(slack=bare), Platform(slack_webhook=True))
    assert [t.channel for t in found] == [Channel.SLACK_WEBHOOK]


@pytest.mark.parametrize(
    ("context", "platform", "expected"),
    [
        (Context(recipients=Recipients(("a@b.test",))), Platform(resend=True), "platform"),
        (
            Context(recipients=Recipients(("a@b.test",), email_from="x@b.test"), resend_key={}),
            Platform(resend=True),
            "brand",
        ),
        (  # the brand's Resend needs its own sender address
            Context(recipients=Recipients(("a@b.test",)), resend_key={}),
            Platform(resend=True),
            "platform",
        ),
        (Context(recipients=Recipients(("a@b.test",))), Platform(smtp=True), "smtp"),
        (Context(recipients=Recipients(("a@b.test",))), Platform(), None),
        (Context(), Platform(resend=True, smtp=True), None),  # nobody to write to
        (
            Context(recipients=Recipients(("a@b.test",), email_enabled=False)),
            Platform(resend=True),
            None,
        ),
    ],
)
def test_email_through_the_brands_resend_the_platform_key_or_smtp(
    context: Context, platform: Platform, expected: str | None
) -> None:
    found = targets("opened", "revoked", context, platform, ("email",))
    if expected is None:
        assert found == []
        return
    (target,) = found
    assert target.where.get("via", "smtp") == expected
    assert target.where["to"] == ["a@b.test"]


def test_slack_switched_off_by_the_brand_means_no_slack_at_all() -> None:
    context = Context(recipients=Recipients(slack_enabled=False), slack=slack())
    assert targets("opened", "revoked", context, Platform(slack_webhook=True)) == []


def test_a_recovery_goes_only_to_the_media_that_were_told() -> None:
    context = Context(recipients=Recipients(("a@b.test",)), slack=slack())
    found = targets("recovered", "revoked", context, Platform(resend=True), ("email",))
    assert [t.channel for t in found] == [Channel.RESEND]


def test_retries_back_off_respect_retry_after_and_end() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=2.0, max_s=600.0)
    first, second = policy.delay(1), policy.delay(2)
    assert first is not None
    assert second is not None
    assert timedelta(seconds=1.6) <= first <= timedelta(seconds=2.4)
    assert timedelta(seconds=3.2) <= second <= timedelta(seconds=4.8)
    assert policy.delay(1, retry_after_s=30) == timedelta(seconds=30)
    assert policy.delay(3) is None


def test_only_resend_is_idempotent() -> None:
    assert [c for c in Channel if c.idempotent] == [Channel.RESEND]
