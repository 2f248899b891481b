"""``hubctl token``: a development bearer token signed with the store's ``PLATFORM_JWT_SECRET``,
as the platform's issuer would make it, or a ``credentials:read`` service token signed with
``HUB_SERVICE_TOKEN_SECRET``; refused in production."""

from __future__ import annotations

import uuid
from datetime import timedelta

from connection_store.auth import (
    CREDENTIALS_READ,
    MAX_SERVICE_LIFETIME_S,
    issue_service_token,
    issue_token,
)
from connection_store.settings import StoreSettings


class RefusedError(Exception):
    pass


def user_token(org: uuid.UUID, *, scopes: list[str], subject: str, hours: float) -> str:
    settings = StoreSettings()
    if settings.environment == "production":
        raise RefusedError("refusing to mint a development token in production")
    return issue_token(
        settings.jwt_secret,
        org,
        scopes=scopes,
        subject=subject,
        lifetime=timedelta(hours=hours),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )


def service_token(service: str, *, providers: list[str]) -> str:
    """A ``credentials:read`` token of ``service`` for ``providers`` (at most 15 minutes)."""
    settings = StoreSettings()
    if settings.environment == "production":
        raise RefusedError("refusing to mint a development token in production")
    return issue_service_token(
        settings.service_token_secret,
        service,
        (CREDENTIALS_READ,),
        providers=providers,
        lifetime=timedelta(seconds=MAX_SERVICE_LIFETIME_S),
    )
