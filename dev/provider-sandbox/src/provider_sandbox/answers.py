"""Answers rendered from the catalog: success bodies that meet the catalog's conditions, and
each provider's own way of saying revoked or rate-limited (the first entry of its
``errors.revoked`` / ``errors.rate_limited``: Slack's HTTP 200 ``{"ok": false, ...}``, Meta's
``{"error": {"code": 190}}``, TikTok's ``{"code": 40100}``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from hub_catalog import MISSING, Provider, RequestSpec, ResponseMatch, example_body, value_at

from provider_sandbox.bodies import place

DEFAULT_RETRY_AFTER_S = 1


class Refusal(Exception):  # noqa: N818 - an answer, not an error condition
    """Ends handling of a call with this answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True)
class Account:
    """The deterministic account a sandbox credential belongs to."""

    name: str
    id: str

    @classmethod
    def of(cls, provider: Provider, host: str, tenant: dict[str, str]) -> Account:
        if tenant:
            return cls(name=f"Sandbox {provider.name} {' '.join(tenant.values())}", id=host)
        return cls(name=f"Sandbox {provider.name} account", id=f"sbx-{provider.id}-account")


def signal(provider: Provider, match: ResponseMatch, description: str) -> tuple[int, Any]:
    """The status and body that play a catalog error condition (the loader makes sure the
    canonical, first entry names a status). A boolean success flag of the provider's checks is
    set to false (Slack ``ok``)."""
    body = example_body(match)
    if isinstance(body, dict):
        body.setdefault("error_description", description)
        for flag in _success_flags(provider):
            if flag.path is not None and flag.values and value_at(body, flag.path) is MISSING:
                body = place(body, flag.path, not flag.values[0])
    return (match.status or [400])[0], body


def revoked(provider: Provider, description: str) -> JSONResponse:
    """The provider's canonical revoked answer: the first of its ``errors.revoked``."""
    status, body = signal(provider, provider.errors.revoked[0], description)
    return JSONResponse(body, status_code=status)


def rate_limited(provider: Provider, retry_after: int | None) -> JSONResponse:
    status, body = signal(provider, provider.errors.rate_limited[0], "rate limited (sandbox fault)")
    headers = {"Retry-After": str(retry_after or DEFAULT_RETRY_AFTER_S)} if status == 429 else {}
    return JSONResponse(body, status_code=status, headers=headers)


def unavailable(retry_after: int | None) -> JSONResponse:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    body = {"error": "temporarily_unavailable", "error_description": "sandbox fault"}
    return JSONResponse(body, status_code=503, headers=headers)


def problem(status: int, error: str, description: str) -> JSONResponse:
    """The sandbox's own answer to a request it cannot play (OAuth-style error JSON)."""
    return JSONResponse({"error": error, "error_description": description}, status)


def mismatch(problems: list[str]) -> JSONResponse:
    """The request is not the one the catalog describes (a missing ``revision`` header)."""
    return problem(400, "invalid_request", "; ".join(problems))


def succeeded(requests: Sequence[RequestSpec], account: Account) -> Any:
    """A body that meets the requests' ``success`` conditions and names the account (one URL
    may serve several catalog requests: Slack's ``auth.test`` is health and identity)."""
    body: Any = {}
    for request in requests:
        for match in request.success:
            if match.path is not None and match.values:
                body = place(body, match.path, match.values[0])
        if request.account_name_path:
            body = place(body, request.account_name_path, account.name)
        if request.account_id_path:
            body = place(body, request.account_id_path, account.id)
    return body


def _success_flags(provider: Provider) -> list[ResponseMatch]:
    requests = (provider.checks.health, provider.checks.identity)
    return [
        match
        for request in requests
        if request is not None
        for match in request.success
        if match.values and isinstance(match.values[0], bool)
    ]


def success_status(request: RequestSpec) -> int:
    for match in request.success:
        for status in match.status or ():
            if 200 <= status < 300:
                return status
    return 200
