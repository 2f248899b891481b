"""SECURITY.md 25 for the console: schemathesis fuzzes every route (forms and queries included)
against the running console, signed in and with a valid CSRF token, in positive and negative
mode. Every answer is below 500, and a refusal is a friendly HTML page, never JSON or a trace.

The console publishes no OpenAPI document; the test builds it from the app itself."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from admin_console.app import create_app
from admin_console.settings import ConsoleSettings
from hub_localstack.fuzz import fuzz_openapi
from schemathesis.generation import GenerationMode

from .browser import Stack

pytestmark = pytest.mark.integration
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Nothing for negative mode to break: no parameters, or only a free-text provider slug.
NOTHING_TO_BREAK = {
    "GET /sign-in",
    "GET /",
    "GET /admin/settings/notifications",
    "GET /admin/settings/integrations/{provider}/disconnect",
}


def _html_page(response: Any) -> None:
    kind = " ".join(response.headers.get("content-type", []))  # schemathesis: lists of values
    assert kind.startswith("text/html"), (response.status_code, kind, response.text[:200])
    assert "<html" in response.text.lower(), response.text[:200]


@pytest.mark.parametrize("provider", ["klaviyo", "slack", None])
def test_no_console_route_answers_malformed_input_with_a_server_error(
    stack: Stack, provider: str | None
) -> None:
    """Signed in as a fresh organization; once with an API-key provider, once with an OAuth
    one (so forms reach the provider's own handling) and once with any path."""
    with httpx.Client(base_url=stack.console, timeout=30) as browser:
        browser.get(f"/dev/sign-in?org={uuid.uuid4()}")
        hub = browser.get("/admin/settings/integrations")
        assert hub.status_code == 200
        found = CSRF.search(hub.text)
        assert found is not None
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    document = create_app(
        ConsoleSettings(store_url=stack.store, gateway_url=stack.gateway)
    ).openapi()
    fuzzed = fuzz_openapi(
        stack.console,
        {"Cookie": cookie},
        path_parameters={"provider": provider} if provider else {},
        form_fields={"csrf": found.group(1)},
        max_examples=10,
        document=document,
        refusal=_html_page,
        stateful=False,  # the console's pages link by HTML, not by OpenAPI links
    )
    assert fuzzed.operations == sum(len(operations) for operations in document["paths"].values())
    assert fuzzed.unsatisfiable <= NOTHING_TO_BREAK
    assert fuzzed.count(GenerationMode.NEGATIVE, 400) > 0
    assert fuzzed.count(GenerationMode.POSITIVE, 200) > 0
