"""What a provider's answer means, and what (if anything) to report. No I/O here.

    answer (adapter)  ──outcome_of──▶  Outcome  ──(retries, service)──▶  Verdict
    Verdict + the status the store had when the check was due  ──transition──▶  event or nothing

Outcomes and the ``connection.unhealthy`` reason each becomes:

    healthy               the proving request (or mint) succeeded      (recovered, if it was not)
    revoked               the provider's revoked signal (errors.revoked) revoked
    permission            403, or a permission code (ElevenLabs missing_permissions, Wise's
                          403 SCA demand): the credential itself works  insufficient_scope
    misconfigured         any other 4xx/3xx, or a refused destination   misconfigured
    malformed             a stored value missing or not of its shape    invalid_credentials
    rate_limited          429 or a body-coded limit: never unhealthy   -
    provider_unavailable  5xx, timeout, no answer, or an answer that is
                          neither a success nor a known error, N times  provider_unavailable
    unverifiable          best_effort, values well-shaped: no claim     -
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from hub_catalog import (
    AuthMode,
    AuthType,
    HealthCheckMode,
    Placement,
    Provider,
    RefreshStrategy,
    RequestSpec,
    placeholders,
)
from hub_catalog.catalog import host_pattern
from hub_contracts import UnhealthyReason

Status = Literal["active", "error", "expired"]
WHERE = "Settings → Integrations"


class Answer(StrEnum):
    """What one provider call said, as the prober read it."""

    OK = "ok"
    REVOKED = "revoked"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    REJECTED = "rejected"
    """Any other refusal; ``status_code`` and ``code`` tell which."""
    UNSAFE = "unsafe"
    """Not sent: the destination is outside the catalog's allow-list for this connection."""


@dataclass(frozen=True)
class Reply:
    answer: Answer
    status_code: int | None = None
    code: str | None = None
    retry_after_s: float | None = None


class Outcome(StrEnum):
    HEALTHY = "healthy"
    REVOKED = "revoked"
    PERMISSION = "permission"
    MISCONFIGURED = "misconfigured"
    MALFORMED = "malformed"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "provider_unavailable"
    UNVERIFIABLE = "unverifiable"


TRANSIENT = frozenset({Outcome.RATE_LIMITED, Outcome.UNAVAILABLE})
"""Outcomes worth another try within the same check."""

REASONS: dict[Outcome, UnhealthyReason] = {
    Outcome.REVOKED: "revoked",
    Outcome.PERMISSION: "insufficient_scope",
    Outcome.MISCONFIGURED: "misconfigured",
    Outcome.MALFORMED: "invalid_credentials",
    Outcome.UNAVAILABLE: "provider_unavailable",
}

EXPIRED_REASONS = frozenset({"revoked", "expired", "invalid_credentials"})
"""Reasons after which the store shows the connection ``expired`` (the others: ``error``)."""

_PERMISSION_CODE = re.compile(
    r"permission|scope|forbidden|not_?authori[sz]ed|restricted|access_?denied", re.IGNORECASE
)


def outcome_of(reply: Reply) -> Outcome:
    """Classify one answer. The catalog already told revoked and rate-limited answers apart
    (``hub_catalog.classify``); this sorts the remaining refusals."""
    match reply.answer:
        case Answer.OK:
            return Outcome.HEALTHY
        case Answer.REVOKED:
            return Outcome.REVOKED
        case Answer.RATE_LIMITED:
            return Outcome.RATE_LIMITED
        case Answer.UNAVAILABLE:
            return Outcome.UNAVAILABLE
        case Answer.UNSAFE:
            return Outcome.MISCONFIGURED
    status = reply.status_code
    if status == 403 or (reply.code is not None and _PERMISSION_CODE.search(reply.code)):
        return Outcome.PERMISSION
    if status is None or 200 <= status < 300 or status >= 500:
        # Slack ``ok: false`` or TikTok ``code != 0`` that is no known signal: treated like an
        # outage (retried, and only N in a row count), never as a dead credential.
        return Outcome.UNAVAILABLE
    return Outcome.MISCONFIGURED


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    status_code: int | None = None
    code: str | None = None
    attempts: int = 1
    field: str | None = None
    """For ``malformed``: the label of the stored value that is missing or ill-shaped."""

    @property
    def reason(self) -> UnhealthyReason | None:
        return REASONS.get(self.outcome)


@dataclass(frozen=True)
class Previous:
    """The connection's state as far as this check knows: what ``connection.check_due`` carried,
    or what our own latest report implies."""

    status: Status
    error_code: str | None = None

    @classmethod
    def after_unhealthy(cls, reason: str) -> Previous:
        return cls("expired" if reason in EXPIRED_REASONS else "error", reason)


class Transition(StrEnum):
    UNHEALTHY = "connection.unhealthy"
    RECOVERED = "connection.recovered"


def transition(previous: Previous, verdict: Verdict) -> Transition | None:
    """What to report: only changes, never the same news twice.

    - healthy: ``recovered`` when the connection was ``error`` or ``expired``;
    - unhealthy: when the connection was ``active``; or when it was already unhealthy for another
      reason and this one says more about the credential (``provider_unavailable`` never
      replaces a known problem: an outage says nothing about the credential);
    - rate limited, unverifiable: nothing.
    """
    if verdict.outcome == Outcome.HEALTHY:
        return Transition.RECOVERED if previous.status != "active" else None
    reason = verdict.reason
    if reason is None:
        return None
    if previous.status == "active":
        return Transition.UNHEALTHY
    if reason == "provider_unavailable" or reason == previous.error_code:
        return None
    return Transition.UNHEALTHY


