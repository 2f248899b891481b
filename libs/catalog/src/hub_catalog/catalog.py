"""Loading the catalog and answering questions about it: hosts, URLs, templates."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml
from pydantic import Field, model_validator

from hub_catalog.model import (
    PLACEHOLDER,
    AuthType,
    FeatureFlag,
    Placement,
    Provider,
    RequestSpec,
    Scope,
    _Model,
    placeholders,
)

_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


class CatalogError(ValueError):
    """The catalog or a value checked against it is invalid."""


class HostNotAllowedError(CatalogError):
    def __init__(self, provider: str, host: str) -> None:
        super().__init__(f"host {host!r} is not in the allow-list of provider {provider!r}")
        self.provider = provider
        self.host = host


def host_pattern(allowed: str) -> re.Pattern[str]:
    """Compile an allow-list entry; ``{param}`` matches exactly one DNS label."""
    parts = PLACEHOLDER.split(allowed)
    regex = "".join(
        _HOST_LABEL if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(rf"^{regex}\Z")


class Catalog(_Model):
    version: int
    providers: list[Provider]
    feature_flags: dict[str, FeatureFlag] = Field(default_factory=dict)
    base_url_override: str | None = None
    """When set (sandbox), every provider URL ``https://host/path`` is sent to
    ``{override}/p/{provider}/{host}/path`` instead. Code paths do not change."""

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        ids = [p.id for p in self.providers]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate provider ids")
        for provider in self.providers:
            _check_templates(provider)
            for url in provider.url_templates():
                self.check_host(provider, _example_host(url))
        for key, flag in self.feature_flags.items():
            if flag.provider is not None and flag.provider not in ids:
                raise ValueError(f"feature flag {key} names unknown provider {flag.provider}")
        return self

    def get(self, provider_id: str) -> Provider:
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        raise KeyError(provider_id)

    def tenant_providers(self) -> list[Provider]:
        return [p for p in self.providers if p.scope == Scope.TENANT]

    def oauth_providers(self) -> list[Provider]:
        """Providers with an OAuth authorization-code mode (default or not)."""
        return [p for p in self.providers if p.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE)]

    def api_key_providers(self) -> list[Provider]:
        """Providers with an API-key mode (default or not)."""
        return [p for p in self.providers if p.has_mode(AuthType.API_KEY)]

    def check_host(self, provider: Provider, host: str) -> None:
        """Raise unless ``host`` (before any override) is allowed for ``provider``."""
        candidate = host.lower().rstrip(".")
        if not any(host_pattern(entry).match(candidate) for entry in provider.allowed_hosts):
            raise HostNotAllowedError(provider.id, host)

    def url(self, provider: Provider, template: str, values: Mapping[str, str]) -> str:
        """Render a URL template, check its host, then apply the base-URL override.

        Values are percent-encoded first, so a value cannot add a path segment, a query, a port
        or userinfo (``evil.com/x``, ``a@evil.com``); dots stay, and a value of several labels in
        a one-label ``{shop}`` fails the host check.
        """
        rendered = render(template, {name: quote(value, safe="") for name, value in values.items()})
        parts = urlsplit(rendered)
        if parts.scheme != "https":
            raise CatalogError(f"{provider.id}: provider URLs must be https, got {rendered!r}")
        self.check_host(provider, parts.hostname or "")
        if self.base_url_override is None:
            return rendered
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{self.base_url_override.rstrip('/')}/p/{provider.id}/{parts.hostname}{tail}"


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders; a missing value is an error, never an empty string.

    Only ``{snake_case}`` is a placeholder, so JSON or GraphQL braces pass through untouched.
    """
    missing = placeholders(template) - values.keys()
    if missing:
        raise CatalogError(f"template {template!r} needs {sorted(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _example_host(url: str) -> str:
    return PLACEHOLDER.sub("example", urlsplit(url).hostname or url)


def _check_templates(provider: Provider) -> None:
    allowed = provider.template_names()
    templates: list[str] = []
    for mode in provider.auth_modes:
        templates += _placement_templates(mode.transport)
        if mode.mint is not None:
            templates += _request_templates(mode.mint)
    templates += provider.url_templates()
    for request in (provider.checks.health, provider.checks.identity):
        if request is not None:
            templates += _request_templates(request)
    for action in provider.actions.values():
        if action.json_body is not None or action.form_body is not None:
            raise ValueError(f"{provider.id}: an action's body is the caller's, not a template")
        templates += _request_templates(action)
    for template in templates:
        unknown = placeholders(template) - allowed
        if unknown:
            raise ValueError(f"{provider.id}: template {template!r} uses unknown {sorted(unknown)}")


def _placement_templates(placements: list[Placement]) -> list[str]:
    return [t for p in placements for t in (p.value, p.username, p.password) if t]


def _request_templates(request: RequestSpec) -> list[str]:
    found = [request.url, *request.headers.values(), *request.query.values()]
    found += _placement_templates(request.auth)
    found += list((request.form_body or {}).values())
    found += [v for v in _walk(request.json_body) if isinstance(v, str)]
    return found


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    else:
        yield value


@cache
def _raw(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("hub_catalog").joinpath("providers.yaml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CatalogError("providers.yaml must hold a mapping")
    return data


def load_catalog(path: Path | None = None, *, base_url_override: str | None = None) -> Catalog:
    """Load and validate the catalog (the packaged ``providers.yaml`` unless ``path`` is given)."""
    return Catalog.model_validate({**_raw(path), "base_url_override": base_url_override})
