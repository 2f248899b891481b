"""``hubctl doctor``: is this deployment's configuration sound? Settings of every service,
secrets present, consistent where shared and distinct where not (never printed), PostgreSQL,
the broker and every service reachable, and which brands will not hear about problems."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from connection_store.settings import StoreSettings
from health_monitor.settings import MonitorSettings
from hub_contracts import ALL_TOPICS
from hub_keyring import KeyRing
from notifier.settings import NotifierSettings
from oauth_gateway.settings import (
    DEVELOPMENT_JWT_SECRET,
    DEVELOPMENT_STATE_SECRET,
    GatewaySettings,
)
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings
from token_refresher.settings import RefresherSettings

DEVELOPMENT_SECRETS = {DEVELOPMENT_JWT_SECRET, DEVELOPMENT_STATE_SECRET}

SETTINGS: dict[str, Callable[[], BaseSettings]] = {
    "oauth-gateway": GatewaySettings,
    "connection-store": StoreSettings,
    "token-refresher": RefresherSettings,
    "health-monitor": MonitorSettings,
    "notifier": NotifierSettings,
}

UNHEARD_SQL = """
    SELECT c.organization_id::text AS organization_id, count(*) AS connections
    FROM integration_connections AS c
    LEFT JOIN notification_settings AS s USING (organization_id)
    WHERE c.status <> 'disconnected'
    GROUP BY c.organization_id, s.email_recipients, s.email_enabled, s.slack_enabled
    HAVING NOT bool_or(c.provider = 'slack' AND c.status = 'active'
                       AND coalesce(s.slack_enabled, true))
       AND (s.email_recipients IS NULL OR cardinality(s.email_recipients) = 0
            OR NOT s.email_enabled)
    ORDER BY 1"""
"""Brands with connections but neither a working Slack connection nor email recipients."""


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    ok: bool
    detail: str
    warning: bool = False
    """A finding that is not a failure (the exit status stays 0)."""


@dataclass
class Report:
    checks: list[Check]
    unheard: list[tuple[str, int]]

    @property
    def ok(self) -> bool:
        return all(c.ok or c.warning for c in self.checks)


def _fingerprint(value: str) -> str:
    """Compared, never shown: equal secrets have equal fingerprints."""
    return hashlib.sha256(value.encode()).hexdigest()


def _load_settings() -> tuple[dict[str, Any], list[Check]]:
    loaded: dict[str, Any] = {}
    checks = []
    for name, factory in SETTINGS.items():
        try:
            loaded[name] = factory()
        except ValidationError as error:
            fields = ", ".join(
                ".".join(str(p) for p in e["loc"]) or "?"
                for e in error.errors(include_input=False, include_url=False)
            )
            checks.append(Check("settings", name, False, f"invalid or missing: {fields}"))
        else:
            checks.append(Check("settings", name, True, "valid"))
    return loaded, checks


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def secret_checks(settings: dict[str, Any]) -> list[Check]:
    """Present, shared ones equal across services, different roles distinct, no development
    value in production. Only fingerprints are compared."""
    roles: dict[str, dict[str, str | None]] = {
        "PLATFORM_JWT_SECRET": {},
        "HUB_SERVICE_TOKEN_SECRET": {},
        "OAUTH_GATEWAY_STATE_SECRET": {},
        "CREDENTIAL_KEYS": {},
        "OAUTH_GATEWAY_SUBMISSION_KEYS": {},
    }
    store, gateway = settings.get("connection-store"), settings.get("oauth-gateway")
    notifier = settings.get("notifier")
    if store is not None:
        roles["PLATFORM_JWT_SECRET"]["connection-store"] = _secret(store.jwt_secret)
        roles["HUB_SERVICE_TOKEN_SECRET"]["connection-store"] = _secret(store.service_token_secret)
    if gateway is not None:
        roles["PLATFORM_JWT_SECRET"]["oauth-gateway"] = _secret(gateway.jwt_secret)
        roles["OAUTH_GATEWAY_STATE_SECRET"]["oauth-gateway"] = _secret(gateway.state_secret)
        if gateway.submission_keys is not None or gateway.environment == "production":
            submission = _secret(gateway.submission_keys)
            roles["OAUTH_GATEWAY_SUBMISSION_KEYS"]["oauth-gateway"] = submission
    if notifier is not None:
        roles["HUB_SERVICE_TOKEN_SECRET"]["notifier"] = _secret(notifier.service_token_secret)
    for name in ("oauth-gateway", "token-refresher", "health-monitor", "notifier"):
        keys = getattr(settings.get(name), "credential_keys", None)
        if keys is not None:
            roles["CREDENTIAL_KEYS"][name] = _secret(keys)

    checks: list[Check] = []
    production = any(getattr(s, "environment", "") == "production" for s in settings.values())
    values: dict[str, set[str]] = {}
    for role, by_service in roles.items():
        present = {svc: v for svc, v in by_service.items() if v}
        missing = sorted(svc for svc, v in by_service.items() if not v)
        if not by_service:
            continue
        if missing:
            checks.append(Check("secrets", role, False, f"missing in {', '.join(missing)}"))
            continue
        prints = {_fingerprint(v) for v in present.values()}
        if len(prints) > 1:
            checks.append(Check("secrets", role, False, "differs between " + ", ".join(present)))
            continue
        if role == "CREDENTIAL_KEYS":
            entries = {e for v in present.values() for e in _key_material(v)}
        else:
            entries = set(present.values())
        if production and entries & DEVELOPMENT_SECRETS:
            checks.append(Check("secrets", role, False, "is the development default"))
            continue
        values[role] = {_fingerprint(e) for e in entries}
        checks.append(Check("secrets", role, True, f"set in {', '.join(present)}"))
    names = sorted(values)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if values[first] & values[second]:
                checks.append(Check("secrets", f"{first} / {second}", False, "the same value"))
    if len(names) > 1 and not any(c.area == "secrets" and "/" in c.name for c in checks):
        checks.append(Check("secrets", "distinct", True, f"{len(names)} roles, no value shared"))
    return checks


def _key_material(spec: str) -> list[str]:
    """The keys of a ``CREDENTIAL_KEYS`` value (checked by ``KeyRing``), without their ids."""
    KeyRing.from_spec(spec)
    return [e.partition(":")[2].strip() for e in spec.split(",") if e.strip()]


async def _postgres(url: str) -> Check:
    try:
        connection = await asyncio.wait_for(asyncpg.connect(url), timeout=5)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            await connection.close()
    except Exception as exc:
        return Check("reachable", "PostgreSQL", False, type(exc).__name__)
    return Check("reachable", "PostgreSQL", True, "answers")


async def _kafka(bootstrap: str) -> Check:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(consumer.start(), timeout=10)
        topics = await consumer.topics()
    except Exception as exc:
        return Check("reachable", "broker", False, type(exc).__name__)
    finally:
        await consumer.stop()
    missing = sorted(t for t in ALL_TOPICS if t not in topics)
    if missing:
        return Check("reachable", "broker", False, f"topics missing: {', '.join(missing)}")
    return Check("reachable", "broker", True, f"{len(ALL_TOPICS)} hub topics")


async def _service(http: httpx.AsyncClient, name: str, url: str) -> Check:
    try:
        answer = await http.get(f"{url}/healthz")
    except httpx.HTTPError as exc:
        return Check("reachable", name, False, f"{url}: {type(exc).__name__}")
    return Check("reachable", name, answer.status_code == 200, f"{url}: {answer.status_code}")


async def _unheard(url: str) -> list[tuple[str, int]]:
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE hub_worker")
            rows = await connection.fetch(UNHEARD_SQL)
    finally:
        await connection.close()
    return [(r["organization_id"], r["connections"]) for r in rows]


async def diagnose() -> Report:
    settings, checks = _load_settings()
    checks += secret_checks(settings)
    store = settings.get("connection-store")
    notifier = settings.get("notifier")
    if store is not None:
        checks.append(await _postgres(store.database_url))
        checks.append(await _kafka(store.kafka_bootstrap_servers))
    async with httpx.AsyncClient(timeout=3) as http:
        for name, s in settings.items():
            checks.append(await _service(http, name, service_url(s)))
    unheard: list[tuple[str, int]] = []
    if notifier is not None:
        email = notifier.resend_api_key is not None or notifier.smtp_host is not None
        checks.append(
            Check(
                "notifications",
                "platform email",
                email,
                "Resend key or SMTP set" if email else "no Resend key or SMTP: no email goes out",
                warning=not email,
            )
        )
        slack = notifier.slack_webhook_url is not None
        checks.append(
            Check(
                "notifications",
                "platform Slack webhook",
                slack,
                "set" if slack else "not set",
                warning=not slack,
            )
        )
    if store is not None:
        try:
            unheard = await _unheard(store.database_url)
        except Exception as exc:
            checks.append(Check("notifications", "brands", False, type(exc).__name__))
        else:
            checks.append(
                Check(
                    "notifications",
                    "brands",
                    not unheard,
                    f"{len(unheard)} will not hear about problems" if unheard else "all reachable",
                    warning=True,
                )
            )
    return Report(checks, unheard)


def service_url(settings: Any) -> str:
    """Where a service's settings say it listens."""
    return f"http://{_host(settings.host)}:{settings.port}"


def _host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (a bind-all address)
