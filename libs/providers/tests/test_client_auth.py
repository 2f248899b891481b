"""OAuth client authentication as RFC 6749 §2.3.1 says: with ``client_secret_basic`` the id and
secret are form-encoded before they become the Basic pair, so reserved characters survive."""

from __future__ import annotations

import base64
from urllib.parse import unquote_plus

import httpx
import pytest
from hub_catalog import AuthType, Catalog, load_catalog
from hub_providers import (
    CredentialRevokedError,
    OAuthClient,
    OutboundHttp,
    ProviderError,
    mint,
)
from hub_providers.calls import basic_authorization

from .test_oauth import REDIRECT, _connect

RESERVED = "s3cr+t/with=pad%25:colon é"
"""A secret as base64 issuers write them, plus what else a form decoder would change."""
BASIC_PROVIDERS = [
    p.id
    for p in load_catalog().oauth_providers()
    if p.mode(AuthType.OAUTH2_AUTHORIZATION_CODE).oauth.client_auth == "client_secret_basic"  # type: ignore[union-attr]
]


def test_the_basic_pair_is_form_encoded_then_base64_and_decodes_back() -> None:
    header = basic_authorization("id:1", RESERVED, form_encoded=True)
    decoded = base64.b64decode(header.removeprefix("Basic ")).decode("ascii")
    user, _, password = decoded.partition(":")
    assert password == "s3cr%2Bt%2Fwith%3Dpad%2525%3Acolon+%C3%A9"
    assert (unquote_plus(user), unquote_plus(password)) == ("id:1", RESERVED)
    raw = basic_authorization("id", "a+b", form_encoded=False)
    assert base64.b64decode(raw.removeprefix("Basic ")) == b"id:a+b"


async def _client_with_secret(
    http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient, provider_id: str
) -> OAuthClient:
    values = {"client_id": f"{provider_id}+id/=", "client_secret": RESERVED}
    answer = await sandbox.post(f"/_sandbox/{provider_id}/platform", json={"values": values})
    assert answer.status_code == 200, answer.text
    return OAuthClient(http, catalog.get(provider_id), values, redirect_uri=REDIRECT)


@pytest.mark.parametrize("provider_id", BASIC_PROVIDERS)
async def test_code_exchange_refresh_and_revocation_with_a_reserved_character_secret(
    provider_id: str, http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    assert BASIC_PROVIDERS, "the catalog has client_secret_basic providers (Klaviyo, Wise)"
    client = await _client_with_secret(http, catalog, sandbox, provider_id)
    tokens = await _connect(client, sandbox)
    assert tokens.refresh_token is not None
    refreshed = await client.refresh(tokens.refresh_token)
    assert refreshed.refresh_token is not None
    if client.can_revoke:
        await client.revoke(refreshed.refresh_token, hint="refresh_token")
        assert (await sandbox.get("/_sandbox/calls")).json()[provider_id]["revoke"] == 1
        with pytest.raises(CredentialRevokedError):
            await client.refresh(refreshed.refresh_token)


async def test_a_client_that_sends_the_pair_raw_is_refused_as_invalid_client(
    http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    """What the RFC's encoding prevents: the server reads a raw ``+`` as a space."""
    client = await _client_with_secret(http, catalog, sandbox, BASIC_PROVIDERS[0])
    client.spec = client.spec.model_copy(update={"basic_encoding": "raw"})
    with pytest.raises(ProviderError) as refused:
        await _connect(client, sandbox)
    assert refused.value.code == "invalid_client"


async def test_client_credentials_mint_form_encodes_the_pair(
    http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    paypal = catalog.get("paypal")
    values = {"client_id": "brand+app/=1", "client_secret": RESERVED.replace(" ", "_")}
    tokens = await mint(http, paypal, paypal.auth, values)
    assert tokens.access_token.get_secret_value()
    raw = paypal.auth.mint.model_copy(  # type: ignore[union-attr]
        update={
            "auth": [p.model_copy(update={"basic_encoding": "raw"}) for p in paypal.auth.mint.auth]
        }  # type: ignore[union-attr]
    )
    with pytest.raises(CredentialRevokedError):  # PayPal's 401: the pair was not recognised
        await mint(http, paypal, paypal.auth.model_copy(update={"mint": raw}), values)
