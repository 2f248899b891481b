"""SECURITY.md 8 and 14: codes, states, tokens and keys never reach a log line of the gateway.

(``httpx`` logs request lines with their query; ``python -m oauth_gateway`` silences it below
WARNING, and the end-to-end suite scans the real process's log.)
"""

from __future__ import annotations

import logging
import uuid

import pytest
from hub_runtime.logging import JsonFormatter

from .conftest import Harness
from .test_oauth_flows import query


async def test_nothing_secret_is_logged_on_any_path(
    gateway: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    for provider in ("slack", "meta_ads", "shopify"):
        location = await gateway.callback_url(provider)
        secrets += [query(location)["code"], query(location)["state"]]
        await gateway.browser.get(location)
        await gateway.browser.get(location)  # replay: refused, logged
    for key in (f"pk_canary_{uuid.uuid4().hex}", f"rejected_canary_{uuid.uuid4().hex}"):
        fields = {"private_api_key": key, "public_api_key": "site"}
        secrets.append(key)
        await gateway.browser.post(
            f"/v1/orgs/{gateway.org}/integrations/klaviyo/credentials",
            json={"fields": fields},
            headers=gateway.headers,
        )
    for provider in ("slack", "meta_ads", "shopify"):
        tokens = (await gateway.sandbox.get(f"/_sandbox/{provider}/tokens")).json()
        secrets += [t["token"] for t in tokens]
    formatter = JsonFormatter("oauth-gateway")
    lines = [
        formatter.format(record)
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    ]
    assert any("oauth callback" in line for line in lines)
    for secret in secrets:
        assert len(secret) > 8
        assert not any(secret in line for line in lines), secret[:12]
