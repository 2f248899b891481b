"""The provider catalog as data: what every service needs to know about a provider.

Everything provider-specific lives in ``providers.yaml`` and is checked by these models when the
catalog loads. Templates (URLs, header values, bodies) use ``{name}`` placeholders; the names a
provider may use are its credential fields (``access_token``, ``refresh_token``, the API-key
fields), its tenant parameters (``shop``) and its platform credentials (``client_id``,
``developer_token``). ``Catalog`` validation refuses any other name, so a typo fails at load time.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProviderId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(pattern: str) -> str:
    """``pattern`` if it compiles (a ``ValueError`` for pydantic otherwise)."""
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"pattern {pattern!r} does not compile: {error}") from None
    return pattern


class Tier(StrEnum):
    REQUIRED = "required"
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"
    PLATFORM = "platform"


class Scope(StrEnum):
    """Who owns the credential: each brand (tenant) or the platform operator (environment)."""

    TENANT = "tenant"
    PLATFORM = "platform"


class AuthType(StrEnum):
    OAUTH2_AUTHORIZATION_CODE = "oauth2_authorization_code"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    API_KEY = "api_key"
    TOKEN_EXCHANGE = "token_exchange"
    """An admin types a key and secret; we mint a short-lived token from them (Yotpo)."""


class Pkce(StrEnum):
    REQUIRED = "required"
    SUPPORTED = "supported"
    OFF = "off"


class RefreshStrategy(StrEnum):
    REFRESH_GRANT = "refresh_grant"
    ROTATING_REFRESH_GRANT = "rotating_refresh_grant"
    """Each refresh returns a new refresh token and invalidates the old one: save both at once."""
    REMINT = "remint"
    """No refresh token: mint a new access token from the stored secret."""
    LONG_LIVED_REMINDER = "long_lived_reminder"
    """Cannot be refreshed: remind the brand to reconnect before it expires."""
    NONE = "none"


class ConfiguredIn(StrEnum):
    ONBOARDING = "onboarding"
    ADMIN_SETTINGS = "admin_settings"
    PLATFORM = "platform"


class OAuthHook(StrEnum):
    """Quirks that data cannot express; each is a named function in the gateway or refresher."""

    META_LONG_LIVED_EXCHANGE = "meta_long_lived_exchange"
    TIKTOK_AUTH_CODE = "tiktok_auth_code"
    SLACK_OAUTH_V2 = "slack_oauth_v2"
    SHOPIFY_SHOP_DOMAIN = "shopify_shop_domain"


class HealthCheckMode(StrEnum):
    REQUEST = "request"
    """A cheap authenticated request proves the credential."""
    TOKEN_MINT = "token_mint"
    """Minting a token from the stored secret is the proof (Yotpo, PayPal)."""
    BEST_EFFORT = "best_effort"
    """No request can prove it (GA4 Measurement Protocol, Clarity's 10 calls/day): shape only."""


class CredentialField(_Model):
    """A value an admin types for an API-key provider."""

    name: FieldName
    label: str
    secret: bool = True
    pattern: str = r"^\S{8,512}$"
    """The accepted shape; deliberately loose: the provider is the judge of a value."""
    help: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _regex(value)

    def accepts(self, value: str) -> bool:
        """Whether ``value`` has this field's shape (the whole value: no trailing newline)."""
        return re.fullmatch(self.pattern, value) is not None


class PlatformCredential(_Model):
    """A secret the platform operator configures once (OAuth client, developer token)."""

    name: FieldName
    env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]+$")]
    secret: bool = True


EnvName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]+$")]


class SharedAccount(_Model):
    """The platform's own account at this provider, which a brand may use instead of its own
    (the seed's environment section: Retell, ElevenLabs, Mux, AssemblyAI, Fairing, Plaid,
    PayPal, Lob, Resend). Configured when every ``fields`` variable is set."""

    fields: Annotated[dict[FieldName, EnvName], Field(min_length=1)]
    """The credential, as the default mode's field names, from these environment variables."""
    extra: dict[FieldName, EnvName] = Field(default_factory=dict)
    """Platform values beside the credential, for the platform's own use (Retell's agent ids,
    Lob's webhook secret); optional, never sent as the credential."""