class Plan(StrEnum):
    """How a connection is proved (the catalog's ``checks.health_mode`` for its auth mode)."""

    REQUEST = "request"
    MINT = "mint"
    SHAPE = "shape"
    """best_effort: no call; only the stored values' shape is checked."""


def plan(provider: Provider, mode: AuthMode) -> Plan:
    checks = provider.checks
    if checks.health_mode == HealthCheckMode.TOKEN_MINT and mode.mint is not None:
        return Plan.MINT
    if checks.health_mode != HealthCheckMode.BEST_EFFORT and checks.health is not None:
        return Plan.REQUEST
    if mode.mint is not None:
        return Plan.MINT
    return Plan.SHAPE


def platform_names(provider: Provider, mode: AuthMode, plan: Plan) -> set[str]:
    """The platform credentials the proving request of ``plan`` needs (TikTok's check carries
    the app id and secret in its query; Google Ads' transport the developer token)."""
    if plan == Plan.SHAPE:
        return set()
    spec = mode.mint if plan == Plan.MINT else provider.checks.health
    templates = [] if spec is None else list(_templates(spec))
    if plan == Plan.REQUEST:
        templates += _placement_templates(mode.transport)
    used = set().union(*(placeholders(t) for t in templates)) if templates else set()
    return used & {credential.name for credential in provider.platform_credentials}


def _placement_templates(placements: list[Placement]) -> list[str]:
    return [t for p in placements for t in (p.value, p.username, p.password) if t]


def _templates(spec: RequestSpec) -> Iterator[str]:
    yield spec.url
    yield from spec.headers.values()
    yield from spec.query.values()
    yield from _placement_templates(spec.auth)
    yield from (spec.form_body or {}).values()
    yield from _strings(spec.json_body)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def auth_mode(provider: Provider, auth_type: str) -> AuthMode:
    """The connection's auth mode; ``ValueError`` when the catalog no longer has it."""
    return provider.mode(AuthType(auth_type))


def typed(mode: AuthMode) -> bool:
    """Whether the credential is what an admin typed (API key, key + secret), not an OAuth grant."""
    return mode.type != AuthType.OAUTH2_AUTHORIZATION_CODE


def bad_value(mode: AuthMode, values: Mapping[str, str]) -> str | None:
    """The label of the first stored credential that is missing or not of its catalog shape."""
    if not typed(mode):
        return None if values.get("access_token") else "access token"
    for field in mode.fields:
        value = values.get(field.name)
        if value is None or not field.accepts(value):
            return field.label
    return None


def tenant_values(provider: Provider, metadata: Mapping[str, object]) -> dict[str, str]:
    """Per-tenant URL parameters from the connection's metadata (Shopify ``shop``), accepting
    the bare label (``acme``) or the full host (``acme.myshopify.com``)."""
    found: dict[str, str] = {}
    for name in provider.tenant_params:
        value = metadata.get(name)
        if not isinstance(value, str) or not value:
            continue
        for allowed in provider.allowed_hosts:
            marker = "{" + name + "}"
            suffix = allowed.partition(marker)[2]
            if marker in allowed and host_pattern(allowed).match(value.lower()) and suffix:
                value = value[: -len(suffix)]
                break
        found[name] = value
    return found


def _labels(mode: AuthMode) -> str:
    labels = [field.label for field in mode.fields]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _what(verdict: Verdict) -> str:
    parts = [] if verdict.status_code is None else [f"HTTP {verdict.status_code}"]
    if verdict.code:
        parts.append(verdict.code)
    return ", ".join(parts) or "no answer"


def message(provider: Provider, mode: AuthMode, verdict: Verdict) -> str:
    """What happened and what a person should do next, in plain words."""
    name = provider.name
    settings = f"{WHERE} → {name}"
    match verdict.outcome:
        case Outcome.REVOKED if not typed(mode):
            if mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER:
                return f"{name} access has expired or was revoked — reconnect {name} in {WHERE}."
            return f"{name} token was revoked — reconnect {name} in {WHERE}."
        case Outcome.REVOKED:
            again = "a new one" if len(mode.fields) == 1 else "new ones"
            return f"{name} refused the {_labels(mode)} — enter {again} in {settings}."
        case Outcome.PERMISSION if not typed(mode):
            return (
                f"{name} refused the health check for lack of permission ({_what(verdict)}) — "
                f"reconnect {name} in {WHERE} and grant every permission it asks for."
            )
        case Outcome.PERMISSION:
            return (
                f"{name} accepted the {_labels(mode)} but refused the health check for lack of "
                f"permission ({_what(verdict)}) — give it the missing permission at {name}, or "
                f"enter one that has it in {settings}."
            )
        case Outcome.MALFORMED:
            return (
                f"The stored {verdict.field or 'credential'} for {name} is missing or not in the "
                f"expected format — enter it again in {settings}."
                if typed(mode)
                else f"The stored {name} access token is missing — reconnect {name} in {WHERE}."
            )
        case Outcome.UNAVAILABLE:
            return (
                f"{name} did not answer the health check {verdict.attempts} times in a row "
                f"({_what(verdict)}) — nothing to do yet, we keep checking; if it lasts, check "
                f"{name}'s status page, then use Sync now in {settings}."
            )
        case _:
            return (
                f"{name} refused the health check ({_what(verdict)}) — check the {name} "
                f"settings in {WHERE}, then use Sync now; if it persists, reconnect {name}."
            )
