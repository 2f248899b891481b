"""Every scenario of issue 11 in a real browser against the real stack, asserting what the
person sees; each page is screenshotted and checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .browser import Stack, check_page

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