class HostChoice(_Model):
    """An environment variable that picks the provider's hosts (``PLAID_ENV``, ``PAYPAL_MODE``):
    each value names the host that replaces ``hosts[default]`` in every URL and allow-list."""

    env: EnvName
    default: str
    hosts: Annotated[dict[str, str], Field(min_length=2)]

    @model_validator(mode="after")
    def _default_known(self) -> HostChoice:
        if self.default not in self.hosts:
            raise ValueError(f"{self.env}: default {self.default!r} is not among its hosts")
        return self


class Placement(_Model):
    """Where a credential goes on a request."""

    kind: Literal["header", "basic", "query"]
    name: str | None = None
    """Header or query parameter name (unused for ``basic``)."""
    value: str | None = None
    """Template for ``header`` and ``query``, e.g. ``"Bearer {access_token}"``."""
    username: str | None = None
    password: str | None = None
    basic_encoding: Literal["raw", "form"] = "raw"
    """``basic`` only. ``raw``: ``user:password`` as RFC 7617 sends API credentials (Mux, Lob).
    ``form``: each part form-encoded first, as RFC 6749 §2.3.1 requires when the pair is an
    OAuth client authenticating at a token endpoint (PayPal's client-credentials mint)."""

    @model_validator(mode="after")
    def _complete(self) -> Placement:
        if self.kind == "basic":
            if self.username is None or self.password is None:
                raise ValueError("basic placement needs username and password templates")
        elif self.name is None or self.value is None:
            raise ValueError(f"{self.kind} placement needs name and value")
        return self


class ResponseMatch(_Model):
    """A response condition: status among ``status`` and/or the JSON value at ``path`` among
    ``values`` (dotted path; a missing path never matches)."""

    status: list[int] | None = None
    path: str | None = None
    values: list[str | int | bool] | None = None

    @model_validator(mode="after")
    def _non_empty(self) -> ResponseMatch:
        if self.status is None and self.path is None:
            raise ValueError("a response match needs a status list or a JSON path")
        if (self.path is None) != (self.values is None):
            raise ValueError("path and values go together")
        return self


class RequestSpec(_Model):
    """An HTTP request a service sends with a connection's credential."""

    method: Literal["GET", "POST", "DELETE"] = "GET"
    url: str
    auth: list[Placement] = Field(default_factory=list)
    """Credential placements of this request itself. Health and identity requests also carry their
    mode's ``transport``; a mint request carries only these (there is no token yet), e.g. PayPal's
    HTTP Basic ``{client_id}:{client_secret}``."""
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = None
    form_body: dict[str, str] | None = None
    success: list[ResponseMatch] = Field(default_factory=list)
    """All must hold besides a 2xx status (Slack ``ok: true``, TikTok ``code: 0``)."""
    account_name_path: str | None = None
    account_id_path: str | None = None
    metadata_paths: dict[FieldName, str] = Field(default_factory=dict)
    """For identity requests: connection metadata to keep, by name, from dotted paths of the
    answer (Meta's ad accounts from ``/me/adaccounts``); non-secret facts only."""
    token_path: str | None = None
    """For mint requests: where the new access token is in the JSON answer."""
    expires_in_path: str | None = None


ResourceKind = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]


class ResourceListing(RequestSpec):
    """A request that lists what a brand can pick in a setting (Meta ad accounts, Slack
    channels), sent with the connection's credential as its mode's ``transport`` says."""

    items_path: str
    """Where the list is in the answer (``data``, ``channels``, ``resourceNames``)."""
    id_path: str | None = None
    """Each item's id, relative to the item; ``None`` when the item is the id (a string)."""
    name_path: str | None = None
    """Each item's display name, relative to the item; the id stands in when absent."""
    id_prefix: str = ""
    """Stripped from each id (Google Ads ``customers/``)."""
    params: list[FieldName] = Field(default_factory=list)
    """URL placeholders the caller supplies: other settings the listing depends on (Meta's
    pixels belong to an ad account: ``ad_account_id``)."""


