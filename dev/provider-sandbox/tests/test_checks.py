"""Health and identity requests: the credential where and how the catalog places it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub_catalog import AuthType, classify

API_KEY = AuthType.API_KEY
OAUTH = AuthType.OAUTH2_AUTHORIZATION_CODE


async def test_klaviyo_key_must_use_its_own_scheme(sandbox: Callable[[str], Any]) -> None:
    klaviyo = sandbox("klaviyo")
    health = klaviyo.provider.checks.health
    key = klaviyo.typed_values(klaviyo.mode(API_KEY))
    right = await klaviyo.http.get(
        klaviyo.url(health.url),
        headers={
            "Authorization": f"Klaviyo-API-Key {key['private_api_key']}",
            "revision": "2026-10-15",
        },
    )
    assert right.status_code == 200, right.text
    bearer = await klaviyo.http.get(
        klaviyo.url(health.url),
        headers={"Authorization": f"Bearer {key['private_api_key']}", "revision": "2026-10-15"},
    )
    assert classify(klaviyo.provider, bearer.status_code, bearer.json()) == "revoked"


async def test_a_missing_constant_header_is_a_bad_request_not_a_revocation(
    sandbox: Callable[[str], Any],
) -> None:
    klaviyo = sandbox("klaviyo")
    key = klaviyo.typed_values(klaviyo.mode(API_KEY))
    answer = await klaviyo.http.get(
        klaviyo.url(klaviyo.provider.checks.health.url),
        headers={"Authorization": f"Klaviyo-API-Key {key['private_api_key']}"},
    )
    assert answer.status_code == 400
    assert "revision" in answer.json()["error_description"]


async def test_basic_auth_carries_id_and_secret(sandbox: Callable[[str], Any]) -> None:
    mux = sandbox("mux")
    mode = mux.mode(API_KEY)
    health = mux.provider.checks.health
    values = mux.typed_values(mode)
    assert (await mux.check(health, mode, values)).status_code == 200
    wrong = values | {"token_secret": "rejected-secret"}
    assert (await mux.check(health, mode, wrong)).status_code == 401
    bare = await mux.http.get(mux.url(health.url))
    assert bare.status_code == 401


async def test_basic_auth_with_the_key_as_username(sandbox: Callable[[str], Any]) -> None:
    lob = sandbox("lob")
    key = "test_0123456789abcdef"
    answer = await lob.http.get(
        lob.url(lob.provider.checks.health.url), params={"limit": "1"}, auth=(key, "")
    )
    assert answer.status_code == 200, answer.text
    with_password = await lob.http.get(
        lob.url(lob.provider.checks.health.url), params={"limit": "1"}, auth=(key, "x")
    )
    assert with_password.status_code == 401


async def test_a_rejected_api_key_gets_the_providers_revoked_answer(
    sandbox: Callable[[str], Any],
) -> None:
    resend = sandbox("resend")
    mode = resend.mode(API_KEY)
    answer = await resend.check(resend.provider.checks.health, mode, {"api_key": "rejected-re_123"})
    assert answer.status_code == 403
    assert answer.json()["name"] == "invalid_api_key"


async def test_the_platform_developer_token_must_be_the_sandboxs(
    sandbox: Callable[[str], Any],
) -> None:
    google_ads = sandbox("google_ads")
    mode = google_ads.mode(OAUTH)
    token = (await google_ads.connect_oauth(mode))["access_token"]
    google_ads.values["developer_token"] = "someone-elses"
    answer = await google_ads.check(
        google_ads.provider.checks.health, mode, {"access_token": token}
    )
    assert answer.status_code == 400
    assert "developer_token" in answer.json()["error_description"]


async def test_a_shop_token_is_refused_at_another_shop(sandbox: Callable[[str], Any]) -> None:
    shopify = sandbox("shopify")
    mode = shopify.mode(OAUTH)
    token = (await shopify.connect_oauth(mode))["access_token"]
    shopify.values["shop"] = "other"
    answer = await shopify.check(shopify.provider.checks.health, mode, {"access_token": token})
    assert answer.status_code == 401


async def test_shopify_identity_names_the_shop(sandbox: Callable[[str], Any]) -> None:
    shopify = sandbox("shopify")
    mode = shopify.mode(OAUTH)
    token = (await shopify.connect_oauth(mode))["access_token"]
    answer = await shopify.check(shopify.provider.checks.identity, mode, {"access_token": token})
    shop = answer.json()["data"]["shop"]
    assert shop == {"name": "Sandbox Shopify acme", "myshopifyDomain": "acme.myshopify.com"}


async def test_one_header_two_modes_each_judged_as_its_own(sandbox: Callable[[str], Any]) -> None:
    """Wise takes ``Bearer`` for personal tokens and OAuth tokens alike: a revoked OAuth token
    is not mistaken for a personal API token."""
    wise = sandbox("wise")
    health = wise.provider.checks.health
    oauth = wise.mode(OAUTH)
    token = (await wise.connect_oauth(oauth))["access_token"]
    assert (await wise.check(health, oauth, {"access_token": token})).status_code == 200
    revoked = await wise.http.post("/_sandbox/wise/revoke", json={"token": token})
    assert revoked.json() == {"revoked": "token"}
    assert (await wise.check(health, oauth, {"access_token": token})).status_code == 401
    personal = wise.typed_values(wise.mode(API_KEY))
    assert (await wise.check(health, wise.mode(API_KEY), personal)).status_code == 200


async def test_a_key_revoked_through_the_control_api_is_refused(
    sandbox: Callable[[str], Any],
) -> None:
    retell = sandbox("retell")
    mode = retell.mode(API_KEY)
    key = {"api_key": "key_0123456789"}
    health = retell.provider.checks.health
    assert (await retell.check(health, mode, key)).status_code == 200
    revoked = await retell.http.post("/_sandbox/retell/revoke", json={"token": key["api_key"]})
    assert revoked.json() == {"revoked": "key"}
    assert (await retell.check(health, mode, key)).status_code == 401


async def test_body_signalling_providers_refuse_in_their_own_words(
    sandbox: Callable[[str], Any],
) -> None:
    for provider_id, expected in (
        ("slack", (200, "error", "invalid_auth")),
        ("meta_ads", (400, "error.code", 190)),
        ("tiktok_ads", (200, "code", 40105)),
    ):
        client = sandbox(provider_id)
        mode = client.mode(OAUTH)
        answer = await client.check(client.provider.checks.health, mode, {"access_token": "x"})
        status, path, value = expected
        body = answer.json()
        for step in path.split("."):
            body = body[step]
        assert (answer.status_code, body) == (status, value), provider_id


async def test_a_json_body_unlike_the_catalogs_is_a_bad_request(
    sandbox: Callable[[str], Any],
) -> None:
    plaid = sandbox("plaid")
    values = plaid.typed_values(plaid.mode(API_KEY))
    answer = await plaid.http.post(
        plaid.url(plaid.provider.checks.health.url),
        headers={"PLAID-CLIENT-ID": values["client_id"], "PLAID-SECRET": values["secret"]},
        json={"count": "1", "offset": 0, "country_codes": ["US"]},
    )
    assert answer.status_code == 400
    assert "count" in answer.json()["error_description"]
