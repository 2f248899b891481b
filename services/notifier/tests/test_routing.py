"""Where a message goes: the brand's Slack or the platform webhook; the brand's Resend, the
platform's Resend key or SMTP; what the organization switched off."""

from __future__ import annotations

import pytest
from notifier.domain.routing import (
    BrandSlack,
    Channel,
    Context,
    PlatformChannels,
    Recipients,
    targets,
)


def slack() -> BrandSlack:
    return BrandSlack(
        1, {"sealed": True}, "HQ", {"connection_needs_attention": "#ops"}, default_channel="#all"
    )


def test_slack_goes_to_the_routed_channel_and_falls_back_to_the_default() -> None:
    context = Context(slack=slack())
    assert targets("opened", "revoked", context, PlatformChannels())[0].where == {"channel": "#ops"}
    recovered = targets("recovered", "revoked", context, PlatformChannels())
    assert recovered[0].where == {"channel": "#all"}
    soon = targets("opened", "reauth_soon", context, PlatformChannels())
    assert soon[0].where == {"channel": "#all"}  # token_expiring_soon is not routed here


def test_without_a_slack_connection_the_platform_webhook_if_configured() -> None:
    assert targets("opened", "revoked", Context(), PlatformChannels()) == []
    found = targets("opened", "revoked", Context(), PlatformChannels(slack_webhook=True))
    assert [t.channel for t in found] == [Channel.SLACK_WEBHOOK]


def test_a_connected_slack_without_any_channel_falls_back_to_the_webhook() -> None:
    bare = BrandSlack(1, {}, None, {}, None)
    found = targets("opened", "revoked", Context(slack=bare), PlatformChannels(slack_webhook=True))
    assert [t.channel for t in found] == [Channel.SLACK_WEBHOOK]


@pytest.mark.parametrize(
    ("context", "platform", "expected"),
    [
        (Context(recipients=Recipients(("a@b.test",))), PlatformChannels(resend=True), "platform"),
        (
            Context(recipients=Recipients(("a@b.test",), email_from="x@b.test"), resend_key={}),
            PlatformChannels(resend=True),
            "brand",
        ),
        (  # the brand's Resend needs its own sender address
            Context(recipients=Recipients(("a@b.test",)), resend_key={}),
            PlatformChannels(resend=True),
            "platform",
        ),
        (Context(recipients=Recipients(("a@b.test",))), PlatformChannels(smtp=True), "smtp"),
        (Context(recipients=Recipients(("a@b.test",))), PlatformChannels(), None),
        (Context(), PlatformChannels(resend=True, smtp=True), None),  # nobody to write to
        (
            Context(recipients=Recipients(("a@b.test",), email_enabled=False)),
            PlatformChannels(resend=True),
            None,
        ),
    ],
)
def test_email_through_the_brands_resend_the_platform_key_or_smtp(
    context: Context, platform: PlatformChannels, expected: str | None
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
    assert targets("opened", "revoked", context, PlatformChannels(slack_webhook=True)) == []


def test_a_recovery_goes_only_to_the_media_that_were_told() -> None:
    context = Context(recipients=Recipients(("a@b.test",)), slack=slack())
    found = targets("recovered", "revoked", context, PlatformChannels(resend=True), ("email",))
    assert [t.channel for t in found] == [Channel.RESEND]


def test_only_resend_is_idempotent() -> None:
    assert [c for c in Channel if c.idempotent] == [Channel.RESEND]