class Action(RequestSpec):
    """A request a service sends on a brand's (or the platform's) behalf: post a Slack message,
    send an email. The catalog says where it goes, how the credential travels and how the answer
    says it worked; the JSON body is the caller's, sent as is and never rendered as a template
    (message text may hold braces, and must never be able to pull in a credential).
    """

    params: list[FieldName] = Field(default_factory=list)
    """URL placeholders the caller supplies for this action alone (one path segment each,
    percent-encoded), e.g. the parts of a Slack incoming-webhook URL."""
    authenticated: bool = True
    """Whether the request carries the connection's credential as the auth mode's ``transport``
    says (plus the action's own ``auth``); a webhook URL is its own credential."""
    result_id_path: str | None = None
    """Where the answer names what was created (Slack ``ts``, Resend ``id``)."""
    echo: list[str] = Field(default_factory=list)
    """Top-level fields of the request body that the answer repeats (Slack ``channel``)."""
    idempotency_header: str | None = None
    """The header under which the provider de-duplicates a repeated request (Resend
    ``Idempotency-Key``); ``None`` when the provider offers no idempotency (Slack)."""

    @model_validator(mode="after")
    def _params_in_url(self) -> Action:
        missing = set(self.params) - placeholders(self.url)
        if missing:
            raise ValueError(f"action params {sorted(missing)} are not placeholders of its URL")
        return self


ActionName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]


class Revocation(RequestSpec):
    """A provider's own request that ends a brand's grant at disconnect, where it is not RFC
    7009's ``revoke_url`` (Slack ``auth.revoke``, Meta ``DELETE /me/permissions``, Stripe's
    deauthorize, Shopify's uninstall). Sent with only its own ``auth`` placements (the mode's
    ``transport`` is not added: Stripe authenticates with the platform key), filled from the
    connection's ``access_token``, tenant parameters and platform credentials. A 2xx meeting
    ``success`` is revoked; so is the provider's revoked answer (the grant is already gone)."""

    account_from_identity: bool = False
    """``{account_id}`` is the account the token belongs to, read first with the provider's
    identity request (Stripe deauthorizes an account id, not a token)."""

    @model_validator(mode="after")
    def _account_named(self) -> Revocation:
        templates = [self.url, *self.headers.values(), *self.query.values()]
        templates += [t for p in self.auth for t in (p.value, p.username, p.password) if t]
        templates += list((self.form_body or {}).values())
        named = any("{account_id}" in t for t in templates)
        if named != self.account_from_identity:
            raise ValueError("{account_id} goes with account_from_identity, and only there")
        return self


class OAuthSpec(_Model):
    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    """RFC 7009 revocation (Google, Klaviyo)."""
    revocation: Revocation | None = None
    """The provider's own revocation request, where it has no RFC 7009 endpoint."""
    manual_removal: str | None = Field(default=None, min_length=20, max_length=400)
    """Where the brand removes the app itself, for a provider with no revocation API: the
    console shows it on the disconnect confirmation."""
    scopes: list[str] = Field(default_factory=list)
    scope_separator: Literal[" ", ","] = " "
    scope_param: str = "scope"
    pkce: Pkce = Pkce.OFF
    authorization_params: dict[str, str] = Field(default_factory=dict)
    client_id_param: str = "client_id"
    client_secret_param: str = "client_secret"
    """Name of the client secret in a ``client_secret_post`` token request (TikTok: ``secret``)."""
    code_param: str = "code"
    client_auth: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"
    basic_encoding: Literal["form", "raw"] = "form"
    """How ``client_secret_basic`` builds its header. ``form`` (RFC 6749 §2.3.1): the client id
    and secret are form-encoded before they become the Basic user and password, so a secret
    with ``+ / = % :`` survives. ``raw`` is the escape hatch for a server known to base64 the
    pair unencoded; set it only with the provider's documentation or a captured exchange as the
    source, named in a comment beside it. No catalog provider needs it today."""
    token_request_format: Literal["form", "json"] = "form"
    issuer: str | None = None
    hooks: list[OAuthHook] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ends(self) -> OAuthSpec:
        """Every grant ends somehow at disconnect: revoked by us (one way), or removed by the
        brand where the catalog says."""
        ways = sum(x is not None for x in (self.revoke_url, self.revocation))
        if ways > 1:
            raise ValueError("revoke_url and revocation are two ways to do one thing: pick one")
        if (ways == 0) == (self.manual_removal is None):
            raise ValueError(
                "an OAuth mode either revokes (revoke_url or revocation) or says where the brand "
                "removes the app itself (manual_removal), not both"
            )
        return self

    @property
    def revocable(self) -> bool:
        return self.revoke_url is not None or self.revocation is not None


