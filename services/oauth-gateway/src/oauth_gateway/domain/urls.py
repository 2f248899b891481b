"""Where a flow may go and come from: return URLs on allow-listed origins (SECURITY.md 7), tenant
parameters that stay inside the provider's allow-listed domain (SECURITY.md 20), and Shopify's
signed callback (hook ``shopify_shop_domain``)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from hub_catalog import Provider

from oauth_gateway.errors import InvalidRequestError

MAX_URL_CHARS = 2048
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class ReturnUrls:
    """``return_to`` checked against an allow-list of origins, compared exactly (SECURITY.md 7)."""

    def __init__(self, origins: Iterable[str], default: str) -> None:
        self.origins = frozenset(origins)
        self.default = self.check(default)

    def check(self, candidate: str) -> str:
        refused = InvalidRequestError(
            "return_to must be an absolute http(s) URL on one of the allowed origins "
            f"({', '.join(sorted(self.origins))}).",
            code="invalid_return_to",
            field="return_to",
        )
        if (
            not candidate
            or len(candidate) > MAX_URL_CHARS
            or "\\" in candidate
            or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in candidate)
        ):
            raise refused
        try:
            parts = urlsplit(candidate)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            raise refused from None
        origin = f"{parts.scheme}://{parts.netloc}"
        if (
            parts.scheme not in ("http", "https")
            or "@" in parts.netloc
            or not candidate.startswith(origin)
            or origin not in self.origins
        ):
            raise refused
        return candidate

    @staticmethod
    def with_result(url: str, params: Mapping[str, str]) -> str:
        """``url`` with the outcome appended to its query (before any fragment)."""
        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def tenant_values(provider: Provider, given: Mapping[str, str]) -> dict[str, str]:
    """Template values of the provider's tenant parameters, from what the admin typed.

    For ``{shop}.myshopify.com`` the admin gives ``acme.myshopify.com`` (or ``acme``) and the
    value is ``acme``: exactly one DNS label, so nothing can leave the allow-listed domain.
    """
    unexpected = sorted(set(given) - set(provider.tenant_params))
    if unexpected:
        raise InvalidRequestError(
            f"{provider.name} takes no {unexpected[0]!r}.",
            code="invalid_tenant_param",
            field=unexpected[0],
        )
    values: dict[str, str] = {}
    for param in provider.tenant_params:
        raw = given.get(param)
        if raw is None:
            raise InvalidRequestError(
                f"{provider.name} needs {param!r} (e.g. your-store.myshopify.com).",
                code="invalid_tenant_param",
                field=param,
            )
        values[param] = _tenant_label(provider, param, raw)
    return values


def _tenant_label(provider: Provider, param: str, raw: str) -> str:
    candidate = raw.strip().lower().rstrip(".")
    if re.fullmatch(_LABEL, candidate):
        return candidate
    for entry in provider.allowed_hosts:
        parts = _PLACEHOLDER.split(entry)
        if len(parts) != 3 or parts[1] != param:
            continue
        pattern = re.escape(parts[0]) + f"({_LABEL})" + re.escape(parts[2])
        match = re.fullmatch(pattern, candidate)
        if match:
            return match.group(1)
    examples = [_PLACEHOLDER.sub("your-store", e) for e in provider.allowed_hosts if "{" in e]
    raise InvalidRequestError(
        f"{param!r} must be a {provider.name} domain like {' or '.join(examples) or 'the doc'}.",
        code="invalid_tenant_param",
        field=param,
    )


def tenant_host(provider: Provider, param: str, value: str) -> str | None:
    """The allow-listed host a tenant value stands for (``acme`` → ``acme.myshopify.com``)."""
    for entry in provider.allowed_hosts:
        if f"{{{param}}}" in entry:
            return entry.replace(f"{{{param}}}", value)
    return None


def shopify_callback_signed(params: Mapping[str, str], client_secret: str) -> bool:
    """Shopify's callback signature: hex HMAC-SHA256 of the sorted ``key=value`` pairs (without
    ``hmac`` and ``signature``) under the app's client secret (hook ``shopify_shop_domain``)."""
    given = params.get("hmac", "")
    message = "&".join(
        f"{key}={value}"
        for key, value in sorted(params.items())
        if key not in ("hmac", "signature")
    )
    expected = hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode(), expected.encode())
