"""Answers the sandbox plays: each provider's recorded answers (``recordings``), filled with the
call's own values, and the sandbox's own JSON for requests it cannot play."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from hub_catalog import Provider, RequestSpec

from provider_sandbox.bodies import place
from provider_sandbox.recordings import Recordings, fill, load_recordings

DEFAULT_RETRY_AFTER_S = 1
REASON_HEADER = "X-Sandbox-Reason"
"""Why the sandbox refused (a test's diagnosis); real providers send nothing like it."""


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
        recorded = load_recordings().get(provider.id)
        ident = recorded.account_id if recorded is not None else None
        return cls(
            name=f"Sandbox {provider.name} account", id=ident or f"sbx-{provider.id}-account"
        )

    def values(self) -> dict[str, Any]:
        return {"account_name": self.name, "account_id": self.id}


def recorded(
    recordings: Recordings,
    name: str,
    values: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse | None:
    """The provider's recorded answer ``name`` with ``values`` filled in, or ``None``."""
    recording = recordings.get(name)
    if recording is None:
        return None
    merged = {**recording.headers, **(headers or {})}
    body = fill(recording.body, values or {})
    return JSONResponse(body, status_code=recording.status, headers=merged)


def revoked(recordings: Recordings, description: str) -> JSONResponse:
    """The provider's recorded refusal of a credential."""
    reason = {REASON_HEADER: description}
    answer = recorded(recordings, "revoked", headers=reason)
    if answer is None:  # documented as having none (GA4, Clarity): never called by the hub
        return JSONResponse({"error": "undocumented"}, status_code=401, headers=reason)
    return answer


def refresh_refused(recordings: Recordings, description: str) -> JSONResponse | None:
    """The provider's recorded refusal of a refresh or re-exchange, if it has one."""
    return recorded(recordings, "refresh_refused", headers={REASON_HEADER: description})


def rate_limited(recordings: Recordings, retry_after: int | None) -> JSONResponse:
    """The provider's recorded rate limit; its ``Retry-After`` (or a 429's) says the fault's
    ``retry_after`` instead of the documented figure, so tests wait as long as they chose."""
    recording = recordings.get("rate_limited")
    if recording is None:
        return JSONResponse({"error": "rate_limited"}, status_code=429)
    headers = {k: v for k, v in recording.headers.items() if k.lower() != "retry-after"}
    if recording.status == 429 or len(headers) < len(recording.headers):
        headers["Retry-After"] = str(retry_after or DEFAULT_RETRY_AFTER_S)
    return JSONResponse(fill(recording.body, {}), status_code=recording.status, headers=headers)


def unavailable(recordings: Recordings, retry_after: int | None) -> JSONResponse:
    """The provider's recorded server error (+ ``Retry-After`` when the fault gives one)."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    answer = recorded(recordings, "server_error", headers=headers)
    if answer is None:
        body = {"error": "temporarily_unavailable", "error_description": "sandbox fault"}
        return JSONResponse(body, status_code=503, headers=headers)
    return answer


def problem(status: int, error: str, description: str) -> JSONResponse:
    """The sandbox's own answer to a request it cannot play (OAuth-style error JSON)."""
    return JSONResponse({"error": error, "error_description": description}, status)


def mismatch(problems: list[str]) -> JSONResponse:
    """The request is not the one the catalog describes (a missing ``revision`` header)."""
    return problem(400, "invalid_request", "; ".join(problems))


def succeeded(requests: Sequence[RequestSpec], account: Account) -> Any:
    """A body for an action: meets its ``success`` conditions and names the account (actions
    are not recorded yet: their answers echo the caller's body)."""
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


def success_status(request: RequestSpec) -> int:
    for match in request.success:
        for status in match.status or ():
            if 200 <= status < 300:
                return status
    return 200
