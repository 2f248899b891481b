"""How a connection is proved (request, mint, or only the shape of its stored values), and what
the proof needs: the stored values' shape and the operator's platform credentials."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

from hub_catalog import (
    AuthMode,
    AuthType,
    HealthCheckMode,
    Placement,
    Provider,
    RequestSpec,
    placeholders,
)


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
