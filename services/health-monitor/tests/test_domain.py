"""The rules without I/O: what a provider failure means, when to report, what to say."""

from __future__ import annotations

import pytest
from health_monitor.domain import (
    Outcome,
    Plan,
    Previous,
    Transition,
    Verdict,
    bad_value,
    message,
    outcome_of,
    plan,
    platform_names,
    retry_after,
    transition,
)
from hub_catalog import AuthType, tenant_values
from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    UnsafeDestinationError,
)

from .conftest import CATALOG


def _rejected(status: int, code: str | None = None) -> ProviderError:
    return ProviderRejectedError("x", "refused", status_code=status, code=code)


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (None, Outcome.HEALTHY),
        (CredentialRevokedError("x", "revoked", status_code=401), Outcome.REVOKED),
        (RateLimitedError("x", "wait", retry_after_s=3, status_code=429), Outcome.RATE_LIMITED),
        (ProviderUnavailableError("x", "down", status_code=503), Outcome.UNAVAILABLE),
        (ProviderUnavailableError("x", "no answer"), Outcome.UNAVAILABLE),
        (ResponseTooLargeError(1024), Outcome.UNAVAILABLE),
        # ElevenLabs: 401 is also used for a key without a permission, not a dead key.
        (_rejected(401, "missing_permissions"), Outcome.PERMISSION),
        # Wise demands SCA with a 403; Sentry and Google say 403 for a missing scope.
        (_rejected(403), Outcome.PERMISSION),
        (_rejected(403, "REQUIRED_SCOPE_MISSING"), Outcome.PERMISSION),
        (_rejected(401, "restricted_api_key"), Outcome.PERMISSION),
        (_rejected(401, "quota_exceeded"), Outcome.MISCONFIGURED),
        (_rejected(400, "invalid_request"), Outcome.MISCONFIGURED),
        (_rejected(402), Outcome.MISCONFIGURED),
        (_rejected(404), Outcome.MISCONFIGURED),
        (UnsafeDestinationError("x", "evil.example", "not allowed"), Outcome.MISCONFIGURED),
        # Slack ok:false or TikTok code != 0 that is no known signal: like an outage.
        (_rejected(200, "fatal_error"), Outcome.UNAVAILABLE),
        (_rejected(200, "missing_scope"), Outcome.PERMISSION),
    ],
)
def test_provider_failures_are_classified(failure: ProviderError | None, outcome: Outcome) -> None:
    assert outcome_of(failure) == outcome


def test_a_verdict_carries_the_providers_status_and_only_a_code_shaped_code() -> None:
    assert Verdict.of(_rejected(400, "invalid_request"), attempts=2) == Verdict(
        Outcome.MISCONFIGURED, 400, "invalid_request", attempts=2
    )
    assert Verdict.of(_rejected(400, "<script>alert(1)</script>"), attempts=1).code is None
    assert Verdict.of(None, attempts=1) == Verdict(Outcome.HEALTHY, attempts=1)


def test_calls_we_refused_or_cut_short_carry_our_own_code() -> None:
    refused = UnsafeDestinationError("shopify", "acme.evil.example", "not in the allow-list")
    assert Verdict.of(refused, attempts=1).code == "destination_refused"
    assert Verdict.of(ResponseTooLargeError(1024), attempts=1).code == "response_too_large"


def test_only_a_rate_limit_says_when_to_retry() -> None:
    assert retry_after(RateLimitedError("x", "slow down", retry_after_s=3)) == 3
    assert retry_after(ProviderUnavailableError("x", "down", status_code=503)) is None
    assert retry_after(None) is None


ACTIVE = Previous("active")
DOWN = Previous("error", "provider_unavailable")
REVOKED = Previous("expired", "revoked")
SCOPE = Previous("error", "insufficient_scope")


@pytest.mark.parametrize(
    ("previous", "outcome", "expected"),
    [
        (ACTIVE, Outcome.HEALTHY, None),
        (DOWN, Outcome.HEALTHY, Transition.RECOVERED),
        (REVOKED, Outcome.HEALTHY, Transition.RECOVERED),
        (Previous("active", "reauth_soon"), Outcome.HEALTHY, None),
        (ACTIVE, Outcome.REVOKED, Transition.UNHEALTHY),
        (REVOKED, Outcome.REVOKED, None),
        (DOWN, Outcome.REVOKED, Transition.UNHEALTHY),
        (SCOPE, Outcome.REVOKED, Transition.UNHEALTHY),
        (ACTIVE, Outcome.UNAVAILABLE, Transition.UNHEALTHY),
        (DOWN, Outcome.UNAVAILABLE, None),
        (REVOKED, Outcome.UNAVAILABLE, None),
        (SCOPE, Outcome.UNAVAILABLE, None),
        (ACTIVE, Outcome.PERMISSION, Transition.UNHEALTHY),
        (SCOPE, Outcome.PERMISSION, None),
        (ACTIVE, Outcome.RATE_LIMITED, None),
        (DOWN, Outcome.RATE_LIMITED, None),
        (ACTIVE, Outcome.UNVERIFIABLE, None),
        (DOWN, Outcome.UNVERIFIABLE, None),
        (ACTIVE, Outcome.MALFORMED, Transition.UNHEALTHY),
    ],
)
def test_only_transitions_are_reported(
    previous: Previous, outcome: Outcome, expected: Transition | None
) -> None:
    assert transition(previous, Verdict(outcome)) == expected


