"""The rules with no I/O: state signing, browser binding, return URLs, tenant values, the Shopify
signature, messages, metadata."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from hub_catalog import load_catalog
from oauth_gateway import domain
from oauth_gateway.errors import InvalidValueError, StateRefusedError
from pydantic import SecretStr

CATALOG = load_catalog()
SECRET = SecretStr("s" * 40)


def claims(**changes: object) -> domain.StateClaims:
    values: dict[str, object] = {
        "flow": uuid.uuid4(),
        "org": uuid.uuid4(),
        "provider": "slack",
        "nonce": domain.new_nonce(),
        "exp": int(datetime.now(UTC).timestamp()) + 600,
        "browser": domain.StateCodec(SECRET).browser_binding(domain.new_browser_id()),
    }
    return domain.StateClaims.model_validate(values | changes)


def test_a_signed_state_verifies_to_its_claims() -> None:
    codec = domain.StateCodec(SECRET)
    original = claims()
    assert codec.verify(codec.sign(original)) == original


def test_a_state_signed_with_another_secret_is_refused() -> None:
    state = domain.StateCodec(SecretStr("t" * 40)).sign(claims())
    with pytest.raises(StateRefusedError):
        domain.StateCodec(SECRET).verify(state)


def test_changed_claims_with_the_old_signature_are_refused() -> None:
    codec = domain.StateCodec(SECRET)
    payload, signature = codec.sign(claims()).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["org"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    with pytest.raises(StateRefusedError):
        codec.verify(f"{forged}.{signature}")


@pytest.mark.parametrize(
    "state", ["", ".", "a", "a.b.c", "!!!.???", "e30.", "x" * 2000, "e30." + "A" * 43]
)
def test_garbage_states_are_refused(state: str) -> None:
    with pytest.raises(StateRefusedError):
        domain.StateCodec(SECRET).verify(state)


def test_the_browser_binding_is_keyed_and_compared_exactly() -> None:
    codec = domain.StateCodec(SECRET)
    browser = domain.new_browser_id()
    binding = codec.browser_binding(browser)
    assert browser not in binding
    assert codec.same_browser(binding, browser)
    assert not codec.same_browser(binding, domain.new_browser_id())
    assert not codec.same_browser(binding, None)
    assert not codec.same_browser(binding, "short")
    assert domain.StateCodec(SecretStr("t" * 40)).browser_binding(browser) != binding


def test_state_and_browser_keys_are_derived_apart() -> None:
    codec = domain.StateCodec(SECRET)
    assert codec._state_key != codec._browser_key


def test_verifiers_are_long_fresh_and_unreserved() -> None:
    verifiers = {domain.new_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(43 <= len(v) <= 128 and v.isascii() for v in verifiers)


RETURNS = domain.ReturnUrls(
    ["https://app.example.com", "http://127.0.0.1:8100"], "https://app.example.com/x"
)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/settings?tab=integrations#top",
        "http://127.0.0.1:8100/onboarding",
    ],
)
def test_return_urls_on_allowed_origins_pass(url: str) -> None:
    assert RETURNS.check(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "//evil.example",
        "///evil.example",
        "https://app.example.evil",
        "https://app.example.com.evil",
        "https://evil.example/https://app.example.com",
        "https://app.example.com@evil.example",
        "https://user:pw@app.example.com/",
        "javascript:alert(document.cookie)",
        "jAvAsCrIpT:alert(1)",
        "http://app.example.com/",
        "https://APP.example.com/",
        "https://app.example.com:443/",
        "https://app.example.com\\evil",
        "https:\\\\app.example.com",
        "https://app.example.com/\t",
        "/relative",
        "",
        "https://app.example.com:bad/",
    ],
)
def test_return_urls_off_the_allow_list_are_refused(url: str) -> None:
    with pytest.raises(InvalidValueError) as refused:
        RETURNS.check(url)
    assert refused.value.code == "invalid_return_to"


def test_results_go_into_the_query_before_the_fragment() -> None:
    url = domain.ReturnUrls.with_result("https://a.example/p?x=1#f", {"status": "connected"})
    assert url == "https://a.example/p?x=1&status=connected#f"


def test_the_default_return_url_must_be_allowed() -> None:
    with pytest.raises(InvalidValueError):
        domain.ReturnUrls(["https://app.example.com"], "https://evil.example/")


@pytest.mark.parametrize(
    ("given", "value"),
    [("acme.myshopify.com", "acme"), ("ACME.myshopify.com.", "acme"), ("acme-2", "acme-2")],
)
def test_shop_domains_become_one_label(given: str, value: str) -> None:
    assert domain.tenant_labels(CATALOG.get("shopify"), {"shop": given}) == {"shop": value}


def test_shopify_signature_covers_every_parameter() -> None:
    import hashlib
    import hmac

    params = {"code": "c", "shop": "acme.myshopify.com", "state": "s", "timestamp": "1"}
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    signed = params | {"hmac": hmac.new(b"k", message.encode(), hashlib.sha256).hexdigest()}
    assert domain.shopify_callback_signed(signed, "k")
    assert not domain.shopify_callback_signed(signed, "other")
    assert not domain.shopify_callback_signed(signed | {"shop": "evil.myshopify.com"}, "k")
    assert not domain.shopify_callback_signed(params, "k")


@pytest.mark.parametrize(
    ("provider", "phrase"),
    [
        ("klaviyo", "private API key"),
        ("resend", "API key"),
        ("mux", "access token secret"),
        ("yotpo", "secret key"),
        ("wise", "personal API token"),
    ],
)
def test_refusals_name_what_the_admin_typed(provider: str, phrase: str) -> None:
    mode = domain.key_mode(CATALOG.get(provider))
    assert domain.label_phrase(mode.fields) == phrase


def test_metadata_keeps_facts_and_drops_anything_secret_looking() -> None:
    extra = {
        "team": {"id": "T1", "name": "Acme"},
        "bot_user_id": "U1",
        "authed_user": {"id": "U2", "access_token": "xoxp-secret"},
        "incoming_webhook": {"url": "https://hooks.slack.com/services/T/B/X"},
        "advertiser_ids": ["1", "2"],
        "nested": {"refresh_token": "r", "ok": True},
    }
    found = domain.metadata({"shop": "acme"}, extra)
    assert found == {
        "shop": "acme",
        "team": {"id": "T1", "name": "Acme"},
        "bot_user_id": "U1",
        "advertiser_ids": ["1", "2"],
        "nested": {"ok": True},
    }
    assert "secret" not in json.dumps(found)
    assert "hooks.slack.com" not in json.dumps(found)
