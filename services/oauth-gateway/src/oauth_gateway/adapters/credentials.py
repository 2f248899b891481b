"""The ``SealedCredentials`` port: connection-store's internal credential endpoint.

Each call carries a short-lived service token (HS256 with ``HUB_SERVICE_TOKEN_SECRET``, audience
``connection-store``, scope ``integrations:sealed-credential``). The credential arrives sealed;
the resource use case decrypts it for one listing and drops it.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
from hub_contracts import Credentials
from pydantic import SecretStr

from oauth_gateway.errors import StoreUnavailableError
from oauth_gateway.service.ports import StoredCredential

AUDIENCE = "connection-store"
SCOPE = "integrations:sealed-credential"
TOKEN_LIFETIME_S = 300


class StoreCredentials:
    def __init__(
        self,
        base_url: str,
        secret: SecretStr,
        *,
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

    def _token(self) -> str:
        now = int(time.time())
        claims = {
            "sub": "oauth-gateway",
            "aud": AUDIENCE,
            "scope": SCOPE,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
        }
        return jwt.encode(claims, self.secret.get_secret_value(), algorithm="HS256")

    async def get(self, organization_id: uuid.UUID, provider: str) -> StoredCredential | None:
        path = f"/internal/v1/orgs/{organization_id}/integrations/{provider}/sealed-credential"
        try:
            answer = await self.client.get(
                path, headers={"Authorization": f"Bearer {self._token()}"}
            )
        except httpx.HTTPError:
            raise StoreUnavailableError(
                "The connection store is not answering; try again in a moment."
            ) from None
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise StoreUnavailableError(
                f"The connection store answered HTTP {answer.status_code}; try again in a moment."
            )
        body = answer.json()
        return StoredCredential(
            auth_type=body.get("auth_type"),
            credential_version=int(body.get("credential_version") or 0),
            sealed=Credentials.model_validate(body.get("sealed") or {}),
            metadata=dict(body.get("metadata") or {}),
        )

    async def aclose(self) -> None:
        await self.client.aclose()
