"""One trace per user action, through every service, written locally as OTLP JSON and drawn by
``hubctl trace``; and every notification of the local stack shows at the sandbox (``make run``'s
platform Resend key and Slack webhook)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hub_localstack.run import SERVICES
from hub_localstack.services import ServiceProcess
from hubctl.traces import read_spans, traces

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ALL = {"oauth-gateway", "connection-store", "token-refresher", "health-monitor", "notifier"}


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _token(env: dict[str, str], org: uuid.UUID) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hubctl", "token", "--org", str(org)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


async def _wait(check: Any, what: str, within: float = 40.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


@pytest.mark.timeout(900)  # five services and five actions; minutes on a loaded machine
async def test_one_trace_per_action_with_every_service_and_every_notification_shown(
    hub: dict[str, ServiceProcess],
    hub_env: dict[str, str],
    trace_file: Path,
    sandbox_url: str,
    database_url: str,
) -> None:
    env = {**hub_env, **{SERVICES[n].port_variable: str(p.port) for n, p in hub.items()}}
    gateway, store = hub["oauth-gateway"].url, hub["connection-store"].url
    org = uuid.uuid4()
    auth = {"Authorization": f"Bearer {_token(env, org)}"}
    api = f"{store}/v1/orgs/{org}"
    actions: dict[str, str] = {}

    async def services_of(trace_id: str) -> set[str]:
        if not await asyncio.to_thread(trace_file.exists):
            return set()
        found = traces(await asyncio.to_thread(read_spans, trace_file)).get(trace_id, [])
        return {s.service for s in found}

    async def status(provider: str, wanted: str) -> bool:
        async with httpx.AsyncClient(timeout=10) as http:
            body = (await http.get(f"{api}/integrations/{provider}", headers=auth)).json()
        return body.get("status") == wanted

    async def browser_connect(action: str) -> None:
        trace_id, parent = _traceparent()
        actions[action] = trace_id
        async with httpx.AsyncClient(timeout=20, headers={"traceparent": parent}) as browser:
            started = await browser.post(
                f"{gateway}/v1/orgs/{org}/integrations/google_ads/oauth/start",
                json={},
                headers=auth,
            )
            assert started.status_code == 201, started.text
            authorize = await browser.get(started.json()["auth_url"])
            assert authorize.status_code == 302, authorize.text
            callback = await browser.get(authorize.headers["location"])
            assert callback.status_code == 303, callback.text
        await _wait(lambda: status("google_ads", "active"), f"{action}: google_ads active")

    # The sandbox outlives this module: its own recipient tells this test's emails apart.
    recipient = f"ops+{org.hex[:12]}@brand.example"
    async with httpx.AsyncClient(timeout=20) as http:
        # Someone to tell: recipients, and Resend connected by API key.
        patched = await http.patch(
            f"{api}/notifications", json={"email_recipients": [recipient]}, headers=auth
        )
        assert patched.status_code == 200, patched.text
        resend_key = f"re_{uuid.uuid4().hex}"
        connected = await http.post(
            f"{gateway}/v1/orgs/{org}/integrations/resend/credentials",
            json={"fields": {"api_key": resend_key}},
            headers=auth,
        )
        assert connected.status_code == 201, connected.text
        await _wait(lambda: status("resend", "active"), "resend active")

        # 1. connect (OAuth through the browser)
        await browser_connect("connect")

        # 2. refresh: the connection comes due, the store's sweep hands it to the refresher
        db = await asyncpg.connect(database_url)
        try:
            await db.execute(
                "UPDATE integration_connections SET next_refresh_at = now() "
                "WHERE organization_id = $1 AND provider = 'google_ads'",
                org,
            )
        finally:
            await db.close()

        async def refreshed() -> str | None:
            found = traces(await asyncio.to_thread(read_spans, trace_file))
            for trace_id, spans in found.items():
                names = {s.service for s in spans}
                if (
                    trace_id not in actions.values()
                    and {"token-refresher"} <= names
                    and any(
                        s.attributes.get("hub.provider") == "google_ads"
                        or "google_ads" in str(s.attributes)
                        for s in spans
                    )
                ):
                    return trace_id
            return None

        actions["refresh"] = await _wait(refreshed, "the refresh trace")

        # 3. notify: the brand's Resend key is revoked at the provider; Sync now finds out
        revoked = await http.post(
            f"{sandbox_url}/_sandbox/resend/revoke", json={"token": resend_key}
        )
        assert revoked.status_code == 200
        trace_id, parent = _traceparent()
        actions["notify"] = trace_id
        synced = await http.post(
            f"{api}/integrations/resend/sync", headers={**auth, "traceparent": parent}
        )
        assert synced.status_code == 202, synced.text
        await _wait(lambda: status("resend", "expired"), "resend expired")

        async def emailed() -> list[dict[str, Any]]:
            sent = (await http.get(f"{sandbox_url}/_sandbox/resend/actions")).json()
            return [a for a in sent if recipient in str(a["body"])]

        emails = await _wait(emailed, "the email at /_sandbox/resend/actions")
        assert "Resend" in str(emails[0]["body"])

        async def slacked() -> list[dict[str, Any]]:
            posted = (await http.get(f"{sandbox_url}/_sandbox/slack/actions")).json()
            return [a for a in posted if a["action"] == "post_webhook"]

        assert await _wait(slacked, "the platform webhook post at /_sandbox/slack/actions")

        # 4. revoke: the brand disconnects Google Ads; the gateway revokes it at the provider
        trace_id, parent = _traceparent()
        actions["revoke"] = trace_id
        gone = await http.delete(
            f"{api}/integrations/google_ads", headers={**auth, "traceparent": parent}
        )
        assert gone.status_code in (200, 202, 204), gone.text
        await _wait(lambda: status("google_ads", "disconnected"), "google_ads disconnected")

    # 5. reconnect
    await browser_connect("reconnect")

    expected = {
        "connect": {"oauth-gateway", "connection-store", "notifier"},
        "refresh": {"connection-store", "token-refresher"},
        "notify": {"connection-store", "health-monitor", "notifier"},
        "revoke": {"connection-store", "oauth-gateway"},
        "reconnect": {"oauth-gateway", "connection-store", "notifier"},
    }
    seen: set[str] = set()
    for action, trace_id in actions.items():
        wanted = expected[action]
        got = await _wait(
            lambda t=trace_id, w=wanted: _superset(services_of(t), w), f"{action}'s spans"
        )
        seen |= got
    assert seen == ALL
    spans = traces(read_spans(trace_file))[actions["notify"]]
    assert any(s.name.startswith("notify ") and s.service == "notifier" for s in spans)
    assert len(set(actions.values())) == len(actions)

    for action, trace_id in actions.items():
        drawn = await asyncio.to_thread(_hubctl, env, "trace", trace_id[:12], "--file", trace_file)
        assert f"trace {trace_id}" in drawn, action
        for service in expected[action]:
            assert service in drawn, (action, service)
        assert "█" in drawn
    last = await asyncio.to_thread(_hubctl, env, "trace", "last", "--file", trace_file)
    assert "trace " in last


async def _superset(found: Any, wanted: set[str]) -> set[str] | None:
    got: set[str] = await found
    return got if wanted <= got else None


def _hubctl(env: dict[str, str], *args: object) -> str:
    return subprocess.run(
        [sys.executable, "-m", "hubctl", *map(str, args)],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
