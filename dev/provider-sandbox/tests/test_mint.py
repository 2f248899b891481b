"""Mint requests: client credentials (PayPal, HTTP Basic) and token exchange (Yotpo)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub_catalog import classify


async def test_client_credentials_mint_a_token(sandbox: Callable[[str], Any]) -> None:
    paypal = sandbox("paypal")
    mode = paypal.provider.auth
    answer = await paypal.mint(mode, paypal.typed_values(mode))
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"].startswith("sbx-paypal-at-")
    assert answer.json()["expires_in"] == mode.access_token_lifetime_s
    issued = (await paypal.http.get("/_sandbox/paypal/tokens")).json()
    assert [token["token"] for token in issued] == [answer.json()["access_token"]]


async def test_client_credentials_must_be_in_basic_auth(sandbox: Callable[[str], Any]) -> None:
    paypal = sandbox("paypal")
    values = paypal.typed_values(paypal.provider.auth)
    answer = await paypal.http.post(
        paypal.url(paypal.provider.auth.mint.url),
        data={"grant_type": "client_credentials", **values},
    )
    assert classify(paypal.provider, answer.status_code, answer.json()) == "revoked"


async def test_a_mint_without_the_catalogs_form_is_a_bad_request(
    sandbox: Callable[[str], Any],
) -> None:
    paypal = sandbox("paypal")
    values = paypal.typed_values(paypal.provider.auth)
    answer = await paypal.http.post(
        paypal.url(paypal.provider.auth.mint.url),
        data={"grant_type": "password"},
        auth=(values["client_id"], values["client_secret"]),
    )
    assert answer.status_code == 400


async def test_token_exchange_takes_the_store_from_the_path(sandbox: Callable[[str], Any]) -> None:
    yotpo = sandbox("yotpo")
    mode = yotpo.provider.auth
    values = yotpo.typed_values(mode)
    answer = await yotpo.mint(mode, values)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"].startswith("sbx-yotpo-at-")  # Yotpo states no expiry
    rejected_store = await yotpo.mint(mode, values | {"store_id": "rejected-store"})
    assert rejected_store.status_code == 401
    rejected_secret = await yotpo.mint(mode, values | {"secret": "rejected-secret"})
    assert rejected_secret.status_code == 401