_MINTED = {AuthType.OAUTH2_CLIENT_CREDENTIALS, AuthType.TOKEN_EXCHANGE}


class AuthMode(_Model):
    """One way to connect a provider. The first mode of a provider is its default."""

    type: AuthType
    oauth: OAuthSpec | None = None
    fields: list[CredentialField] = Field(default_factory=list)
    """What the admin types (API-key, client-credentials and token-exchange modes)."""
    mint: RequestSpec | None = None
    """How to mint an access token from the typed fields (client credentials, token exchange)."""
    transport: list[Placement]
    refresh: RefreshStrategy
    access_token_lifetime_s: int | None = None
    """Typical lifetime; ``None`` when the credential does not expire."""
    refresh_lead_s: int | None = None
    """Refresh (or remind, for long-lived tokens) this long before expiry."""

    @model_validator(mode="after")
    def _consistent(self) -> AuthMode:
        authorization_code = self.type == AuthType.OAUTH2_AUTHORIZATION_CODE
        if authorization_code != (self.oauth is not None):
            raise ValueError("an oauth section goes with oauth2_authorization_code, and only there")
        if not authorization_code and not self.fields:
            raise ValueError(f"{self.type} needs the credential fields an admin types")
        if (self.type in _MINTED) != (self.mint is not None):
            raise ValueError(f"a mint request goes with {sorted(_MINTED)}, and only there")
        if self.refresh == RefreshStrategy.REMINT and self.mint is None:
            raise ValueError("remint needs a mint request")
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError("duplicate credential field names")
        if self.refresh != RefreshStrategy.NONE and (
            self.access_token_lifetime_s is None or self.refresh_lead_s is None
        ):
            raise ValueError(f"{self.refresh} needs access_token_lifetime_s and refresh_lead_s")
        return self


class Checks(_Model):
    health_mode: HealthCheckMode
    health: RequestSpec | None = None
    identity: RequestSpec | None = None
    """The request whose answer names the account ("Connected to X"); may equal health."""
    note: str | None = None

    @model_validator(mode="after")
    def _request_present(self) -> Checks:
        if self.health_mode == HealthCheckMode.REQUEST and self.health is None:
            raise ValueError("health_mode request needs a health request")
        return self


class ErrorSignals(_Model):
    """How the provider says what went wrong; checked in order revoked, rate_limited.

    The first entry of each list is the canonical answer (the provider sandbox renders it), so it
    must name a status.
    """

    revoked: Annotated[list[ResponseMatch], Field(min_length=1)]
    rate_limited: Annotated[list[ResponseMatch], Field(min_length=1)] = Field(
        default_factory=lambda: [ResponseMatch(status=[429])]
    )

    @model_validator(mode="after")
    def _canonical_status(self) -> ErrorSignals:
        if self.revoked[0].status is None or self.rate_limited[0].status is None:
            raise ValueError("the first revoked and rate_limited entries need a status")
        return self


SettingType = Literal["string", "boolean", "integer", "string_list", "channel_map"]


class SettingField(_Model):
    """One per-integration setting an admin edits on the provider's settings page.

    ``pattern`` applies to a ``string``, to each item of a ``string_list`` and to each channel of a
    ``channel_map`` (a mapping from the notification types in ``options`` to a channel).
    """

    name: FieldName
    label: str
    type: SettingType
    pattern: str | None = None
    options: list[str] | None = None
    """For ``channel_map``: the notification types that may be routed."""
    default: Any = None
    required: bool = False
    resource: ResourceKind | None = None
    """The provider's resource listing this setting picks from (schema ``x-resource``); a saved
    value must be among its ids (a ``#name`` among its names, for a Slack channel)."""

    @model_validator(mode="after")
    def _consistent(self) -> SettingField:
        if self.pattern is not None:
            if self.type in ("boolean", "integer"):
                raise ValueError(f"a {self.type} setting takes no pattern")
            _regex(self.pattern)
        if (self.type == "channel_map") != bool(self.options):
            raise ValueError("options go with channel_map settings, and only there")
        if self.default is not None:
            self.check(self.default)
        return self

    def check(self, value: Any) -> Any:
        """Return ``value`` if it fits this setting; else raise ``ValueError`` naming it."""
        if not _fits(self, value):
            raise ValueError(f"setting {self.name!r} does not accept {value!r}")
        return value


