"""The catalog's content against the product brief, the seed, the reference and SECURITY 9."""

import json
import re
from pathlib import Path

import pytest
from hub_catalog import AuthType, Catalog, Placement, Scope

PRODUCT_MD = Path("/work/shared/PRODUCT.md")
SEED_SPEC = Path("/work/shared/seed/integrations-configuration-spec.md")
SCOPES_SNAPSHOT = Path(__file__).parent / "snapshots" / "scopes.json"

# PRODUCT.md's providers table, used when the shared folder is not there (CI checkouts).
PRODUCT_PROVIDERS = {
    "shopify": ("Shopify", "Commerce", "required"),
    "stripe_connect": ("Stripe Connect", "Payments", "recommended"),
    "resend": ("Resend", "Communication", "recommended"),
    "meta_ads": ("Meta Ads", "Advertising Platforms", "optional"),
    "google_ads": ("Google Ads", "Advertising Platforms", "optional"),
    "tiktok_ads": ("TikTok Ads", "Advertising Platforms", "optional"),
    "ga4": ("Google Analytics 4", "Analytics", "optional"),
    "klaviyo": ("Klaviyo", "Marketing", "optional"),
    "yotpo": ("Yotpo", "Reviews", "optional"),
    "slack": ("Slack", "Communication", "optional"),
    "retell": ("Retell (Voice/SMS)", "Communication", "optional"),
    "elevenlabs": ("ElevenLabs (TTS)", "Communication", "optional"),
    "lob": ("Lob (Physical Mail)", "Communication", "optional"),
    "mux": ("Mux Video", "Video & Media", "optional"),
    "assemblyai": ("AssemblyAI", "Video & Media", "optional"),
    "google_drive": ("Google Drive", "Productivity", "optional"),
    "google_calendar": ("Google Calendar", "Productivity", "optional"),
    "plaid": ("Plaid (Bank Verification)", "Payments", "optional"),
    "paypal": ("PayPal Payouts", "Payments", "optional"),
    "wise": ("Wise", "Payments", "optional"),
    "fairing": ("Fairing (Surveys)", "Surveys & Feedback", "optional"),
    "clarity": ("Microsoft Clarity", "Monitoring & Analytics", "optional"),
    "better_stack": ("Better Stack", "platform-level", "platform"),
    "sentry": ("Sentry", "platform-level", "platform"),
}

# The seed's Part 4 flags: (default, requiresConnection).
SEED_FLAGS = {
    "integrations.meta_ads": (False, True),
    "integrations.google_ads": (False, True),
    "integrations.tiktok_ads": (False, True),
    "integrations.ga4": (True, False),
    "integrations.klaviyo": (False, True),
    "integrations.yotpo": (False, True),
    "integrations.slack": (False, True),
    "integrations.reviews_email": (True, False),
}


