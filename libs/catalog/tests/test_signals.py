"""Reading provider answers: revoked, rate limited, succeeded."""

from typing import Any

import pytest
from hub_catalog import (
    MISSING,
    Catalog,
    ErrorSignals,
    ResponseMatch,
    classify,
    example_body,
    matches,
    succeeded,
    value_at,
)

GRAPHQL_THROTTLED = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}


def test_value_at_follows_keys_and_list_indices() -> None:
    assert value_at(GRAPHQL_THROTTLED, "errors.0.extensions.code") == "THROTTLED"
    assert value_at([{"id": 7}], "0.id") == 7
    assert value_at({"a": None}, "a") is None


@pytest.mark.parametrize(
    "path", ["errors.1.extensions.code", "errors.x", "errors.0.extensions.code.more", "nope"]
)
def test_value_at_a_missing_path_is_missing(path: str) -> None:
    assert value_at(GRAPHQL_THROTTLED, path) is MISSING


def test_value_at_reads_through_a_body_that_is_not_json_as_missing() -> None:
    assert value_at(None, "error") is MISSING
    assert value_at("Bad gateway", "error") is MISSING


def test_a_match_needs_both_status_and_value() -> None:
    match = ResponseMatch(status=[400], path="error.code", values=[190])
    assert matches(match, 400, {"error": {"code": 190}})
    assert not matches(match, 500, {"error": {"code": 190}})
    assert not matches(match, 400, {"error": {"code": 100}})
    assert not matches(match, 400, {})


def test_values_compare_by_type_as_well_as_value() -> None:
    assert not matches(ResponseMatch(path="code", values=[190]), 200, {"code": "190"})
    assert not matches(ResponseMatch(path="ok", values=[True]), 200, {"ok": 1})
    assert not matches(ResponseMatch(path="code", values=[0]), 200, {"code": False})


def test_slack_200_with_token_revoked_is_revoked(catalog: Catalog) -> None:
    slack = catalog.get("slack")
    assert classify(slack, 200, {"ok": False, "error": "token_revoked"}) == "revoked"
    assert classify(slack, 200, {"ok": False, "error": "invalid_auth"}) == "revoked"
    assert classify(slack, 200, {"ok": True, "team": "Acme"}) is None


def test_slack_auth_test_succeeds_only_with_ok_true(catalog: Catalog) -> None:
    health = catalog.get("slack").checks.health
    assert health is not None
    assert succeeded(health, 200, {"ok": True, "team": "Acme"})
    assert not succeeded(health, 200, {"ok": False, "error": "token_revoked"})


def test_meta_code_190_is_revoked_whatever_the_status(catalog: Catalog) -> None:
    meta = catalog.get("meta_ads")
    body = {"error": {"type": "OAuthException", "code": 190, "error_subcode": 460}}
    assert classify(meta, 400, body) == "revoked"
    assert classify(meta, 401, body) == "revoked"
    assert classify(meta, 400, {"error": {"code": 17}}) == "rate_limited"
    assert classify(meta, 400, {"error": {"code": 100}}) is None


@pytest.mark.parametrize(
    "provider_id", ["shopify", "google_ads", "google_drive", "klaviyo", "wise"]
)
def test_invalid_grant_from_a_token_endpoint_is_revoked(catalog: Catalog, provider_id: str) -> None:
    provider = catalog.get(provider_id)
    assert classify(provider, 400, {"error": "invalid_grant"}) == "revoked"
    assert classify(provider, 400, {"error": "invalid_request"}) is None


def test_tiktok_signals_in_the_body_of_a_200(catalog: Catalog) -> None:
    tiktok = catalog.get("tiktok_ads")
    assert (
        classify(tiktok, 200, {"code": 40105, "message": "Access token is incorrect"}) == "revoked"
    )
    assert classify(tiktok, 200, {"code": 40100, "message": "Too many requests"}) == "rate_limited"
    assert classify(tiktok, 200, {"code": 0, "data": {}}) is None
    health = tiktok.checks.health
    assert health is not None
    assert succeeded(health, 200, {"code": 0, "data": {"list": []}})
    assert not succeeded(health, 200, {"code": 40100})


def test_shopify_graphql_throttling_is_rate_limited(catalog: Catalog) -> None:
    assert classify(catalog.get("shopify"), 200, GRAPHQL_THROTTLED) == "rate_limited"


@pytest.mark.parametrize(
    ("provider_id", "status", "body"),
    [
        ("elevenlabs", 401, {"detail": {"status": "quota_exceeded"}}),
        ("elevenlabs", 401, {"detail": {"status": "missing_permissions"}}),
        ("resend", 401, {"name": "restricted_api_key"}),
        ("wise", 403, {"error": "sca_required"}),
        ("lob", 500, None),
        ("lob", 503, "Service Unavailable"),
    ],
)
def test_errors_that_are_no_revocation_are_not_classified_as_one(
    catalog: Catalog, provider_id: str, status: int, body: Any
) -> None:
    assert classify(catalog.get(provider_id), status, body) is None


def test_revoked_is_checked_before_rate_limited(catalog: Catalog) -> None:
    both = ErrorSignals(revoked=[ResponseMatch(status=[429])])
    provider = catalog.get("lob").model_copy(update={"errors": both})
    assert classify(provider, 429, {}) == "revoked"


def test_every_canonical_error_answer_classifies_as_its_signal(catalog: Catalog) -> None:
    """What the sandbox plays (first entry, its first status, example_body) reads back right."""
    for provider in catalog.providers:
        for signal in ("revoked", "rate_limited"):
            canonical = getattr(provider.errors, signal)[0]
            assert canonical.status is not None
            body = example_body(canonical)
            assert classify(provider, canonical.status[0], body) == signal, provider.id


def test_example_body_builds_the_path_with_lists_for_indices() -> None:
    match = ResponseMatch(path="errors.0.extensions.code", values=["THROTTLED"])
    assert example_body(match) == {"errors": [{"extensions": {"code": "THROTTLED"}}]}
    assert example_body(ResponseMatch(status=[401])) == {}
