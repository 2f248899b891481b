"""Requests built from catalog data, answers read with the catalog's signals.

Templates are filled from one mapping of values: the connection's decrypted credential
(``access_token``, API-key fields), its tenant parameters (``shop``) and the platform credentials
(``client_id``, ``developer_token``). Callers build it for one call and drop it afterwards.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote_plus

import httpx
from hub_catalog import Catalog, Placement, Provider, RequestSpec, render
from hub_catalog.signals import MISSING, classify, succeeded, value_at

from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
)


def basic_authorization(user: str, password: str, *, form_encoded: bool) -> str:
    """An ``Authorization: Basic`` value; ``form_encoded`` for an OAuth client, whose id and
    secret are form-encoded before they are joined (RFC 6749 §2.3.1)."""
    if form_encoded:
        user, password = quote_plus(user, safe=""), quote_plus(password, safe="")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def apply_placements(
    placements: list[Placement], values: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query parameters that carry the credential as the provider expects."""
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    for placement in placements:
        if placement.kind == "basic":
            assert placement.username is not None
            assert placement.password is not None
            user, password = render(placement.username, values), render(placement.password, values)
            form = placement.basic_encoding == "form"
            headers["Authorization"] = basic_authorization(user, password, form_encoded=form)
        elif placement.kind == "header":
            assert placement.name is not None
            assert placement.value is not None
            headers[placement.name] = render(placement.value, values)
        else:
            assert placement.name is not None
            assert placement.value is not None
            query[placement.name] = render(placement.value, values)
    return headers, query


def _render_json(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, dict):
        return {k: _render_json(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_json(v, values) for v in value]
    return value


def build_request(
    catalog: Catalog,
    provider: Provider,
    spec: RequestSpec,
    values: Mapping[str, str],
    *,
    transport: list[Placement],
) -> httpx.Request:
    """The request ``spec`` describes, with ``transport`` and the spec's own placements."""
    auth_headers, auth_query = apply_placements([*transport, *spec.auth], values)
    headers = {
        "Accept": "application/json",
        "User-Agent": "integrations-hub/1",
        **{name: render(value, values) for name, value in spec.headers.items()},
        **auth_headers,
    }
    params = {**{k: render(v, values) for k, v in spec.query.items()}, **auth_query}
    url = catalog.url(provider, spec.url, values)
    if spec.json_body is not None:
        return httpx.Request(
            spec.method,
            url,
            params=params,
            headers=headers,
            json=_render_json(spec.json_body, values),
        )
    if spec.form_body is not None:
        form = {k: render(v, values) for k, v in spec.form_body.items()}
        return httpx.Request(spec.method, url, params=params, headers=headers, data=form)
    return httpx.Request(spec.method, url, params=params, headers=headers)


@dataclass(frozen=True)
class Answer:
    """A provider's answer, read."""

    status: int
    body: Any
    headers: httpx.Headers

    def at(self, path: str | None) -> str | None:
        if path is None:
            return None
        found = value_at(self.body, path)
        if found is MISSING or found is None or isinstance(found, dict | list):
            return None
        return str(found)


def read(response: httpx.Response) -> Answer:
    try:
        body: Any = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    return Answer(response.status_code, body, response.headers)


def retry_after_s(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), if the provider sent one."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    if raw.strip().isdigit():
        return float(raw.strip())
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_code(body: Any) -> str | None:
    """The provider's error code, wherever common providers put it."""
    for path in ("error.code", "error", "code", "detail.status", "errors.0.code", "error_code"):
        found = value_at(body, path)
        if isinstance(found, str | int) and not isinstance(found, bool) and found not in ("", 0):
            return str(found)[:200]
    return None


def raise_for_answer(provider: Provider, answer: Answer, spec: RequestSpec | None) -> None:
    """Map an answer to its error class, or return when it is a success."""
    signal = classify(provider, answer.status, answer.body)
    code = error_code(answer.body)
    name = provider.name
    if signal == "revoked":
        raise CredentialRevokedError(
            provider.id,
            f"{name} refused the credential (HTTP {answer.status}, {code})",
            status_code=answer.status,
            code=code,
        )
    if signal == "rate_limited":
        raise RateLimitedError(
            provider.id,
            f"{name} is rate limiting us (HTTP {answer.status}, {code})",
            retry_after_s=retry_after_s(answer.headers),
            status_code=answer.status,
            code=code,
        )
    if answer.status >= 500 or answer.status in (408,):
        raise ProviderUnavailableError(
            provider.id,
            f"{name} is unavailable (HTTP {answer.status})",
            status_code=answer.status,
            code=code,
        )
    ok = 200 <= answer.status < 300 if spec is None else succeeded(spec, answer.status, answer.body)
    if not ok:
        raise ProviderRejectedError(
            provider.id,
            f"{name} refused the request (HTTP {answer.status}, {code})",
            status_code=answer.status,
            code=code,
        )


async def send(client: httpx.AsyncClient, provider: Provider, request: httpx.Request) -> Answer:
    """Send; network failures and timeouts become ``ProviderUnavailableError``."""
    try:
        return read(await client.send(request))
    except ProviderError:
        raise
    except (httpx.TransportError, TimeoutError) as exc:
        raise ProviderUnavailableError(
            provider.id, f"{provider.name} did not answer: {type(exc).__name__}"
        ) from None
