"""Every scenario of issue 11 in a real browser against the real stack, asserting what the
person sees; each page is screenshotted and checked with axe-core."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .browser import Stack, check_page, sandbox_tokens, shoot

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

HUB = "/admin/settings/integrations"


def row(page: Any, provider: str) -> Any:
    return page.locator(f'li.row[data-provider="{provider}"]')


def connect_by_oauth(page: Any, stack: Stack, provider: str, *, back: str = "hub") -> None:
    page.goto(f"{stack.console}{HUB}/{provider}/connect?back={back}")
    page.get_by_role("button", name=re.compile(r"^Continue to ")).click()


def test_the_hub_lists_all_22_tenant_integrations_in_their_groups(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    expect(page.get_by_role("heading", level=1)).to_have_text("Integrations")
    expect(page.locator("li.row")).to_have_count(22)
    advertising = page.locator(
        "section.card", has=page.get_by_role("heading", name="Advertising Platforms")
    )
    expect(advertising).to_contain_text("Track conversions and sync ad spend")
    expect(advertising.locator("li.row .name")).to_have_text(
        ["Meta Ads", "Google Ads", "TikTok Ads"]
    )
    titles = page.locator("section.card h2").all_inner_texts()
    assert titles[:3] == ["Advertising Platforms", "Analytics", "Marketing"]
    assert "Commerce" in titles
    expect(row(page, "meta_ads").locator(".badge")).to_have_text("Not connected")
    expect(row(page, "meta_ads").get_by_role("link", name="Connect Meta Ads")).to_be_visible()
    check_page(page, "hub-empty")


def test_connect_slack_by_oauth_through_the_sandbox_shows_connected_to_on_the_hub(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    row(page, "slack").get_by_role("link", name="Connect Slack").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect Slack")
    check_page(page, "connect-oauth")
    page.get_by_role("button", name="Continue to Slack").click()
    expect(page).to_have_url(re.compile(rf"{HUB}$"))
    expect(page.get_by_role("status")).to_contain_text("Slack is connected")
    slack = row(page, "slack")
    expect(slack.locator(".badge")).to_have_text("Connected")
    expect(slack.locator(".account")).to_contain_text("Connected to ")
    expect(slack.get_by_role("button", name="Sync Now: Slack")).to_be_visible()
    check_page(page, "hub-slack-connected")


def test_klaviyo_rejected_key_shows_the_field_error_then_a_good_key_connects(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    page.goto(f"{stack.console}{HUB}/klaviyo/connect?back=hub")
    field = page.get_by_label("Private API key")
    expect(field).to_have_attribute("type", "password")
    field.fill("rejected-key-123456789")
    page.get_by_label("Public API key (site id)").fill("SiteId1234")
    page.get_by_role("button", name="Connect Klaviyo").click()
    error = page.locator(".field.invalid .error-text")
    expect(error).to_contain_text("Klaviyo rejected")
    expect(page.get_by_label("Private API key")).to_have_value("")  # never echoed back
    check_page(page, "connect-key-rejected")
    page.get_by_label("Private API key").fill("pk_good_key_123456789")
    page.get_by_label("Public API key (site id)").fill("SiteId1234")
    page.get_by_role("button", name="Connect Klaviyo").click()
    expect(page).to_have_url(re.compile(rf"{HUB}$"))
    expect(row(page, "klaviyo").locator(".badge")).to_have_text("Connected")


def test_onboarding_skips_reach_next_and_meta_ads_connects_from_its_card(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    nxt = "/admin/settings/notifications"
    page.goto(f"{stack.console}/onboarding/integrations?next={nxt}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect Integrations")
    expect(page.get_by_role("note")).to_contain_text("All integrations are optional")
    for category, names in {
        "Marketing": ["Meta Ads", "Google Ads", "TikTok Ads"],
        "Analytics": ["Google Analytics 4"],
        "Communication": ["Klaviyo", "Slack"],
        "Reviews": ["Yotpo"],
    }.items():
        section = page.locator(
            "section", has=page.get_by_role("heading", name=category, exact=True)
        )
        expect(section.locator("article h3")).to_have_text(names)
    recommended = page.locator("article:has(.recommended) h3")
    expect(recommended).to_have_text(["Meta Ads", "Google Ads", "Google Analytics 4"])
    expect(page.get_by_role("button", name="Connect Shopify")).to_be_visible()
    check_page(page, "onboarding")
    page.get_by_role("link", name="Skip for Now").click()
    expect(page).to_have_url(re.compile(f"{nxt}$"))
    page.goto(f"{stack.console}/onboarding/integrations?next=https://evil.example/")
    expect(page.get_by_role("link", name="Skip All Integrations")).to_have_attribute("href", HUB)
    page.goto(f"{stack.console}/onboarding/integrations?next={nxt}")
    page.get_by_role("link", name="Skip All Integrations").click()
    expect(page).to_have_url(re.compile(f"{nxt}$"))
    page.goto(f"{stack.console}/onboarding/integrations?next={nxt}")
    page.get_by_role("button", name="Connect Meta Ads").click()
    expect(page).to_have_url(re.compile(r"/onboarding/integrations\?next="))
    card = page.locator('article[data-provider="meta_ads"]')
    expect(card).to_contain_text("Connected")
    expect(card.locator(".recommended")).to_have_count(0)
    shoot(page, "onboarding-meta-connected")


def test_settings_are_saved_and_an_invalid_value_is_refused_next_to_its_field(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    page.goto(f"{stack.console}{HUB}/ga4")
    page.get_by_label("Measurement ID").fill("not-a-measurement-id")
    page.get_by_role("button", name="Save settings").click()
    field = page.locator(".field.invalid", has=page.get_by_label("Measurement ID"))
    expect(field.locator(".error-text")).to_contain_text("Measurement ID")
    expect(page.get_by_label("Measurement ID")).to_have_value("not-a-measurement-id")
    shoot(page, "settings-refused")
    page.get_by_label("Measurement ID").fill("G-ABC123")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("settings saved")
    expect(page.get_by_label("Measurement ID")).to_have_value("G-ABC123")
    check_page(page, "integration-ga4")


def _connect_slack(page: Any, stack: Stack) -> None:
    connect_by_oauth(page, stack, "slack")
    expect(row(page, "slack").locator(".badge")).to_have_text("Connected")


def test_sync_now_moves_last_checked(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    _connect_slack(page, stack)
    checked = row(page, "slack").locator(".last-checked")
    before = checked.inner_text() if checked.count() else None
    row(page, "slack").get_by_role("button", name="Sync Now: Slack").click()
    expect(page.get_by_role("status")).to_contain_text("Checking Slack now")
    for _ in range(20):
        page.reload()
        if checked.count() and checked.inner_text() != before:
            break
        page.wait_for_timeout(250)
    expect(checked).to_contain_text("Last checked: just now")


def test_a_revoked_slack_needs_attention_after_sync_now_and_reconnecting_clears_it(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    _connect_slack(page, stack)
    token = [t for t in sandbox_tokens(stack, "slack") if t["kind"] == "access"][-1]["token"]
    httpx.post(f"{stack.sandbox}/_sandbox/slack/revoke", json={"token": token}, timeout=5)
    row(page, "slack").get_by_role("button", name="Sync Now: Slack").click()
    reconnect = row(page, "slack").get_by_role("link", name="Reconnect Slack")
    for _ in range(100):
        if reconnect.count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(row(page, "slack").locator(".badge")).to_have_text("Needs attention")
    check_page(page, "hub-needs-attention")
    reconnect.click()
    page.get_by_role("button", name="Continue to Slack").click()
    expect(row(page, "slack").locator(".badge")).to_have_text("Connected")
    expect(row(page, "slack").get_by_role("link", name="Reconnect Slack")).to_have_count(0)


def test_disconnect_asks_for_confirmation(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    _connect_slack(page, stack)
    row(page, "slack").get_by_role("link", name="Disconnect Slack").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect Slack?")
    check_page(page, "disconnect")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Slack")
    page.get_by_role("link", name="Disconnect").click()
    expect(page.locator("#removal")).to_have_text(
        "We also withdraw the platform's access at Slack."
    )
    before = _revocations(stack, "slack")
    page.get_by_role("button", name="Yes, disconnect Slack").click()
    expect(page.get_by_role("status")).to_contain_text("Slack is disconnected")
    expect(row(page, "slack").locator(".badge")).to_have_text("Not connected")
    _wait_for(lambda: _revocations(stack, "slack") == before + 1)  # auth.revoke at Slack


def _revocations(stack: Stack, provider: str) -> int:
    calls = httpx.get(f"{stack.sandbox}/_sandbox/calls", timeout=5).json()
    return int(calls.get(provider, {}).get("revocation", 0))


def _wait_for(condition: Any, within: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.2)


def test_disconnecting_a_provider_without_revocation_says_where_to_remove_the_app(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    connect_by_oauth(page, stack, "tiktok_ads")
    expect(row(page, "tiktok_ads").locator(".badge")).to_have_text("Connected")
    page.goto(f"{stack.console}{HUB}/tiktok_ads/disconnect")
    expect(page.locator("#removal")).to_contain_text("TikTok gives us no way to withdraw")
    check_page(page, "disconnect-manual-removal")


def test_the_integration_page_shows_status_flags_activity_and_slack_routing(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    page.goto(f"{stack.console}{HUB}/slack")
    flag = page.locator("form.flag")
    expect(flag).to_contain_text("integrations.slack requires a connection")
    expect(flag.get_by_role("button", name="Turn on")).to_be_disabled()
    _connect_slack(page, stack)
    page.goto(f"{stack.console}{HUB}/slack")
    expect(page.locator(".facts")).to_contain_text("Connected to ")
    expect(page.get_by_role("group", name="Channel per notification type")).to_be_visible()
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status")).to_contain_text("integrations.slack is on")
    page.get_by_label("Connection needs attention").fill("#alerts")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Connection needs attention")).to_have_value("#alerts")
    expect(page.locator(".timeline")).to_contain_text("connected")
    check_page(page, "integration-slack")


def test_slacks_default_channel_is_picked_from_the_workspaces_channels(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    _connect_slack(page, stack)
    page.goto(f"{stack.console}{HUB}/slack")
    picker = page.get_by_label("Default channel")
    expect(picker.locator("option")).to_have_text(
        ["Choose…", "general (C012AB3CD)", "random (C061EG9T2)"]
    )
    picker.select_option("C061EG9T2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Default channel")).to_have_value("C061EG9T2")


def test_the_hub_says_when_the_platforms_account_is_in_use(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    page.goto(f"{stack.console}{HUB}")
    expect(row(page, "retell")).to_contain_text("Using the platform's account")
    expect(row(page, "slack")).not_to_contain_text("Using the platform's account")


def test_notifications_page_saves_recipients_and_refuses_a_bad_address(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    page.goto(f"{stack.console}/admin/settings/notifications")
    page.get_by_label("Recipients").fill("ops@brand.example\nnot an address")
    page.get_by_role("button", name="Save notification settings").click()
    expect(page.locator(".field.invalid .error-text")).to_be_visible()
    page.get_by_label("Recipients").fill("ops@brand.example")
    page.get_by_role("button", name="Save notification settings").click()
    expect(page.get_by_role("status")).to_contain_text("Notification settings saved")
    expect(page.get_by_label("Recipients")).to_have_value("ops@brand.example")
    check_page(page, "notifications")


def test_another_organizations_page_is_a_404(page: Any, stack: Stack) -> None:
    """The console names no organization in its URLs: the session's bearer decides. A
    session whose bearer is for one organization but which claims another gets the store's
    404 as the console's friendly page."""
    from admin_console.domain import Session
    from admin_console.settings import DEVELOPMENT_SESSION_SECRET

    mine, theirs = uuid.uuid4(), uuid.uuid4()
    page.goto(f"{stack.console}/dev/sign-in?org={mine}")
    cookie = next(c for c in page.context.cookies() if c["name"] == "console_session")
    opened = Session.open(DEVELOPMENT_SESSION_SECRET.encode(), cookie["value"], _now())
    assert opened is not None
    forged = Session(**{**opened.__dict__, "organization_id": str(theirs)})
    page.context.add_cookies(
        [{**cookie, "value": forged.seal(DEVELOPMENT_SESSION_SECRET.encode())}]
    )
    answer = page.goto(f"{stack.console}{HUB}/slack")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    answer = page.goto(f"{stack.console}{HUB}/no-such-provider")
    assert answer is not None
    assert answer.status == 404
    check_page(page, "not-found")


