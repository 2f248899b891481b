"""Messages: what broke, the account, the reason in plain words, since when, the next step
and a link to the integration's settings page; escaped for each channel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from notifier.domain import messages
from notifier.domain.messages import Facts

SINCE = datetime(2026, 3, 3, 14, 2, tzinfo=UTC)
LINK = messages.settings_link("https://admin.example/", "meta_ads")


def facts(kind: str = "opened", reason: str = "revoked", **changes: object) -> Facts:
    values: dict[str, object] = {
        "kind": kind,
        "provider_id": "meta_ads",
        "provider_name": "Meta Ads",
        "account_name": "Acme Ads",
        "reason": reason,
        "since": SINCE,
        "detail": "Meta refused the token (HTTP 400, 190)",
        "link": LINK,
    }
    return Facts(**{**values, **changes})  # type: ignore[arg-type]


def test_the_link_goes_to_the_integrations_settings_page() -> None:
    assert LINK == "https://admin.example/admin/settings/integrations/meta-ads"


def test_an_alert_names_provider_account_reason_since_and_the_reconnect_step() -> None:
    message = messages.render(facts())
    assert message.title == "Action needed: Meta Ads connection revoked"
    assert "Meta Ads (Acme Ads) stopped accepting our access" in message.what
    assert message.since == "Since 3 March 2026, 14:02 UTC."
    assert message.next_step == "Reconnect Meta Ads in Settings → Integrations."


@pytest.mark.parametrize(
    "reason",
    [
        "revoked",
        "expired",
        "reauth_soon",
        "invalid_credentials",
        "insufficient_scope",
        "provider_unavailable",
        "misconfigured",
        "something_new",
    ],
)
def test_every_reason_renders_with_a_next_step(reason: str) -> None:
    message = messages.render(facts(reason=reason))
    assert "Meta Ads" in message.what
    assert "Settings → Integrations" in message.next_step
    assert "$" not in message.what + message.next_step + message.title


def test_the_reminder_for_a_token_that_cannot_be_refreshed_says_when_it_expires() -> None:
    expires = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    message = messages.render(facts(reason="reauth_soon", token_expires_at=expires))
    assert "expires on 10 March 2026, 09:00 UTC" in message.what
    assert message.next_step.startswith("Reconnect Meta Ads in Settings → Integrations before")


def test_a_reminder_says_it_is_still_unresolved() -> None:
    message = messages.render(facts(kind="reminder", reminder=2))
    assert message.title.startswith("Reminder:")
    assert message.since.startswith("Still unresolved since 3 March 2026")


def test_a_recovery_says_it_works_again() -> None:
    message = messages.render(facts(kind="recovered"))
    assert message.title == "Resolved: Meta Ads is working again"
    assert message.what == "Meta Ads (Acme Ads) is connected and working again."


def test_slack_payload_has_text_blocks_and_a_button_and_escapes_markup() -> None:
    message = messages.render(facts(account_name="<!channel> & co"))
    payload = messages.slack(message)
    assert payload["text"].startswith("Action needed: Meta Ads connection revoked.")
    section = payload["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt; &amp; co" in section
    assert "<!channel>" not in section
    assert payload["blocks"][2]["elements"][0]["url"] == LINK


def test_email_has_subject_text_and_escaped_html() -> None:
    message = messages.render(facts(account_name="<b>Acme</b>"))
    mail = messages.email(message)
    assert mail["subject"] == "Action needed: Meta Ads connection revoked"
    assert "Reconnect Meta Ads in Settings → Integrations." in mail["text"]
    assert LINK in mail["text"]
    assert "&lt;b&gt;Acme&lt;/b&gt;" in mail["html"]
    assert "<b>Acme</b>" not in mail["html"]