def _fits(setting: SettingField, value: Any) -> bool:
    def text(item: Any) -> bool:
        if not isinstance(item, str):
            return False
        return setting.pattern is None or re.fullmatch(setting.pattern, item) is not None

    match setting.type:
        case "string":
            return text(value)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "string_list":
            return isinstance(value, list) and all(text(item) for item in value)
        case "channel_map":
            return (
                isinstance(value, dict)
                and set(value) <= set(setting.options or ())
                and all(text(channel) for channel in value.values())
            )


class FeatureFlag(_Model):
    default: bool
    requires_connection: bool
    provider: ProviderId | None = None

    @model_validator(mode="after")
    def _provider_named(self) -> FeatureFlag:
        if self.requires_connection and self.provider is None:
            raise ValueError("a flag that requires a connection names its provider")
        return self


class HubGroup(_Model):
    """One group of the admin hub: its title and the line under it."""

    name: str
    description: str
    platform: bool = False
    """A group the catalog adds to the seed's (providers the seed's hub does not list)."""


class OnboardingCard(_Model):
    """One card of the onboarding step "Connect Integrations" (seed Part 1, step 5)."""

    provider: ProviderId
    category: str
    description: str
    recommended: bool = False
    """Shown with a "Recommended" badge while not connected."""


class Onboarding(_Model):
    categories: list[str] = Field(default_factory=list)
    """The step's sections, in order; each card names one."""
    cards: list[OnboardingCard] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Onboarding:
        providers = [card.provider for card in self.cards]
        if len(providers) != len(set(providers)):
            raise ValueError("onboarding: a provider has two cards")
        unknown = {card.category for card in self.cards} - set(self.categories)
        if unknown:
            raise ValueError(f"onboarding: cards name unknown categories {sorted(unknown)}")
        return self

    def in_category(self, category: str) -> list[OnboardingCard]:
        return [card for card in self.cards if card.category == category]


