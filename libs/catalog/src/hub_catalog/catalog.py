"""Loading the catalog and answering questions about it: providers by slug, hosts, tenant
values, URLs, templates."""

from __future__ import annotations

import json
import os
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
    HubGroup,
    Onboarding,
    Placement,
    Provider,
    RequestSpec,
    Scope,
    _Model,
    placeholders,
)

_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

WHERE = "Settings → Integrations"
"""Where a brand admin connects, reconnects and configures integrations: every message says it
the same way."""


class CatalogError(ValueError):
    """The catalog or a value checked against it is invalid."""


class HostNotAllowedError(CatalogError):
    def __init__(self, provider: str, host: str) -> None:
        super().__init__(f"host {host!r} is not in the allow-list of provider {provider!r}")
        self.provider = provider
        self.host = host


class UnknownProviderError(CatalogError, KeyError):
    """No provider has this slug."""

    code = "unknown_provider"

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"There is no provider {slug[:64]!r}; GET /v1/providers lists the known ones."
        )
        self.slug = slug

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PlatformProviderError(CatalogError):
    """The provider is configured once for the whole platform, never per organization."""

    code = "platform_provider"

    def __init__(self, provider: Provider) -> None:
        super().__init__(
            f"{provider.name} is configured once for the whole platform by its operator "
            "(environment), not per organization, so it has no integration here."
        )
        self.provider = provider.id


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
    groups: list[HubGroup] = Field(default_factory=list)
    """The admin hub's groups in display order; every provider's ``group`` is one of them."""
    onboarding: Onboarding = Field(default_factory=Onboarding)
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
        self._check_groups_and_cards()
        return self

    def _check_groups_and_cards(self) -> None:
        names = [group.name for group in self.groups]
        if len(names) != len(set(names)):
            raise ValueError("duplicate hub group names")
        if self.groups:
            ungrouped = sorted({p.group for p in self.providers} - set(names))
            if ungrouped:
                raise ValueError(f"providers name groups not in groups: {ungrouped}")
        tenant = {p.id for p in self.providers if p.scope == Scope.TENANT}
        for card in self.onboarding.cards:
            if card.provider not in tenant:
                raise ValueError(f"onboarding card {card.provider} is not a tenant provider")

    def group(self, name: str) -> HubGroup | None:
        """The hub group called ``name``, or ``None``."""
        return next((group for group in self.groups if group.name == name), None)

    def get(self, provider_id: str) -> Provider:
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        raise KeyError(provider_id)

    def tenant_provider(self, slug: str) -> Provider:
        """The per-organization provider ``slug`` names (``meta_ads`` or ``meta-ads``); raises
        ``UnknownProviderError`` or ``PlatformProviderError``."""
        try:
            provider = self.get(slug.replace("-", "_"))
        except KeyError:
            raise UnknownProviderError(slug) from None
        if provider.scope == Scope.PLATFORM:
            raise PlatformProviderError(provider)
        return provider

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


def tenant_label(provider: Provider, param: str, raw: str) -> str | None:
    """The one DNS label a tenant value stands for (``acme`` or ``acme.myshopify.com`` give
    ``acme``), or ``None`` when it is neither; one label cannot leave the allow-listed domain."""
    candidate = raw.strip().lower().rstrip(".")
    if re.fullmatch(_HOST_LABEL, candidate):
        return candidate
    for entry in provider.allowed_hosts:
        parts = PLACEHOLDER.split(entry)
        if len(parts) != 3 or parts[1] != param:
            continue
        match = re.fullmatch(
            re.escape(parts[0]) + f"({_HOST_LABEL})" + re.escape(parts[2]), candidate
        )
        if match:
            return match.group(1)
    return None


def tenant_values(provider: Provider, metadata: Mapping[str, object]) -> dict[str, str]:
    """Template values of the tenant parameters kept in a connection's metadata (Shopify
    ``shop``). A value that is no label is passed on as given: the host check refuses it."""
    found: dict[str, str] = {}
    for name in provider.tenant_params:
        value = metadata.get(name)
        if isinstance(value, str) and value:
            found[name] = tenant_label(provider, name, value) or value
    return found


def tenant_host(provider: Provider, param: str, label: str) -> str | None:
    """The allow-listed host a tenant label stands for (``acme`` → ``acme.myshopify.com``)."""
    for entry in provider.allowed_hosts:
        if f"{{{param}}}" in entry:
            return entry.replace(f"{{{param}}}", label)
    return None


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
        if mode.oauth is not None and mode.oauth.revocation is not None:
            templates += _request_templates(mode.oauth.revocation)
    templates += provider.url_templates()
    for request in (provider.checks.health, provider.checks.identity):
        if request is not None:
            templates += _request_templates(request)
    for action in provider.actions.values():
        if action.json_body is not None or action.form_body is not None:
            raise ValueError(f"{provider.id}: an action's body is the caller's, not a template")
        templates += _request_templates(action)
    for listing in provider.resources.values():
        templates += _request_templates(listing)
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


def load_catalog(
    path: Path | None = None,
    *,
    base_url_override: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Catalog:
    """Load and validate the catalog (the packaged ``providers.yaml`` unless ``path`` is given).
    A provider's ``host_choice`` variable (``PLAID_ENV``, ``PAYPAL_MODE``) is read from
    ``environ`` (the process environment by default) and picks its hosts."""
    raw = _raw(path)
    source = os.environ if environ is None else environ
    providers = [_choose_hosts(entry, source) for entry in raw.get("providers", [])]
    return Catalog.model_validate(
        {**raw, "providers": providers, "base_url_override": base_url_override}
    )


def _choose_hosts(entry: Any, environ: Mapping[str, str]) -> Any:
    """The provider's entry with its chosen host in place of the default one everywhere."""
    choice = entry.get("host_choice") if isinstance(entry, dict) else None
    if not isinstance(choice, dict):
        return entry
    hosts, default = choice.get("hosts", {}), choice.get("default")
    chosen = environ.get(str(choice.get("env")), "") or default
    if chosen not in hosts or default not in hosts:
        known = ", ".join(sorted(hosts))
        raise CatalogError(f"{choice.get('env')}={chosen!r} is not one of: {known}")
    rest = {key: value for key, value in entry.items() if key != "host_choice"}
    text = json.dumps(rest).replace(f'"{hosts[default]}"', f'"{hosts[chosen]}"')
    text = text.replace(f"//{hosts[default]}/", f"//{hosts[chosen]}/")
    return {**json.loads(text), "host_choice": choice}
