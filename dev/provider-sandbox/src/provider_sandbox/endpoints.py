"""Which catalog request an incoming sandbox URL is: the provider's endpoint table.

Each catalog URL template (``https://{shop}.myshopify.com/admin/oauth/authorize``) becomes a host
and a path regex; placeholders bind values (the ``shop``, a ``store_id`` in a path). Several
catalog requests may share a URL (Slack's ``auth.test`` is health and identity): the call is
counted as the first in ``EndpointKind`` order, and its answer serves all of them. A provider's
``actions`` (Slack ``post_message``, Resend ``send_email``) are endpoints too, counted as
``action.<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urlsplit

from hub_catalog import Action, AuthMode, OAuthHook, Provider, RequestSpec
from hub_catalog.model import PLACEHOLDER

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PATH_SEGMENT = r"[^/]+"


class EndpointKind(StrEnum):
    AUTHORIZE = "authorize"
    TOKEN = "token"
    REVOKE = "revoke"
    REVOCATION = "revocation"
    MINT = "mint"
    HEALTH = "health"
    IDENTITY = "identity"
    RESOURCE = "resource"
    ACTION = "action"


@dataclass(frozen=True)
class Endpoint:
    kind: EndpointKind
    methods: frozenset[str]
    host: re.Pattern[str]
    path: re.Pattern[str]
    mode: AuthMode | None = None
    """The auth mode of an authorize, token, revoke or mint endpoint."""
    request: RequestSpec | None = None
    """The catalog request of a mint, health, identity or action endpoint."""
    action: str | None = None
    """The action's name, for an action endpoint."""
    resource: str | None = None
    """The listed kind, for a resource endpoint (``channels``)."""

    @property
    def label(self) -> str:
        """What the call counts as (and its recording's name): the kind, ``action.<name>`` or
        ``resource.<kind>``."""
        if self.action is not None:
            return f"action.{self.action}"
        if self.resource is not None:
            return f"resource.{self.resource}"
        return self.kind.value

    def bind(self, host: str, path: str) -> dict[str, str] | None:
        """Values of the URL's placeholders, or ``None`` if the URL is not this endpoint."""
        host_match = self.host.fullmatch(host.lower())
        path_match = self.path.fullmatch(path)
        if host_match is None or path_match is None:
            return None
        values = host_match.groupdict()
        for name, value in path_match.groupdict().items():
            if values.setdefault(name, value) != value:
                return None
        return values


def endpoints(provider: Provider) -> list[Endpoint]:
    """The provider's endpoints, in the order they are tried."""
    found: list[Endpoint] = []
    for mode in provider.auth_modes:
        if mode.oauth is None:
            continue
        token_methods = {"POST"}
        if OAuthHook.META_LONG_LIVED_EXCHANGE in mode.oauth.hooks:
            token_methods.add("GET")  # Graph API documents GET for both exchanges
        found.append(_endpoint(EndpointKind.AUTHORIZE, {"GET"}, mode.oauth.authorize_url, mode))
        found.append(_endpoint(EndpointKind.TOKEN, token_methods, mode.oauth.token_url, mode))
        if mode.oauth.revoke_url is not None:
            found.append(_endpoint(EndpointKind.REVOKE, {"POST"}, mode.oauth.revoke_url, mode))
        if mode.oauth.revocation is not None:
            found.append(_request_endpoint(EndpointKind.REVOCATION, mode.oauth.revocation, mode))
    for mode in provider.auth_modes:
        if mode.mint is not None:
            found.append(_request_endpoint(EndpointKind.MINT, mode.mint, mode))
    for kind, request in (
        (EndpointKind.HEALTH, provider.checks.health),
        (EndpointKind.IDENTITY, provider.checks.identity),
    ):
        if request is not None:
            found.append(_request_endpoint(kind, request, None))
    for name, listing in provider.resources.items():
        endpoint = _request_endpoint(EndpointKind.RESOURCE, listing, None)
        found.append(replace(endpoint, resource=name))
    for name, action in provider.actions.items():
        found.append(_action_endpoint(name, action))
    return found


def matching(table: list[Endpoint], host: str, path: str) -> list[tuple[Endpoint, dict[str, str]]]:
    """Every endpoint whose URL this is, in order, with the URL's placeholder values."""
    found: list[tuple[Endpoint, dict[str, str]]] = []
    for endpoint in table:
        values = endpoint.bind(host, path)
        if values is not None:
            found.append((endpoint, values))
    return found


def _request_endpoint(kind: EndpointKind, request: RequestSpec, mode: AuthMode | None) -> Endpoint:
    return _endpoint(kind, {request.method}, request.url, mode, request)


def _action_endpoint(name: str, action: Action) -> Endpoint:
    return replace(_request_endpoint(EndpointKind.ACTION, action, None), action=name)


def _endpoint(
    kind: EndpointKind,
    methods: set[str],
    url: str,
    mode: AuthMode | None,
    request: RequestSpec | None = None,
) -> Endpoint:
    parts = urlsplit(url)
    return Endpoint(
        kind=kind,
        methods=frozenset(methods),
        host=compile_template(parts.hostname or "", _DNS_LABEL),
        path=compile_template(parts.path or "/", _PATH_SEGMENT),
        mode=mode,
        request=request,
    )


def compile_template(template: str, placeholder: str) -> re.Pattern[str]:
    """A regex for a ``{name}`` template: literal text as is, each placeholder a named group
    matching ``placeholder`` (a repeated name must repeat its value)."""
    pieces = PLACEHOLDER.split(template)
    seen: set[str] = set()
    regex = ""
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex += re.escape(piece)
        elif piece in seen:
            regex += f"(?P={piece})"
        else:
            seen.add(piece)
            regex += f"(?P<{piece}>{placeholder})"
    return re.compile(regex)