def product_table() -> dict[str, tuple[str, str, str]]:
    if not PRODUCT_MD.exists():
        return PRODUCT_PROVIDERS
    section = PRODUCT_MD.read_text("utf-8").split("## Providers", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[a-z][a-z0-9_]+", cells[0]) and cells[0] != "id":
            rows[cells[0]] = (cells[1], cells[2], cells[3].split()[0])
    return rows


def seed_flags() -> dict[str, tuple[bool, bool]]:
    if not SEED_SPEC.exists():
        return SEED_FLAGS
    found = re.findall(
        r"'(integrations\.\w+)': \{ default: (true|false), requiresConnection: (true|false) \}",
        SEED_SPEC.read_text("utf-8"),
    )
    return {key: (default == "true", requires == "true") for key, default, requires in found}


def example_values(catalog: Catalog, provider_id: str) -> dict[str, str]:
    return dict.fromkeys(catalog.get(provider_id).template_names(), "example")


def test_catalog_holds_exactly_the_product_providers_in_table_order(catalog: Catalog) -> None:
    assert [p.id for p in catalog.providers] == list(product_table())


@pytest.mark.parametrize("provider_id", list(PRODUCT_PROVIDERS))
def test_provider_has_the_name_group_and_tier_of_the_product_table(
    catalog: Catalog, provider_id: str
) -> None:
    provider = catalog.get(provider_id)
    assert (provider.name, provider.group, provider.tier) == product_table()[provider_id]


def test_the_product_table_parses_to_the_hard_list() -> None:
    assert product_table() == PRODUCT_PROVIDERS


def test_every_url_host_is_in_its_providers_allow_list(catalog: Catalog) -> None:
    for provider in catalog.providers:
        for template in provider.url_templates():
            url = catalog.url(provider, template, example_values(catalog, provider.id))
            assert url.startswith("https://"), url


def test_feature_flags_match_the_seed(catalog: Catalog) -> None:
    flags = {key: (f.default, f.requires_connection) for key, f in catalog.feature_flags.items()}
    assert flags == seed_flags() == SEED_FLAGS


def test_feature_flags_name_the_provider_of_their_key(catalog: Catalog) -> None:
    for key, flag in catalog.feature_flags.items():
        if flag.provider is not None:
            assert key == f"integrations.{flag.provider}"
    assert catalog.feature_flags["integrations.reviews_email"].provider is None


def test_requested_scopes_equal_the_committed_snapshot(catalog: Catalog) -> None:
    """SECURITY 9: a scope change is a deliberate edit of snapshots/scopes.json, reviewed."""
    scopes = {p.id: m.oauth.scopes for p in catalog.providers for m in p.auth_modes if m.oauth}
    assert scopes == json.loads(SCOPES_SNAPSHOT.read_text("utf-8"))


@pytest.mark.parametrize("value", ["rejected-0123456789", "sk_live_0123456789abcdef", "A1b2C3d4"])
def test_credential_fields_accept_any_value_of_a_plausible_shape(
    catalog: Catalog, value: str
) -> None:
    """The sandbox accepts any well-shaped value but one starting with `rejected`: the hub must
    be able to send that one to the provider, so no field may insist on a vendor prefix."""
    for provider in catalog.providers:
        for mode in provider.auth_modes:
            for field in mode.fields:
                assert field.accepts(value), (provider.id, field.name)


def test_credential_fields_refuse_blank_and_whitespace_values(catalog: Catalog) -> None:
    for provider in catalog.providers:
        for mode in provider.auth_modes:
            for field in mode.fields:
                for bad in ("", "two words", "key\n"):
                    assert not field.accepts(bad), (provider.id, field.name, bad)


def test_refresh_lead_leaves_most_of_the_token_lifetime_in_use(catalog: Catalog) -> None:
    for provider in catalog.providers:
        for mode in provider.auth_modes:
            if mode.access_token_lifetime_s is not None and mode.refresh_lead_s is not None:
                assert 0 < mode.refresh_lead_s <= mode.access_token_lifetime_s / 4, provider.id


def test_platform_providers_take_their_credentials_from_the_environment(catalog: Catalog) -> None:
    platform = [p for p in catalog.providers if p.scope == Scope.PLATFORM]
    assert [p.id for p in platform] == ["better_stack", "sentry"]
    envs = {c.env for p in platform for c in p.platform_credentials}
    assert {"BETTER_STACK_API_KEY", "SENTRY_AUTH_TOKEN"} <= envs
    assert [p.id for p in catalog.tenant_providers()] == list(PRODUCT_PROVIDERS)[:-2]


def test_oauth_providers_use_the_seeds_env_names_for_their_client(catalog: Catalog) -> None:
    envs = {p.id: [c.env for c in p.platform_credentials] for p in catalog.oauth_providers()}
    assert envs["meta_ads"] == ["META_APP_ID", "META_APP_SECRET"]
    assert envs["google_ads"] == [
        "GOOGLE_ADS_CLIENT_ID",
        "GOOGLE_ADS_CLIENT_SECRET",
        "GOOGLE_ADS_DEVELOPER_TOKEN",
    ]
    assert envs["tiktok_ads"] == ["TIKTOK_APP_ID", "TIKTOK_APP_SECRET"]
    assert envs["slack"] == ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"]


TRANSPORT = {
    "shopify": [("header", "X-Shopify-Access-Token", "{access_token}")],
    "klaviyo": [
        ("header", "Authorization", "Klaviyo-API-Key {private_api_key}"),
        ("header", "revision", "2026-10-15"),
    ],
    "elevenlabs": [("header", "xi-api-key", "{api_key}")],
    "yotpo": [("header", "X-Yotpo-Token", "{access_token}")],
    "assemblyai": [("header", "Authorization", "{api_key}")],
    "fairing": [("header", "Authorization", "{api_key}")],
    "lob": [("basic", "{api_key}", "")],
    "mux": [("basic", "{token_id}", "{token_secret}")],
    "plaid": [("header", "PLAID-CLIENT-ID", "{client_id}"), ("header", "PLAID-SECRET", "{secret}")],
    "tiktok_ads": [("header", "Access-Token", "{access_token}")],
    "google_ads": [
        ("header", "Authorization", "Bearer {access_token}"),
        ("header", "developer-token", "{developer_token}"),
    ],
    "ga4": [
        ("query", "measurement_id", "{measurement_id}"),
        ("query", "api_secret", "{api_secret}"),
    ],
    "resend": [("header", "Authorization", "Bearer {api_key}")],
    "paypal": [("header", "Authorization", "Bearer {access_token}")],
}


def _placement(p: Placement) -> tuple[str, str | None, str | None]:
    if p.kind == "basic":
        return (p.kind, p.username, p.password)
    return (p.kind, p.name, p.value)


@pytest.mark.parametrize("provider_id", list(TRANSPORT))
def test_default_mode_sends_the_credential_as_the_reference_says(
    catalog: Catalog, provider_id: str
) -> None:
    transport = catalog.get(provider_id).auth.transport
    assert [_placement(p) for p in transport] == TRANSPORT[provider_id]


def test_second_modes_are_klaviyo_pkce_oauth_and_wise_partner_oauth(catalog: Catalog) -> None:
    klaviyo = catalog.get("klaviyo")
    assert [m.type for m in klaviyo.auth_modes] == [
        AuthType.API_KEY,
        AuthType.OAUTH2_AUTHORIZATION_CODE,
    ]
    assert klaviyo.auth_modes[1].oauth is not None
    assert klaviyo.auth_modes[1].oauth.pkce == "required"
    wise = catalog.get("wise")
    assert [m.type for m in wise.auth_modes] == [
        AuthType.API_KEY,
        AuthType.OAUTH2_AUTHORIZATION_CODE,
    ]
    assert wise.auth_modes[1].refresh == "refresh_grant"
    assert {p.id for p in catalog.oauth_providers()} & {
        p.id for p in catalog.api_key_providers()
    } == {
        "klaviyo",
        "wise",
    }


def test_minting_providers_send_their_secret_in_the_mint_request(catalog: Catalog) -> None:
    paypal = catalog.get("paypal").auth
    assert paypal.mint is not None
    assert [_placement(p) for p in paypal.mint.auth] == [
        ("basic", "{client_id}", "{client_secret}")
    ]
    assert paypal.mint.form_body == {"grant_type": "client_credentials"}
    yotpo = catalog.get("yotpo").auth
    assert yotpo.mint is not None
    values = {"store_id": "app-key-123", "secret": "s3cret-value"}
    assert catalog.url(catalog.get("yotpo"), yotpo.mint.url, values) == (
        "https://api.yotpo.com/core/v3/stores/app-key-123/access_tokens"
    )
    assert yotpo.mint.json_body == {"secret": "{secret}"}