def test_permission_problems_leave_the_credential_alive() -> None:
    assert Verdict(Outcome.PERMISSION).reason == "insufficient_scope"
    assert Previous.after_unhealthy("insufficient_scope").status == "error"
    assert Previous.after_unhealthy("revoked").status == "expired"


def test_messages_say_what_happened_and_the_next_step() -> None:
    slack, meta = CATALOG.get("slack"), CATALOG.get("meta_ads")
    resend, yotpo = CATALOG.get("resend"), CATALOG.get("yotpo")
    wise, elevenlabs = CATALOG.get("wise"), CATALOG.get("elevenlabs")
    revoked = Verdict(Outcome.REVOKED, 200, "token_revoked")

    assert message(slack, slack.auth, revoked) == (
        "Slack token was revoked — reconnect Slack in Settings → Integrations."
    )
    assert message(meta, meta.auth, revoked) == (
        "Meta Ads access has expired or was revoked — reconnect Meta Ads in "
        "Settings → Integrations."
    )
    assert message(resend, resend.auth, revoked) == (
        "Resend refused the API key — enter a new one in Settings → Integrations → Resend."
    )
    assert message(yotpo, yotpo.auth, revoked) == (
        "Yotpo refused the App key and Secret key — enter new ones in "
        "Settings → Integrations → Yotpo."
    )
    sca = message(wise, wise.auth, Verdict(Outcome.PERMISSION, 403))
    assert sca.startswith("Wise accepted the Personal API token but refused the health check")
    assert "(HTTP 403)" in sca
    scoped = message(
        elevenlabs, elevenlabs.auth, Verdict(Outcome.PERMISSION, 401, "missing_permissions")
    )
    assert "(HTTP 401, missing_permissions)" in scoped
    oauth_scope = message(
        wise, wise.mode(AuthType.OAUTH2_AUTHORIZATION_CODE), Verdict(Outcome.PERMISSION, 403)
    )
    assert "reconnect Wise in Settings → Integrations and grant every permission" in oauth_scope
    down = message(slack, slack.auth, Verdict(Outcome.UNAVAILABLE, 503, attempts=3))
    assert down.startswith("Slack did not answer the health check 3 times in a row (HTTP 503)")
    assert "Sync now" in down
    timeout = message(slack, slack.auth, Verdict(Outcome.UNAVAILABLE, attempts=3))
    assert "(no answer)" in timeout
    odd = message(slack, slack.auth, Verdict(Outcome.MISCONFIGURED, 404))
    assert odd.startswith("Slack refused the health check (HTTP 404) — check the Slack settings")


def test_every_unhealthy_message_of_every_provider_fits_the_contract() -> None:
    for provider in CATALOG.tenant_providers():
        for mode in provider.auth_modes:
            for outcome in (
                Outcome.REVOKED,
                Outcome.PERMISSION,
                Outcome.MISCONFIGURED,
                Outcome.MALFORMED,
                Outcome.UNAVAILABLE,
            ):
                text = message(provider, mode, Verdict(outcome, 400, "x" * 100, attempts=3))
                assert 0 < len(text) <= 2000
                assert "Settings → Integrations" in text


def test_plans_follow_the_catalog() -> None:
    assert plan(CATALOG.get("slack"), CATALOG.get("slack").auth) == Plan.REQUEST
    assert plan(CATALOG.get("paypal"), CATALOG.get("paypal").auth) == Plan.MINT
    assert plan(CATALOG.get("yotpo"), CATALOG.get("yotpo").auth) == Plan.MINT
    assert plan(CATALOG.get("ga4"), CATALOG.get("ga4").auth) == Plan.SHAPE
    assert plan(CATALOG.get("clarity"), CATALOG.get("clarity").auth) == Plan.SHAPE


def test_stored_values_are_checked_against_the_catalog_shape() -> None:
    yotpo = CATALOG.get("yotpo").auth
    assert bad_value(yotpo, {"store_id": "store_0001", "secret": "s" * 20}) is None
    assert bad_value(yotpo, {"store_id": "a/b/../c-long", "secret": "s" * 20}) == "App key"
    assert bad_value(yotpo, {"store_id": "store_0001"}) == "Secret key"
    slack = CATALOG.get("slack").auth
    assert bad_value(slack, {"access_token": "xoxb-1"}) is None
    assert bad_value(slack, {}) == "access token"


@pytest.mark.parametrize("stored", ["acme", "acme.myshopify.com", "ACME.myshopify.com"])
def test_tenant_parameter_comes_from_metadata_as_label_or_host(stored: str) -> None:
    shopify = CATALOG.get("shopify")
    assert tenant_values(shopify, {"shop": stored}).get("shop", "").lower() == "acme"


def test_a_tenant_host_outside_the_pattern_is_passed_on_for_the_allow_list_to_refuse() -> None:
    shopify = CATALOG.get("shopify")
    assert tenant_values(shopify, {"shop": "acme.evil.com"}) == {"shop": "acme.evil.com"}
    assert tenant_values(shopify, {}) == {}


def test_only_the_platform_credentials_a_check_uses_are_needed() -> None:
    def names(provider_id: str, auth_type: AuthType | None = None) -> set[str]:
        provider = CATALOG.get(provider_id)
        mode = provider.auth if auth_type is None else provider.mode(auth_type)
        return platform_names(provider, mode, plan(provider, mode))

    assert names("tiktok_ads") == {"client_id", "client_secret"}
    assert names("google_ads") == {"developer_token"}
    assert names("wise") == set()
    assert names("wise", AuthType.OAUTH2_AUTHORIZATION_CODE) == set()
    assert names("slack") == set()
    assert names("paypal") == set()
