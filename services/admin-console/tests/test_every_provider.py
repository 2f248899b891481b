"""Issue 11's "done when", over HTTP: for every tenant provider of the catalog, a person signs in,
connects (OAuth through the sandbox's authorize page, or the key form with values the sandbox
accepts), saves the settings form as the page offers it, presses Sync Now, and disconnects,
all through the console's own routes against the real stack. No browser: a cookie jar follows
the redirects, and the assertions read the pages' HTML."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from hub_catalog import AuthType, CredentialField, Provider, load_catalog
from provider_sandbox import example_value

from .browser import Stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

HUB = "/admin/settings/integrations"
CATALOG = load_catalog()
TENANT = [p.id for p in CATALOG.tenant_providers()]
SHOP = "acme.myshopify.com"


class Forms(HTMLParser):
    """The page's forms: action, and each control's name and what submitting it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "controls": []})
        elif not self.forms:
            return
        elif tag == "input":
            self.forms[-1]["controls"].append({"tag": "input", **a, "checked": "checked" in a})
        elif tag == "select":
            self._select = {"tag": "select", **a, "multiple": "multiple" in a, "options": []}
            self.forms[-1]["controls"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea = {"tag": "textarea", **a, "text": ""}
            self.forms[-1]["controls"].append(self._textarea)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data


def forms(page: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(page)
    return parser.forms


def form_to(page: str, action_suffix: str) -> dict[str, Any]:
    found = [f for f in forms(page) if f["action"].endswith(action_suffix)]
    assert found, f"no form posting to …{action_suffix}"
    return found[0]


def pattern_example(pattern: str) -> str:
    """A value of the setting's shape (the sandbox's example maker, for a setting's pattern),
    or empty (the setting stays unset) where the maker cannot read the pattern."""
    try:
        return example_value(CredentialField(name="x", label="x", pattern=pattern))
    except ValueError:
        return ""


def filled_settings(provider: Provider, form: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings form as a person would send it: each picker's first choice, every checkbox
    on, and an empty text setting given a value of its shape."""
    patterns = {s.name: s.pattern for s in provider.settings if s.resource is None}
    body: list[tuple[str, str]] = []
    for control in form["controls"]:
        name = control.get("name")
        if not name:
            continue
        if control["tag"] == "select":
            options = [value for value, _ in control["options"] if value]
            assert options, f"{provider.id}: the {name} picker offers nothing"
            body.append((name, options[0]))
        elif control["tag"] == "textarea":
            text = html.unescape(control["text"]).strip()
            if not text and patterns.get(name):
                text = pattern_example(patterns[name])  # type: ignore[arg-type]
            body.append((name, text))
        elif control.get("type") == "checkbox":
            body.append((name, "on"))
        elif control.get("type") == "hidden":
            body.append((name, control.get("value", "")))
        else:
            value = html.unescape(control.get("value", ""))
            setting = name.split(".")[0]
            if not value and patterns.get(setting):
                value = pattern_example(patterns[setting])  # type: ignore[arg-type]
            body.append((name, value))
    return body


def as_form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Pairs as httpx sends a form with repeated names (a multiple select)."""
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def badge(page: str) -> str:
    found = re.search(r'<dl class="facts">.*?<span class="badge[^"]*">([^<]+)</span>', page, re.S)
    assert found, "no status badge"
    return found.group(1)


def last_checked(page: str) -> str:
    found = re.search(r'<dd class="last-checked">([^<]*)</dd>', page)
    assert found, "no Last checked"
    return found.group(1)


def flash(page: str) -> str:
    found = re.search(r'class="flash[^"]*"[^>]*>(.*?)</', page, re.S)
    return html.unescape(found.group(1)).strip() if found else ""


@pytest.fixture
def person(stack: Stack) -> Iterator[httpx.Client]:
    """A browser's worth of HTTP: a cookie jar that follows redirects, signed in."""
    with httpx.Client(follow_redirects=True, timeout=20) as client:
        answer = client.get(f"{stack.console}/dev/sign-in?org={uuid.uuid4()}")
        assert answer.status_code == 200
        assert str(answer.url).endswith(HUB)
        yield client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def connect(person: httpx.Client, stack: Stack, provider: Provider) -> httpx.Response:
    page_url = f"{stack.console}{HUB}/{provider.id.replace('_', '-')}"
    connect_page = person.get(f"{page_url}/connect")
    assert connect_page.status_code == 200, connect_page.text
    token = csrf(connect_page.text)
    if provider.auth.type == AuthType.OAUTH2_AUTHORIZATION_CODE:
        body = {"csrf": token, "method": "oauth", "back": "page"}
        if provider.tenant_params:
            body["shop"] = SHOP
        # Console → gateway's start → the sandbox's authorize page → the gateway's callback
        # → the console's return → the integration page.
        return person.post(f"{page_url}/connect", data=body)
    mode = next(m for m in provider.auth_modes if m.fields)
    body = {"csrf": token, "back": "page"} | {f.name: example_value(f) for f in mode.fields}
    return person.post(f"{page_url}/connect", data=body)


@pytest.mark.parametrize("provider_id", TENANT)
def test_a_person_connects_configures_syncs_and_disconnects_every_provider(
    provider_id: str, stack: Stack, person: httpx.Client
) -> None:
    provider = CATALOG.get(provider_id)
    page_url = f"{stack.console}{HUB}/{provider_id.replace('_', '-')}"
    shared = provider.shared_account is not None and f"{provider.id}" in _shared(person, stack)

    connected = connect(person, stack, provider)
    assert connected.status_code == 200, connected.text
    assert str(connected.url) == page_url, (connected.url, flash(connected.text))
    assert f"{provider.name} is connected" in flash(connected.text)
    assert badge(connected.text) == "Connected"

    page = connected.text
    # Twice: a picker that depends on another setting (Meta's pixel on the ad account) offers
    # its choices once that one is saved.
    for _ in range(2 if provider.settings else 0):
        body = filled_settings(provider, form_to(page, "/settings"))
        saved = person.post(f"{page_url}/settings", data=as_form(body))
        assert saved.status_code == 200, (body, saved.text[-3000:])
        assert str(saved.url) == page_url
        assert flash(saved.text) == f"{provider.name} settings saved."
        page = saved.text
    pickers = {s.name for s in provider.settings if s.resource is not None}
    if pickers:
        shown = {c["name"]: c for c in form_to(page, "/settings")["controls"] if c.get("name")}
        for name in pickers:  # every picker is a <select> of the brand's resources, chosen
            assert shown[name]["tag"] == "select", (name, shown[name])
            assert [value for value, selected in shown[name]["options"] if selected], name

    synced = person.post(f"{page_url}/sync", data={"csrf": csrf(connected.text)})
    assert synced.status_code == 200
    assert flash(synced.text) == f"Checking {provider.name} now; this takes a moment."
    deadline = time.monotonic() + 20
    page = synced.text
    while last_checked(page) == "never" and time.monotonic() < deadline:
        time.sleep(0.3)
        page = person.get(page_url).text
    assert last_checked(page) == "just now"
    assert badge(page) == "Connected"

    confirm = person.get(f"{page_url}/disconnect")
    assert confirm.status_code == 200
    form = form_to(confirm.text, "/disconnect")
    body = [(c["name"], c.get("value", "")) for c in form["controls"] if c.get("name")]
    gone = person.post(f"{page_url}/disconnect", data=as_form(body))
    assert gone.status_code == 200
    if shared:
        assert str(gone.url) == page_url
        assert flash(gone.text) == f"{provider.name} uses the platform's account again."
        assert badge(gone.text) == "Platform account"
        assert "Using the platform's account" in gone.text
    else:
        assert str(gone.url).endswith(HUB)
        assert flash(gone.text) == f"{provider.name} is disconnected."
        assert badge(person.get(page_url).text) == "Not connected"


def _shared(person: httpx.Client, stack: Stack) -> set[str]:
    """Providers whose platform account the stack configures, as the hub shows them."""
    hub = person.get(f"{stack.console}{HUB}").text
    rows = re.findall(r'<li class="row" data-provider="([a-z_]+)">(.*?)</li>', hub, re.S)
    return {ident for ident, row in rows if "Using the platform's account" in row}