def test_a_form_posted_without_its_csrf_token_is_refused(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    answer = page.request.post(
        f"{stack.console}{HUB}/slack/disconnect", form={"confirm": "yes"}, max_redirects=0
    )
    assert answer.status == 403
    assert "did not come from this console" in answer.text()
    wrong = page.request.post(
        f"{stack.console}{HUB}/slack/sync", form={"csrf": "forged"}, max_redirects=0
    )
    assert wrong.status == 403


def test_the_hub_can_be_used_with_the_keyboard_alone(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == "Connect Slack":
            break
    else:
        raise AssertionError("Tab never reached Connect Slack")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect Slack")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent").strip() == "Continue to Slack":
            break
    page.keyboard.press("Enter")
    expect(row(page, "slack").locator(".badge")).to_have_text("Connected")
    row(page, "slack").get_by_role("button", name="Sync Now: Slack").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Checking Slack now")


def test_security_headers_and_the_store_outage_page(signed_in: Any, stack: Stack) -> None:
    page = signed_in
    answer = page.goto(f"{stack.console}{HUB}")
    assert answer is not None
    headers = answer.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    session = next(c for c in page.context.cookies() if c["name"] == "console_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    bad = page.goto(f"{stack.console}{HUB}/slack?cursor=%00%ff")
    assert bad is not None
    assert bad.status < 500
    junk = page.request.post(
        f"{stack.console}{HUB}/slack/settings",
        data=b"\xff\xfe",
        headers={"content-type": "text/plain"},
    )
    assert junk.status == 400


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_a_declined_oauth_lands_on_the_integration_page_with_try_again(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    faults = f"{stack.sandbox}/_sandbox/slack/faults"
    httpx.post(faults, json={"mode": "access_denied"}, timeout=5).raise_for_status()
    try:
        connect_by_oauth(page, stack, "slack")
    finally:
        httpx.post(faults, json={"mode": "ok"}, timeout=5).raise_for_status()
    expect(page).to_have_url(re.compile(rf"{HUB}/slack\?error=access_denied$"))
    expect(page.get_by_role("alert")).to_contain_text("You declined access on Slack")
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect Slack")
    page.get_by_role("button", name="Continue to Slack").click()
    expect(page.get_by_role("status")).to_contain_text("Slack is connected")
    expect(page.locator(".facts .badge")).to_have_text("Connected")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{HUB}/%2e%2e%2fetc", None),
        ("GET", f"{HUB}/{'x' * 300}", None),
        ("GET", f"{HUB}/slack?cursor={'9' * 40}", None),
        ("GET", "/dev/sign-in?org=not-a-uuid", None),
        ("POST", "/sign-in", "token=not.a.jwt&marker=x"),
        ("POST", f"{HUB}/slack/flags", "csrf=x&flag=" + "%ff" * 10),
        ("POST", f"{HUB}/slack/settings", "a=" + "b" * 70_000),
        ("GET", "/onboarding/integrations?next=%0d%0aSet-Cookie:x", None),
    ],
)
def test_malformed_input_is_a_friendly_page_never_a_500(
    signed_in: Any, stack: Stack, method: str, path: str, body: str | None
) -> None:
    answer = signed_in.request.fetch(
        f"{stack.console}{path}",
        method=method,
        data=body,
        headers={"content-type": "application/x-www-form-urlencoded"} if body else {},
        max_redirects=0,
    )
    assert answer.status < 500, (path, answer.status)
    if answer.status >= 400:
        assert "<h1>" in answer.text()
        assert "Traceback" not in answer.text()


def test_a_sign_in_finished_in_another_browser_lands_on_the_integration_page_with_try_again(
    signed_in: Any, stack: Stack, org: uuid.UUID, browser: Any, browser_context_args: Any
) -> None:
    """The gateway refuses a callback from a browser that did not start the flow and sends
    that browser back to the console's page of the integration, saying why."""
    page = signed_in
    page.goto(f"{stack.console}{HUB}/slack/connect")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    started = page.request.post(  # this browser starts the flow (its cookies, no redirect)
        f"{stack.console}{HUB}/slack/connect",
        form={"csrf": csrf, "method": "oauth", "back": "page"},
        max_redirects=0,
    )
    assert started.status == 303, started.text()
    auth_url = started.headers["location"]
    other = browser.new_context(**browser_context_args).new_page()
    try:
        other.goto(f"{stack.console}/dev/sign-in?org={org}")
        other.goto(auth_url)  # and another finishes it
        expect(other).to_have_url(re.compile(rf"{HUB}/slack\?error=browser_mismatch$"))
        alert = other.get_by_role("alert")
        expect(alert).to_contain_text("finished in a different browser")
        expect(other.locator(".facts .badge")).not_to_have_text("Connected")
        check_page(other, "integration-oauth-refused")
        other.get_by_role("link", name="Try again").click()
        expect(other.get_by_role("heading", level=1)).to_have_text("Connect Slack")
        other.get_by_role("button", name="Continue to Slack").click()
        expect(other.get_by_role("status")).to_contain_text("Slack is connected")
    finally:
        other.context.close()


def test_klaviyo_lists_are_picked_from_the_brands_lists_or_typed_with_a_note(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    page.goto(f"{stack.console}{HUB}/klaviyo")
    lists = page.get_by_label("Lists to sync")
    expect(lists).to_have_js_property("tagName", "TEXTAREA")  # nothing to list with yet
    expect(page.locator(".picker-note").first).to_contain_text(
        "Connect Klaviyo to choose from your lists"
    )
    page.goto(f"{stack.console}{HUB}/klaviyo/connect")
    page.get_by_label("Private API key").fill("pk_good_key_123456789")
    page.get_by_label("Public API key (site id)").fill("SiteId1234")
    page.get_by_role("button", name="Connect Klaviyo").click()
    expect(page.locator(".facts .badge")).to_have_text("Connected")
    lists = page.get_by_label("Lists to sync")
    expect(lists).to_have_js_property("tagName", "SELECT")
    expect(lists.locator("option")).to_have_text(["Newsletter (Y6nRLr)", "VIP customers (XyZ123)"])
    lists.select_option(["Y6nRLr", "XyZ123"])
    page.get_by_label("Segments to sync").select_option("SeG002")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Klaviyo settings saved")
    expect(page.get_by_label("Lists to sync")).to_have_values(["Y6nRLr", "XyZ123"])
    expect(page.get_by_label("Segments to sync")).to_have_values(["SeG002"])
    check_page(page, "integration-klaviyo")


def test_a_brand_switches_from_the_platforms_account_to_its_own_key_and_back(
    signed_in: Any, stack: Stack
) -> None:
    page = signed_in
    retell = row(page, "retell")
    expect(retell).to_contain_text("Using the platform's account")
    expect(retell.locator(".badge")).to_have_text("Platform account")
    retell.get_by_role("link", name="Use your own key: Retell (Voice/SMS)").click()
    page.get_by_label("API key").fill("key_brand_own_123456")
    page.get_by_role("button", name=re.compile("^Connect Retell")).click()
    expect(row(page, "retell").locator(".account")).to_contain_text("own key")
    page.goto(f"{stack.console}{HUB}/retell")
    expect(page.locator(".facts")).to_contain_text("own key")
    page.get_by_role("link", name="Use the platform's account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("back to the platform's account")
    page.get_by_role("button", name="Yes, switch back to the platform's account").click()
    expect(page.get_by_role("status")).to_contain_text("uses the platform's account again")
    expect(page.locator(".facts")).to_contain_text("Using the platform's account")
    expect(page.get_by_role("link", name="Use your own key")).to_be_visible()
    check_page(page, "integration-platform-account")
