"""The console's pure rules: signed cookies, CSRF, ``next``, badges, settings forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from admin_console import domain
from admin_console.domain import Session

SECRET = b"s" * 40
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def test_a_session_survives_sealing_and_refuses_tampering_expiry_and_other_purposes() -> None:
    session = Session.new("bearer", "org", "ada", int((NOW + timedelta(hours=1)).timestamp()))
    cookie = session.seal(SECRET)
    assert Session.open(SECRET, cookie, NOW) == session
    payload, _, mac = cookie.rpartition(".")
    assert Session.open(SECRET, payload[:-2] + "AA." + mac, NOW) is None
    assert Session.open(b"x" * 40, cookie, NOW) is None
    assert Session.open(SECRET, cookie, NOW + timedelta(hours=2)) is None
    assert domain.unseal(SECRET, "flash", cookie) is None
    assert Session.open(SECRET, "garbage", NOW) is None
    assert Session.open(SECRET, payload + ".é" + mac[1:], NOW) is None  # a non-ASCII forgery


def test_csrf_tokens_belong_to_one_session() -> None:
    token = domain.csrf_token(SECRET, "nonce-a")
    assert domain.csrf_valid(SECRET, "nonce-a", token)
    assert not domain.csrf_valid(SECRET, "nonce-b", token)
    assert not domain.csrf_valid(SECRET, "nonce-a", "")
    assert not domain.csrf_valid(SECRET, "nonce-a", "é" * len(token))  # found by the fuzz test


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/admin/settings/notifications", "/admin/settings/notifications"),
        ("https://wizard.example/step/6", "https://wizard.example/step/6"),
        ("//evil.example/", "/hub"),
        ("https://evil.example/", "/hub"),
        ("https://wizard.example@evil.example/", "/hub"),
        ("/\\evil.example", "/hub"),
        ("javascript:alert(1)", "/hub"),
        ("/x\r\nSet-Cookie: a=b", "/hub"),
        (None, "/hub"),
    ],
)
def test_next_is_a_console_path_or_an_allowed_origin(candidate: str | None, expected: str) -> None:
    origins = ["https://wizard.example"]
    assert domain.safe_next(candidate, "http://127.0.0.1:8100", origins, "/hub") == expected


@pytest.mark.parametrize(
    ("status", "step", "label"),
    [
        ("active", None, "Connected"),
        ("connecting", None, "Connecting"),
        ("expired", "Reconnect Slack in Settings → Integrations.", "Needs attention"),
        ("error", "Reconnect Slack in Settings → Integrations.", "Needs attention"),
        ("error", "Slack is not answering; we retry.", "Error"),
        ("not_connected", None, "Not connected"),
        ("disconnected", None, "Not connected"),
    ],
)
def test_badges(status: str, step: str | None, label: str) -> None:
    assert domain.badge(status, step).label == label


def test_relative_times() -> None:
    assert domain.relative(NOW - timedelta(seconds=5), NOW) == "just now"
    assert domain.relative(NOW - timedelta(minutes=5), NOW) == "5 minutes ago"
    assert domain.relative(NOW + timedelta(days=3), NOW) == "in 3 days"
    assert domain.relative(None, NOW) is None


def test_settings_forms_from_the_schema_and_back() -> None:
    schema = {
        "properties": {
            "pixel_id": {"type": "string", "pattern": r"^\d+$", "title": "Pixel"},
            "ad_account_id": {"type": "string", "x-resource": "ad_accounts", "title": "Ad account"},
            "capi": {"type": "boolean", "title": "CAPI"},
            "lists": {"type": "array", "items": {"type": "string"}, "title": "Lists"},
            "segments": {"type": "array", "items": {"type": "string"}, "x-resource": "segments"},
            "limit": {"type": "integer", "title": "Limit"},
            "routing": {"type": "object", "properties": {"alerts": {}, "digest": {}}},
        },
        "required": ["pixel_id"],
    }
    fields = domain.settings_fields(schema, {"pixel_id": "42"})
    kinds = {f.name: f.kind for f in fields}
    assert kinds == {
        "pixel_id": "text",
        "ad_account_id": "select",
        "capi": "checkbox",
        "lists": "list",
        "segments": "multiselect",
        "limit": "number",
        "routing": "map",
    }
    form = {
        "pixel_id": ["7"],
        "ad_account_id": [""],
        "lists": ["a\n b \n\n"],
        "segments": ["S1", "S2", ""],
        "limit": ["x"],
        "routing.alerts": ["#ops"],
    }
    patch, problems = domain.settings_patch(fields, form)
    assert patch == {
        "pixel_id": "7",
        "ad_account_id": None,
        "capi": False,
        "lists": ["a", "b"],
        "segments": ["S1", "S2"],
        "routing": {"alerts": "#ops"},
    }
    assert problems == {"limit": "Enter a whole number."}


def test_the_disconnect_notice_follows_the_connections_mode() -> None:
    oauth = {"type": "oauth2_authorization_code", "credential_fields": []}
    key = {"type": "api_key", "credential_fields": [{"name": "api_token"}]}
    wise = {"name": "Wise", "auth_modes": [key, {**oauth, "manual_removal": "Remove it in Wise."}]}
    assert domain.removal_notice(wise, "oauth2_authorization_code") == "Remove it in Wise."
    assert domain.removal_notice(wise, "api_key") == (
        "This deletes the key here only: to withdraw it, delete it at Wise too."
    )
    slack = {"name": "Slack", "auth_modes": [{**oauth, "revocable": True}]}
    assert domain.removal_notice(slack, None) == "We also withdraw the platform's access at Slack."
    assert domain.removal_notice({"name": "X", "auth_modes": []}, None) is None
