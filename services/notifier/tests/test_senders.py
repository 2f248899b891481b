"""The channels against the provider sandbox (Slack, Resend) and a real SMTP server."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hub_catalog import Catalog
from hub_keyring import Binding, KeyRing
from hub_providers import OutboundHttp
from notifier.adapters.senders import ChannelSenders, SmtpConfig, webhook_params
from notifier.domain.deliveries import Delivery
from notifier.domain.routing import Channel, Context, Recipients
from notifier.errors import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    UncertainDeliveryError,
)
from pydantic import SecretStr

from .conftest import RESEND_KEY, WEBHOOK, SmtpHandler, brand_slack, connect

ORG = uuid.uuid4()
SLACK_PAYLOAD = {"text": "Action needed", "blocks": [{"type": "section"}]}
EMAIL_PAYLOAD = {"subject": "Action needed", "text": "Reconnect.\n", "html": "<p>Reconnect.</p>"}


def delivery(kind: Channel, action: str = "post", **target: Any) -> Delivery:
    medium_payload = SLACK_PAYLOAD if kind.medium == "slack" else EMAIL_PAYLOAD
    return Delivery(
        id=uuid.uuid4(),
        notification_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        organization_id=ORG,
        provider="meta_ads",
        channel=kind,
        action=action,  # type: ignore[arg-type]
        idempotency_key=f"notifier-{uuid.uuid4()}",
        target=target,
        payload=dict(medium_payload),
        attempts=1,
    )


def senders(outbound: OutboundHttp, keyring: KeyRing, **options: Any) -> ChannelSenders:
    return ChannelSenders(outbound, keyring, **options)


async def actions(sandbox: httpx.AsyncClient, provider: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = (await sandbox.get(f"/_sandbox/{provider}/actions")).json()
    return answer


async def test_slack_bot_posts_to_the_channel_then_updates_the_message_in_place(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    token = await connect(outbound, sandbox, "slack")
    context = Context(slack=brand_slack(keyring, ORG, token))
    channels = senders(outbound, keyring)
    sent = await channels.send(delivery(Channel.SLACK_BOT, channel="#ops"), context)
    assert sent.channel_id == "#ops"
    assert sent.ref is not None
    update = delivery(Channel.SLACK_BOT, "update", channel=sent.channel_id, ts=sent.ref)
    updated = await channels.send(update, context)
    assert updated.ref == sent.ref
    done = await actions(sandbox, "slack")
    assert [(d["action"], d["body"]["channel"]) for d in done] == [
        ("post_message", "#ops"),
        ("update_message", "#ops"),
    ]
    assert done[0]["body"]["text"] == "Action needed"
    assert done[1]["body"]["ts"] == sent.ref
    assert token not in str(done)


async def test_slack_ok_false_for_a_revoked_bot_token_is_a_permanent_failure(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    token = await connect(outbound, sandbox, "slack")
    await sandbox.post("/_sandbox/slack/revoke", json={"token": token})
    context = Context(slack=brand_slack(keyring, ORG, token))
    with pytest.raises(PermanentDeliveryError) as failure:
        await senders(outbound, keyring).send(delivery(Channel.SLACK_BOT, channel="#ops"), context)
    assert failure.value.code == "invalid_auth"  # Slack's recorded refusal (auth.test docs)
    assert token not in str(failure.value)


async def test_slack_429_is_retryable_after_its_retry_after(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    token = await connect(outbound, sandbox, "slack")
    await sandbox.post("/_sandbox/slack/faults", json={"mode": "rate_limited", "retry_after": 7})
    context = Context(slack=brand_slack(keyring, ORG, token))
    with pytest.raises(RetryableDeliveryError) as failure:
        await senders(outbound, keyring).send(delivery(Channel.SLACK_BOT, channel="#ops"), context)
    assert (failure.value.status_code, failure.value.retry_after_s) == (429, 7.0)


async def test_slack_5xx_is_retryable(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    token = await connect(outbound, sandbox, "slack")
    await sandbox.post("/_sandbox/slack/faults", json={"mode": "unavailable"})
    context = Context(slack=brand_slack(keyring, ORG, token))
    with pytest.raises(RetryableDeliveryError):
        await senders(outbound, keyring).send(delivery(Channel.SLACK_BOT, channel="#ops"), context)


@pytest.mark.parametrize(
    ("error", "leaf"),
    [
        ("channel_not_found", PermanentDeliveryError),
        ("not_in_channel", PermanentDeliveryError),
        ("internal_error", RetryableDeliveryError),
        ("ratelimited", RetryableDeliveryError),
    ],
)
async def test_slack_ok_false_bodies_are_read(
    catalog: Catalog, keyring: KeyRing, error: str, leaf: type[Exception]
) -> None:
    def slack(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": False, "error": error})

    outbound = OutboundHttp(catalog, transport=httpx.MockTransport(slack))
    context = Context(slack=brand_slack(keyring, ORG, "xoxb-0123456789"))
    with pytest.raises(leaf) as failure:
        await senders(outbound, keyring).send(delivery(Channel.SLACK_BOT, channel="#x"), context)
    assert getattr(failure.value, "code", None) == error


@pytest.mark.parametrize(
    ("raised", "leaf"),
    [
        (httpx.ConnectError("refused"), RetryableDeliveryError),
        (httpx.ReadTimeout("slow"), UncertainDeliveryError),
        (httpx.RemoteProtocolError("dropped"), UncertainDeliveryError),
    ],
)
async def test_a_request_that_may_have_arrived_is_uncertain_one_that_never_left_retryable(
    catalog: Catalog, keyring: KeyRing, raised: Exception, leaf: type[Exception]
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise raised

    outbound = OutboundHttp(catalog, transport=httpx.MockTransport(broken))
    context = Context(slack=brand_slack(keyring, ORG, "xoxb-0123456789"))
    with pytest.raises(leaf):
        await senders(outbound, keyring).send(delivery(Channel.SLACK_BOT, channel="#x"), context)


async def test_a_bot_token_sealed_for_another_organization_does_not_decrypt(
    outbound: OutboundHttp, keyring: KeyRing
) -> None:
    slack = brand_slack(keyring, uuid.uuid4(), "xoxb-of-another-brand")
    with pytest.raises(PermanentDeliveryError, match="cannot be decrypted"):
        await senders(outbound, keyring).send(
            delivery(Channel.SLACK_BOT, channel="#x"), Context(slack=slack)
        )


async def test_the_platform_webhook_posts_without_a_token(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    channels = senders(outbound, keyring, slack_webhook_url=SecretStr(WEBHOOK))
    await channels.send(delivery(Channel.SLACK_WEBHOOK), None)
    done = await actions(sandbox, "slack")
    assert [(d["action"], d["body"]["text"]) for d in done] == [("post_webhook", "Action needed")]


def test_only_a_slack_webhook_url_is_accepted() -> None:
    assert webhook_params(SecretStr(WEBHOOK))["webhook_team"] == "T0SANDBOX"
    for bad in ("https://evil.test/services/T/B/X", "http://hooks.slack.com/services/T/B/X"):
        with pytest.raises(ValueError, match="incoming-webhook") as refused:
            webhook_params(SecretStr(bad))
        assert bad not in str(refused.value)


async def test_resend_with_the_platform_key_is_idempotent_per_delivery(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    channels = senders(outbound, keyring, resend_api_key=SecretStr(RESEND_KEY))
    email = delivery(
        Channel.RESEND, via="platform", to=["ops@brand.test"], **{"from": "hub@x.test"}
    )
    first = await channels.send(email, None)
    again = await channels.send(email, None)  # a crash after sending: the same key again
    assert first.ref == again.ref
    done = await actions(sandbox, "resend")
    assert len(done) == 1
    assert done[0]["body"]["to"] == ["ops@brand.test"]
    assert done[0]["idempotency_key"] == email.idempotency_key
    calls = (await sandbox.get("/_sandbox/calls")).json()["resend"]
    assert calls["action.send_email"] == 2


async def test_resend_with_the_brands_own_key(
    outbound: OutboundHttp, sandbox: httpx.AsyncClient, keyring: KeyRing
) -> None:
    sealed = keyring.encrypt("re_brand_0123456789", Binding(ORG, "resend", "api_key"))
    context = Context(
        recipients=Recipients(("a@b.test",), email_from="Brand <hub@brand.test>"),
        resend_key=sealed.model_dump(mode="json"),
    )
    email = delivery(
        Channel.RESEND, via="brand", to=["a@b.test"], **{"from": "Brand <hub@brand.test>"}
    )
    await senders(outbound, keyring).send(email, context)
    assert (await actions(sandbox, "resend"))[0]["body"]["from"] == "Brand <hub@brand.test>"


async def test_resend_refusing_the_key_is_permanent(
    outbound: OutboundHttp, keyring: KeyRing
) -> None:
    channels = senders(outbound, keyring, resend_api_key=SecretStr("rejected-0123456789"))
    email = delivery(Channel.RESEND, via="platform", to=["a@b.test"], **{"from": "h@x.test"})
    with pytest.raises(PermanentDeliveryError) as failure:
        await channels.send(email, None)
    assert "rejected-0123456789" not in str(failure.value)


async def test_smtp_sends_text_and_html_to_a_real_server(
    outbound: OutboundHttp, keyring: KeyRing, smtp_server: tuple[int, SmtpHandler]
) -> None:
    port, handler = smtp_server
    smtp = SmtpConfig("127.0.0.1", port, start_tls=False, timeout_s=5)
    email = delivery(
        Channel.SMTP, to=["ops@brand.test", "cto@brand.test"], **{"from": "hub@x.test"}
    )
    sent = await senders(outbound, keyring, smtp=smtp).send(email, None)
    ((recipients, message),) = handler.messages
    assert recipients == ["ops@brand.test", "cto@brand.test"]
    assert message["Subject"] == "Action needed"
    assert message["Message-ID"] == sent.ref
    assert str(email.id) in message["Message-ID"]
    parts = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in parts
    assert "text/html" in parts


async def test_smtp_refusal_is_permanent_and_no_server_is_retryable(
    outbound: OutboundHttp, keyring: KeyRing, smtp_server: tuple[int, SmtpHandler]
) -> None:
    port, _ = smtp_server
    refused = delivery(Channel.SMTP, to=["rejected@brand.test"], **{"from": "hub@x.test"})
    smtp = SmtpConfig("127.0.0.1", port, start_tls=False, timeout_s=5)
    with pytest.raises(PermanentDeliveryError):
        await senders(outbound, keyring, smtp=smtp).send(refused, None)
    nobody = SmtpConfig("127.0.0.1", 9, start_tls=False, timeout_s=2)
    ok = delivery(Channel.SMTP, to=["a@brand.test"], **{"from": "hub@x.test"})
    with pytest.raises(RetryableDeliveryError):
        await senders(outbound, keyring, smtp=nobody).send(ok, None)
