"""What both API adapters share: one call with the admin's bearer, and the store's and
gateway's JSON error envelope turned into the console's errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from admin_console.errors import (
    ConsoleError,
    NotFoundError,
    RefusedError,
    SignInRequiredError,
    UnavailableError,
)
from admin_console.service.ports import Json

_DOWN = "The integrations service is not answering right now. Please try again in a minute."


def path_part(*parts: str) -> str:
    return "/".join(quote(part, safe="") for part in parts)


class Client:
    def __init__(self, client: httpx.AsyncClient, name: str) -> None:
        self.client = client
        self.name = name

    async def call(
        self,
        method: str,
        path: str,
        bearer: str | None,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        try:
            response = await self.client.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError:
            raise UnavailableError(_DOWN) from None
        if response.status_code < 400:
            return response
        if missing_ok and response.status_code in (404, 405):
            return None
        raise _error(response)


def _error(response: httpx.Response) -> ConsoleError:
    try:
        detail = response.json().get("error") or {}
    except (ValueError, AttributeError):
        detail = {}
    message = str(detail.get("message") or "The request was refused.")
    code = detail.get("code")
    field = detail.get("field")
    status = response.status_code
    if status == 401:
        return SignInRequiredError("Your session has ended. Please sign in again.")
    if status == 404 and code not in ("not_connected",):
        return NotFoundError(message)
    if status >= 500:
        return UnavailableError(_DOWN)
    return RefusedError(message, status=status, code=code, field=field)


def json_body(response: httpx.Response | None) -> Json:
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise UnavailableError(_DOWN) from None
    return body if isinstance(body, dict) else {}
