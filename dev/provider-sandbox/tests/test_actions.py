"""Actions: Slack's chat.postMessage / chat.update and incoming webhook, Resend's send, played
from the catalog's ``actions``, counted as ``action.<name>`` and listed with their bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from hub_catalog import classify, render

WEBHOOK = {"webhook_team": "T0001", "webhook_bot": "B0001", "webhook_key": "abc123"}


async def _act(
    client: Any, name: str, body: Any, credential: dict[str, str], **headers: str
) -> httpx.Response:
    action = client.provider.actions[name]
    values = client.values | credential
    if action.authenticated:
        for placement in client.mode().transport:
            headers[placement.name] = render(placement.value, values)
    return await client.http.post(client.url(action.url, values), json=body, headers=headers)


async def _slack(sandbox: Callable[[str], Any]) -> tuple[Any, dict[str, str]]:
    slack = sandbox("slack")
    return slack, {"access_token": (await slack.connect_oauth(slack.mode()))["access_token"]}


async def test_post_message_answers_ok_with_the_channel_and_a_ts_and_is_listed(
    sandbox: Callable[[str], Any],
) -> None:
    slack, token = await _slack(sandbox)
    answer = await _act(slack, "post_message", {"channel": "#alerts", "text": "hi"}, token)
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    assert body["channel"] == "#alerts"
    assert body["ts"].startswith("sbx-slack-post_message-")
    update = await _act(
        slack, "update_message", {"channel": "#alerts", "ts": body["ts"], "text": "fixed"}, token
    )
    assert update.json() == {"ok": True, "channel": "#alerts", "ts": body["ts"]}
    done = (await slack.http.get("/_sandbox/slack/actions")).json()
    assert [(d["action"], d["body"]["text"], d["result_id"]) for d in done] == [
        ("post_message", "hi", body["ts"]),
        ("update_message", "fixed", body["ts"]),
    ]
    calls = (await slack.http.get("/_sandbox/calls")).json()["slack"]
    assert (calls["action.post_message"], calls["action.update_message"]) == (1, 1)


async def test_a_revoked_bot_token_gets_slacks_ok_false_and_nothing_is_posted(
    sandbox: Callable[[str], Any],
) -> None:
    slack, token = await _slack(sandbox)
    await slack.http.post("/_sandbox/slack/revoke", json={"token": token["access_token"]})
    answer = await _act(slack, "post_message", {"channel": "#alerts", "text": "hi"}, token)
    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    assert classify(slack.provider, 200, answer.json()) == "revoked"
    assert (await slack.http.get("/_sandbox/slack/actions")).json() == []


async def test_a_rate_limit_fault_answers_429_and_posts_nothing(
    sandbox: Callable[[str], Any],
) -> None:
    slack, token = await _slack(sandbox)
    await slack.fault("rate_limited", retry_after=3)
    limited = await _act(slack, "post_message", {"channel": "#a", "text": "x"}, token)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    await slack.fault("ok")
    assert (await _act(slack, "post_message", {"channel": "#a", "text": "x"}, token)).is_success
    assert len((await slack.http.get("/_sandbox/slack/actions")).json()) == 1


async def test_a_webhook_needs_no_token_and_refuses_a_rejected_url(
    sandbox: Callable[[str], Any],
) -> None:
    slack = sandbox("slack")
    answer = await _act(slack, "post_webhook", {"text": "hi"}, WEBHOOK)
    assert answer.status_code == 200
    refused = await _act(
        slack, "post_webhook", {"text": "hi"}, WEBHOOK | {"webhook_key": "rejected"}
    )
    assert refused.status_code == 404
    assert [d["action"] for d in (await slack.http.get("/_sandbox/slack/actions")).json()] == [
        "post_webhook"
    ]


async def test_resend_repeats_the_first_answer_for_a_repeated_idempotency_key(
    sandbox: Callable[[str], Any],
) -> None:
    resend = sandbox("resend")
    key = {"api_key": "re_0123456789abcdef"}
    email = {"from": "hub@example.com", "to": ["ops@brand.test"], "subject": "s", "text": "t"}
    first = await _act(resend, "send_email", email, key, **{"Idempotency-Key": "k1"})
    again = await _act(resend, "send_email", email, key, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["id"].startswith("sbx-resend-send_email-")
    other = await _act(
        resend, "send_email", email | {"subject": "x"}, key, **{"Idempotency-Key": "k1"}
    )
    assert (other.status_code, other.json()["error"]) == (409, "invalid_idempotent_request")
    done = (await resend.http.get("/_sandbox/resend/actions")).json()
    assert [(d["body"]["to"], d["idempotency_key"]) for d in done] == [(["ops@brand.test"], "k1")]
    assert (await resend.http.get("/_sandbox/calls")).json()["resend"]["action.send_email"] == 3


async def test_a_refused_key_gets_resends_revoked_answer(sandbox: Callable[[str], Any]) -> None:
    resend = sandbox("resend")
    email = {"from": "a@b.test", "to": ["c@d.test"], "subject": "s", "text": "t"}
    answer = await _act(resend, "send_email", email, {"api_key": "rejected-0123456789"})
    assert classify(resend.provider, answer.status_code, answer.json()) == "revoked"


async def test_an_action_body_must_be_a_json_object(sandbox: Callable[[str], Any]) -> None:
    slack, token = await _slack(sandbox)
    answer = await _act(slack, "post_message", ["not", "an", "object"], token)
    assert answer.status_code == 400


async def test_reset_forgets_the_actions(sandbox: Callable[[str], Any]) -> None:
    slack = sandbox("slack")
    await _act(slack, "post_webhook", {"text": "hi"}, WEBHOOK)
    await slack.http.post("/_sandbox/reset")
    assert (await slack.http.get("/_sandbox/slack/actions")).json() == []
