"""Where a flow may go and come from: return URLs on allow-listed origins (SECURITY.md 7), tenant
parameters that stay inside the provider's allow-listed domain (SECURITY.md 20), and Shopify's
signed callback (hook ``shopify_shop_domain``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from hub_catalog import Provider, tenant_label
from hub_catalog.model import PLACEHOLDER

from oauth_gateway.errors import InvalidValueError

MAX_URL_CHARS = 2048


class ReturnUrls:
    """``return_to`` checked against an allow-list of origins, compared exactly (SECURITY.md 7)."""

    def __init__(self, origins: Iterable[str], default: str) -> None:
        self.origins = frozenset(origins)
        self.default = self.check(default)

    def check(self, candidate: str) -> str:
        refused = InvalidValueError(
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


def tenant_labels(provider: Provider, given: Mapping[str, str]) -> dict[str, str]:
    """Template values of the provider's tenant parameters, from what the admin typed.

    For ``{shop}.myshopify.com`` the admin gives ``acme.myshopify.com`` (or ``acme``) and the
    value is ``acme``: exactly one DNS label, so nothing can leave the allow-listed domain.
    """
    unexpected = sorted(set(given) - set(provider.tenant_params))
    if unexpected:
        raise InvalidValueError(
            f"{provider.name} takes no {unexpected[0]!r}.",
            code="invalid_tenant_param",
            field=unexpected[0],
        )
    values: dict[str, str] = {}
    for param in provider.tenant_params:
        raw = given.get(param)
        if raw is None:
            raise InvalidValueError(
                f"{provider.name} needs {param!r} (e.g. your-store.myshopify.com).",
                code="invalid_tenant_param",
                field=param,
            )
        label = tenant_label(provider, param, raw)
        if label is None:
            examples = [
                PLACEHOLDER.sub("your-store", e) for e in provider.allowed_hosts if "{" in e
            ]
            raise InvalidValueError(
                f"{param!r} must be a {provider.name} domain like "
                f"{' or '.join(examples) or 'the doc'}.",
                code="invalid_tenant_param",
                field=param,
            )
        values[param] = label
    return values


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
