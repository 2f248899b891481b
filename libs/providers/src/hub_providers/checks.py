"""The catalog's proving, identity, mint and revocation requests, sent with a connection's
credential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub_catalog import AuthMode, Provider, RequestSpec, Revocation
from hub_catalog.signals import MISSING, value_at

from hub_providers.calls import Answer, build_request, raise_for_answer, send
from hub_providers.errors import CredentialRevokedError, ProviderRejectedError
from hub_providers.outbound import OutboundHttp
from hub_providers.tokens import TokenSet


@dataclass(frozen=True)
class CheckResult:
    answer: Answer
    account_id: str | None
    account_name: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    """The request's ``metadata_paths`` read from the answer (absent paths left out)."""


async def check(
    http: OutboundHttp,
    provider: Provider,
    mode: AuthMode,
    spec: RequestSpec,
    values: Mapping[str, str],
) -> CheckResult:
    """Send ``spec`` with the credential placed as ``mode`` says; raise unless it proves it."""
    request = build_request(http.catalog, provider, spec, values, transport=mode.transport)
    async with http.client(provider) as client:
        answer = await send(client, provider, request)
    raise_for_answer(provider, answer, spec)
    metadata = {
        name: found
        for name, path in spec.metadata_paths.items()
        if (found := value_at(answer.body, path)) is not MISSING
    }
    return CheckResult(
        answer, answer.at(spec.account_id_path), answer.at(spec.account_name_path), metadata
    )


async def mint(
    http: OutboundHttp, provider: Provider, mode: AuthMode, values: Mapping[str, str]
) -> TokenSet:
    """Mint an access token from typed secrets (client credentials, token exchange, re-mint)."""
    spec = mode.mint
    if spec is None:
        raise ValueError(f"{provider.id} {mode.type} mints no token")
    request = build_request(http.catalog, provider, spec, values, transport=[])
    async with http.client(provider) as client:
        answer = await send(client, provider, request)
    raise_for_answer(provider, answer, spec)
    token = value_at(answer.body, spec.token_path or "access_token")
    expires_in = value_at(answer.body, spec.expires_in_path or "expires_in")
    if not isinstance(token, str) or not token:
        raise ProviderRejectedError(
            provider.id,
            f"{provider.name} answered without an access token",
            status_code=answer.status,
        )
    return TokenSet.from_answer(
        {"access_token": token, "expires_in": expires_in if isinstance(expires_in, int) else None},
        default_lifetime_s=mode.access_token_lifetime_s,
    )


async def revoke(
    http: OutboundHttp, provider: Provider, spec: Revocation, values: Mapping[str, str]
) -> None:
    """Send a provider's own revocation request (only its ``auth`` placements). The provider's
    revoked answer counts as revoked: the grant is already gone."""
    request = build_request(http.catalog, provider, spec, values, transport=[])
    async with http.client(provider) as client:
        answer = await send(client, provider, request)
    try:
        raise_for_answer(provider, answer, spec)
    except CredentialRevokedError:
        return