class Provider(_Model):
    id: ProviderId
    name: str
    group: str
    category: str
    purpose: str
    tier: Tier
    scope: Scope
    configured_in: list[ConfiguredIn]
    tenant_params: list[FieldName] = Field(default_factory=list)
    """Per-connection values that shape URLs (Shopify ``shop``), validated by ``host`` patterns."""
    allowed_hosts: list[str]
    """Exact hosts or patterns with a tenant parameter, e.g. ``{shop}.myshopify.com``."""
    platform_credentials: list[PlatformCredential] = Field(default_factory=list)
    shared_account: SharedAccount | None = None
    """Whether the platform may supply one account for every brand, and from which variables."""
    shared_account_note: str | None = None
    """Why not, where the seed names platform variables but no shared account fits (Slack)."""
    host_choice: HostChoice | None = None
    auth_modes: Annotated[list[AuthMode], Field(min_length=1)]
    checks: Checks
    errors: ErrorSignals
    settings: list[SettingField] = Field(default_factory=list)
    actions: dict[ActionName, Action] = Field(default_factory=dict)
    """Named requests sent on a brand's behalf (``post_message``, ``send_email``)."""
    resources: dict[ResourceKind, ResourceListing] = Field(default_factory=dict)
    """What a brand can pick, by kind (``GET .../resources/{kind}``)."""
    settings_not_covered: list[str] = Field(default_factory=list)
    """Settings the seed or the provider suggests that this catalog does not offer, and why."""

    @property
    def auth(self) -> AuthMode:
        """The default auth mode."""
        return self.auth_modes[0]

    @model_validator(mode="after")
    def _consistent(self) -> Provider:
        types = [mode.type for mode in self.auth_modes]
        if len(types) != len(set(types)):
            raise ValueError(f"{self.id}: at most one auth mode per type")
        platform = {credential.name for credential in self.platform_credentials}
        oauth_client = {"client_id", "client_secret"}
        if self.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE) and not oauth_client <= platform:
            raise ValueError(f"{self.id}: OAuth needs platform credentials {sorted(oauth_client)}")
        if self.scope == Scope.PLATFORM:
            env_fields = {f.name for mode in self.auth_modes for f in mode.fields}
            if self.configured_in != [ConfiguredIn.PLATFORM] or not env_fields <= platform:
                raise ValueError(
                    f"{self.id}: a platform provider is configured in the platform and every "
                    "field it uses comes from a platform credential"
                )
        if self.shared_account is not None:
            typed = {f.name for f in self.auth.fields}
            if set(self.shared_account.fields) != typed:
                raise ValueError(
                    f"{self.id}: a shared account supplies exactly the default mode's fields "
                    f"({sorted(typed)})"
                )
        if self.checks.health_mode == HealthCheckMode.TOKEN_MINT and self.auth.mint is None:
            raise ValueError(f"{self.id}: health_mode token_mint needs a default mode that mints")
        names = [setting.name for setting in self.settings]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.id}: duplicate setting names")
        for setting in self.settings:
            if setting.resource is not None and setting.resource not in self.resources:
                raise ValueError(f"{self.id}: setting {setting.name} names no listed resource")
        for kind, listing in self.resources.items():
            if not set(listing.params) <= set(names):
                raise ValueError(f"{self.id}: resource {kind} takes params that are not settings")
        return self

    def has_mode(self, auth_type: AuthType) -> bool:
        return any(mode.type == auth_type for mode in self.auth_modes)

    def auth_mode(self, auth_type: str | None) -> AuthMode | None:
        """The mode a connection's ``auth_type`` names (the default for ``None``), or ``None``
        when this provider has no such mode."""
        if auth_type is None:
            return self.auth
        return next((mode for mode in self.auth_modes if mode.type.value == auth_type), None)

    def mode(self, auth_type: AuthType) -> AuthMode:
        for mode in self.auth_modes:
            if mode.type == auth_type:
                return mode
        raise KeyError(f"{self.id} has no {auth_type} mode")

    def url_templates(self) -> list[str]:
        """Every URL this provider's entry names: OAuth, mint, health and identity requests."""
        urls: list[str] = []
        for mode in self.auth_modes:
            if mode.oauth is not None:
                oauth = mode.oauth
                urls += [u for u in (oauth.authorize_url, oauth.token_url, oauth.revoke_url) if u]
                if oauth.revocation is not None:
                    urls.append(oauth.revocation.url)
            if mode.mint is not None:
                urls.append(mode.mint.url)
        urls += [r.url for r in (self.checks.health, self.checks.identity) if r is not None]
        urls += [action.url for action in self.actions.values()]
        urls += [listing.url for listing in self.resources.values()]
        return urls

    def check_settings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validate an admin's settings against this provider's schema; fill in the defaults.

        Raises ``ValueError`` naming the first unknown, missing or ill-shaped setting.
        """
        fields = {setting.name: setting for setting in self.settings}
        unknown = values.keys() - fields.keys()
        if unknown:
            raise ValueError(f"{self.id} has no setting {sorted(unknown)[0]!r}")
        checked: dict[str, Any] = {}
        for name, setting in fields.items():
            if name in values:
                checked[name] = setting.check(values[name])
            elif setting.required:
                raise ValueError(f"setting {name!r} is required")
            elif setting.default is not None:
                checked[name] = copy.deepcopy(setting.default)
        return checked

    def template_names(self) -> set[str]:
        """Every placeholder name this provider's templates may use."""
        names = {"access_token", "refresh_token", *self.tenant_params}
        names.update(p.name for p in self.platform_credentials)
        for mode in self.auth_modes:
            names.update(f.name for f in mode.fields)
        for action in self.actions.values():
            names.update(action.params)
        for listing in self.resources.values():
            names.update(listing.params)
        if any(
            m.oauth is not None
            and m.oauth.revocation is not None
            and m.oauth.revocation.account_from_identity
            for m in self.auth_modes
        ):
            names.add("account_id")
        return names


PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders in a template."""
    return set(PLACEHOLDER.findall(template))
