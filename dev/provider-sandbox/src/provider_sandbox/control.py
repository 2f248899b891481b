"""``/_sandbox``: the control API tests and the local stack use to steer the sandbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from hub_catalog import Catalog
from pydantic import BaseModel, ConfigDict, Field

from provider_sandbox.state import Fault, Store


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str


class PlatformValues(BaseModel):
    """Values this provider expects for its platform credentials (``client_secret``...)."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, str]


class Lifetime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token_lifetime_s: int | None = Field(default=None, ge=0)
    """Seconds the next access tokens live (``None``: the catalog's again)."""


class Latency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ms: int = Field(ge=0, le=60_000)


class NextTokens(BaseModel):
    """Values the next issued tokens take (canary tests); each is used once, in order."""

    model_config = ConfigDict(extra="forbid")

    access_token: str | None = None
    refresh_token: str | None = None


def router(catalog: Catalog, store: Store) -> APIRouter:
    known = {provider.id for provider in catalog.providers}
    api = APIRouter(prefix="/_sandbox", tags=["control"])

    def provider_id(provider: str) -> str:
        if provider not in known:
            raise HTTPException(404, f"no provider {provider!r} in the catalog")
        return provider

    @api.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "providers": len(known)}

    @api.get("/calls")
    async def calls() -> dict[str, dict[str, int]]:
        """Calls per provider and endpoint (``token`` also split by grant type)."""
        return {provider: dict(counts) for provider, counts in store.calls.items()}

    @api.post("/reset")
    async def reset() -> dict[str, str]:
        store.reset()
        return {"status": "reset"}

    @api.post("/{provider}/faults")
    async def set_fault(provider: str, fault: Fault) -> dict[str, Any]:
        store.set_fault(provider_id(provider), fault)
        return {"provider": provider, "fault": fault.model_dump(exclude_none=True)}

    @api.post("/{provider}/platform")
    async def set_platform(provider: str, body: PlatformValues) -> dict[str, Any]:
        """Expect these platform credential values (e.g. a client secret with ``+/=``)."""
        known_names = {c.name for c in catalog.get(provider_id(provider)).platform_credentials}
        unknown = sorted(set(body.values) - known_names)
        if unknown:
            raise HTTPException(422, f"{provider} has no platform credential {unknown[0]!r}")
        store.platform.update({(provider, name): value for name, value in body.values.items()})
        return {"provider": provider, "names": sorted(body.values)}

    @api.post("/{provider}/lifetime")
    async def set_lifetime(provider: str, body: Lifetime) -> dict[str, Any]:
        """Issue access tokens of this lifetime from now on (or the catalog's again)."""
        if body.access_token_lifetime_s is None:
            store.lifetimes.pop(provider_id(provider), None)
        else:
            store.lifetimes[provider_id(provider)] = body.access_token_lifetime_s
        return {"provider": provider, "access_token_lifetime_s": body.access_token_lifetime_s}

    @api.post("/latency")
    async def set_latency(body: Latency) -> dict[str, int]:
        """Add this many milliseconds before every provider answer from now on."""
        store.latency_ms = body.ms
        return {"latency_ms": body.ms}

    @api.post("/{provider}/revoke")
    async def revoke(provider: str, body: RevokeRequest) -> dict[str, str]:
        """Revoke an issued token (with its grant) or, for any other value, an API key."""
        if store.revoke_token(provider_id(provider), body.token):
            return {"revoked": "token"}
        store.revoke_key(provider, body.token)
        return {"revoked": "key"}

    @api.post("/{provider}/next-token")
    async def next_token(provider: str, body: NextTokens) -> dict[str, str]:
        provider_id(provider)
        if body.access_token is not None:
            store.choose_next(provider, "access", body.access_token)
        if body.refresh_token is not None:
            store.choose_next(provider, "refresh", body.refresh_token)
        return {"status": "queued"}

    @api.get("/{provider}/actions")
    async def actions(provider: str) -> list[dict[str, Any]]:
        """What the provider's actions did, in order: messages posted, emails sent (a repeated
        idempotent request is not listed twice)."""
        return [
            {
                "action": done.action,
                "body": done.body,
                "result_id": done.result_id,
                "idempotency_key": done.idempotency_key,
                "at": done.at,
            }
            for done in store.actions.get(provider_id(provider), [])
        ]

    @api.get("/{provider}/tokens")
    async def issued(provider: str) -> list[dict[str, Any]]:
        return [
            {
                "token": token.value,
                "kind": token.kind,
                "tenant": dict(token.grant.tenant),
                "scopes": list(token.grant.scopes),
                "expires_at": token.expires_at,
                "revoked": token.revoked or token.grant.revoked,
            }
            for token in store.tokens_of(provider_id(provider))
        ]

    return api
