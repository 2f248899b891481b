"""connection-store's internal notification-context endpoint, as the ``Directory`` port.

Each call carries a short-lived service token (HS256 with ``HUB_SERVICE_TOKEN_SECRET``, audience
``connection-store``, scope ``notifications:context``). Credentials arrive as ciphertext and stay
so here: the senders decrypt them at the moment they send.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
from pydantic import SecretStr

from notifier.domain.routing import BrandSlack, ConnectionFacts, Context, Recipients
from notifier.errors import DirectoryUnavailableError, UnknownOrganizationError

AUDIENCE = "connection-store"
SCOPE = "notifications:context"
TOKEN_LIFETIME_S = 300


class StoreDirectory:
    def __init__(
        self,
        base_url: str,
        secret: SecretStr,
        *,
        service: str = "notifier",
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )
        self.secret = secret
        self.service = service
        self._token: tuple[str, float] | None = None

    def token(self) -> str:
        now = time.time()
        if self._token is None or self._token[1] - now < 60:
            claims = {
                "sub": self.service,
                "aud": AUDIENCE,
                "scope": SCOPE,
                "iat": int(now),
                "exp": int(now) + TOKEN_LIFETIME_S,
            }
            token = jwt.encode(claims, self.secret.get_secret_value(), algorithm="HS256")
            self._token = (token, now + TOKEN_LIFETIME_S)
        return self._token[0]

    async def context(self, organization_id: uuid.UUID, provider: str) -> Context:
        try:
            answer = await self.client.get(
                f"/internal/v1/orgs/{organization_id}/notification-context",
                params={"provider": provider},
                headers={"Authorization": f"Bearer {self.token()}"},
            )
        except httpx.HTTPError as error:
            raise DirectoryUnavailableError(
                f"connection-store did not answer: {type(error).__name__}"
            ) from None
        if answer.status_code == 404:
            raise UnknownOrganizationError(f"connection-store: {_code(answer)}")
        if answer.status_code != 200:
            # 401/403 are a configuration error (secrets differ): retried, loudly, until fixed.
            raise DirectoryUnavailableError(
                f"connection-store answered {answer.status_code} {_code(answer)}"
            )
        return parse_context(answer.json())

    async def aclose(self) -> None:
        await self.client.aclose()


def _code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unknown"


def parse_context(body: dict[str, Any]) -> Context:
    settings = body.get("settings") or {}
    connection = body.get("connection")
    slack = body.get("slack")
    resend = body.get("resend")
    return Context(
        recipients=Recipients(
            email_recipients=tuple(settings.get("email_recipients") or ()),
            email_enabled=bool(settings.get("email_enabled", True)),
            slack_enabled=bool(settings.get("slack_enabled", True)),
            email_from=settings.get("email_from"),
        ),
        connection=None
        if connection is None
        else ConnectionFacts(
            provider=connection["provider"],
            name=connection["name"],
            status=connection["status"],
            account_name=connection.get("account_name"),
            account_id=connection.get("account_id"),
            credential_version=int(connection.get("credential_version") or 0),
        ),
        slack=None
        if slack is None
        else BrandSlack(
            credential_version=slack["credential_version"],
            access_token=slack["access_token"],
            team=slack.get("team"),
            channel_routing=dict(slack.get("channel_routing") or {}),
            default_channel=slack.get("default_channel"),
        ),
        resend_key=None if resend is None else resend["api_key"],
    )
