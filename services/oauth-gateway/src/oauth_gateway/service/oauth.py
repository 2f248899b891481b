"""OAuth authorization-code flows: ``start`` and ``callback`` (SECURITY.md 1-9).

``start`` records a pending flow (PKCE verifier encrypted, ``return_to`` checked), signs a state
that names it and binds it to the browser, and publishes ``connection.requested``.

``callback`` first proves the request belongs to a flow this browser started (signature,
provider, expiry, browser, single use); until then nothing is called and nothing is redirected:
a refusal is a ``StateRefusedError`` (4xx). Once the flow is consumed, every outcome is a 303 to
the flow's return URL, and a failure also publishes ``connection.failed``.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub_catalog import AuthMode, AuthType, OAuthHook, Pkce, Provider
from hub_contracts import ConnectionEstablishedV1, ConnectionRequestedV1, Credentials
from hub_contracts import connection_id as derive_connection_id
from pydantic import SecretStr

from oauth_gateway import domain
from oauth_gateway.errors import (
    WHERE,
    BrowserMismatchError,
    ConnectRefusedError,
    GatewayError,
    NotFoundError,
    StateRefusedError,
)
from oauth_gateway.service.ports import AccountFacts, FlowStore, PendingFlow
from oauth_gateway.service.toolkit import Toolkit, account, metadata

log = logging.getLogger(__name__)

VERIFIER_FIELD = "code_verifier"
MAX_CODE_CHARS = 4096


@dataclass(frozen=True)
class Started:
    flow_id: uuid.UUID
    auth_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class CallbackOutcome:
    location: str
    organization_id: uuid.UUID
    provider: str
    flow_id: uuid.UUID
    reason: str | None
    """``None`` when connected; else the error code in the redirect."""


class OAuthFlows:
    def __init__(
        self,
        tools: Toolkit,
        flows: FlowStore,
        codec: domain.StateCodec,
        returns: domain.ReturnUrls,
        *,
        redirect_base: str,
        flow_ttl: timedelta,
    ) -> None:
        self.tools = tools
        self.flows = flows
        self.codec = codec
        self.returns = returns
        self.redirect_base = redirect_base.rstrip("/")
        self.flow_ttl = flow_ttl

    def redirect_uri(self, provider: Provider) -> str:
        """The registered redirect URI, byte for byte the same at authorize and token time."""
        return f"{self.redirect_base}/v1/oauth/{provider.id}/callback"

    async def start(
        self,
        organization_id: uuid.UUID,
        slug: str,
        *,
        browser_id: str,
        requested_by: str | None,
        return_to: str | None,
        tenant_params: dict[str, str],
    ) -> Started:
        provider = self.tools.provider(slug)
        mode = domain.oauth_mode(provider)
        assert mode.oauth is not None
        checked_return = self.returns.check(return_to) if return_to is not None else None
        tenant = domain.tenant_values(provider, tenant_params)
        values = self.tools.platform_values(provider, required=True) | tenant
        now = self.tools.now()
        flow_id = uuid.uuid4()
        verifier = domain.new_code_verifier() if mode.oauth.pkce != Pkce.OFF else None
        claims = domain.StateClaims(
            flow=flow_id,
            org=organization_id,
            provider=provider.id,
            nonce=domain.new_nonce(),
            exp=int((now + self.flow_ttl).timestamp()),
            browser=self.codec.browser_binding(browser_id),
        )
        state = self.codec.sign(claims)
        auth_url = self.tools.providers.authorization_url(
            provider,
            values,
            redirect_uri=self.redirect_uri(provider),
            state=state,
            code_verifier=verifier,
        )
        await self.flows.create(
            PendingFlow(
                flow_id=flow_id,
                organization_id=organization_id,
                provider=provider.id,
                auth_type=mode.type.value,
                nonce=claims.nonce,
                browser_binding=claims.browser,
                code_verifier=(
                    self.tools.encrypt(
                        organization_id, provider, VERIFIER_FIELD, SecretStr(verifier)
                    )
                    if verifier is not None
                    else None
                ),
                return_to=checked_return,
                tenant_params=tenant,
                requested_by=requested_by,
                created_at=now,
                expires_at=claims.expires_at,
            )
        )
        await self.tools.events.publish(
            ConnectionRequestedV1(
                organization_id=organization_id,
                provider=provider.id,
                flow_id=flow_id,
                auth_type=mode.type.value,
                requested_by=requested_by[:200] if requested_by else None,
                tenant_params=tenant,
            )
        )
        return Started(flow_id, auth_url, state, claims.expires_at)

    async def callback(
        self, provider_id: str, query: Sequence[tuple[str, str]], browser_id: str | None
    ) -> CallbackOutcome:
        provider = self._callback_provider(provider_id)
        params = _single_valued(query)
        flow = await self._claim(provider, params.get("state"), browser_id)
        mode = domain.oauth_mode(provider)
        try:
            await self._finish(provider, mode, flow, params)
        except GatewayError as error:
            return await self._failed(provider, flow, error)
        return CallbackOutcome(
            location=self._location(flow, provider, {"status": "connected"}),
            organization_id=flow.organization_id,
            provider=provider.id,
            flow_id=flow.flow_id,
            reason=None,
        )

    def _callback_provider(self, provider_id: str) -> Provider:
        provider = self.tools.provider(provider_id)
        # The registered redirect URI names the canonical id of an OAuth provider.
        if provider.id != provider_id or not provider.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE):
            raise NotFoundError(
                "There is no such callback.", code="unknown_provider", field="provider"
            )
        return provider

    async def _claim(
        self, provider: Provider, state: str | None, browser_id: str | None
    ) -> PendingFlow:
        """The pending flow this callback belongs to, consumed; or ``StateRefusedError``."""
        if state is None:
            raise StateRefusedError(
                "The answer from the provider carries no sign-in reference (state). Start "
                f"connecting again from {WHERE}.",
                code="invalid_state",
            )
        claims = self.codec.verify(state)
        if claims.provider != provider.id:
            raise StateRefusedError(
                f"This sign-in was started for another provider, not {provider.name}. Start "
                f"connecting again from {WHERE}.",
                code="provider_mismatch",
            )
        if self.tools.now() >= claims.expires_at:
            raise StateRefusedError(
                f"This sign-in expired (it is valid for {int(self.flow_ttl.total_seconds()) // 60}"
                f" minutes). Start connecting again from {WHERE}.",
                code="flow_expired",
            )
        if not self.codec.same_browser(claims.browser, browser_id):
            raise BrowserMismatchError()
        flow = await self.flows.consume(claims.flow, provider.id)
        if flow is None:
            raise StateRefusedError(
                "This sign-in was already used or has expired; each one works once. Check "
                f"{WHERE}: the connection may already be there, or start again.",
                code="flow_used",
            )
        if not (
            flow.organization_id == claims.org
            and hmac.compare_digest(flow.nonce.encode(), claims.nonce.encode())
            and hmac.compare_digest(flow.browser_binding.encode(), claims.browser.encode())
        ):
            raise StateRefusedError(
                f"This sign-in does not match its record. Start connecting again from {WHERE}.",
                code="invalid_state",
            )
        return flow

    async def _finish(
        self, provider: Provider, mode: AuthMode, flow: PendingFlow, params: dict[str, str]
    ) -> None:
        assert mode.oauth is not None
        spec = mode.oauth
        name = provider.name
        if "error" in params:
            error = domain.provider_error_code(params["error"])
            if error == "access_denied":
                raise ConnectRefusedError(
                    f"You declined access on {name}. Start again from {WHERE} and approve the "
                    "permissions to connect.",
                    code="access_denied",
                    provider_error=error,
                )
            raise ConnectRefusedError(
                f"{name} could not complete the sign-in ({error}). Start again from {WHERE}.",
                code="provider_error",
                provider_error=error,
            )
        unverified = ConnectRefusedError(
            f"The answer claiming to come from {name} could not be verified, so nothing was "
            f"connected. Start again from {WHERE}.",
            code="callback_signature_invalid",
        )
        if spec.issuer is not None and params.get("iss") != spec.issuer:
            raise ConnectRefusedError(unverified.message, code="issuer_mismatch")
        platform = self.tools.platform_values(provider, required=True)
        if OAuthHook.SHOPIFY_SHOP_DOMAIN in spec.hooks:
            self._check_shop(provider, flow, params, platform["client_secret"], unverified)
        code = params.get(spec.code_param, "")
        if not code or len(code) > MAX_CODE_CHARS:
            raise ConnectRefusedError(
                f"{name} sent an incomplete answer (no authorization code). Start again from "
                f"{WHERE}.",
                code="invalid_callback",
            )
        verifier = (
            self.tools.decrypt(flow.organization_id, provider, VERIFIER_FIELD, flow.code_verifier)
            if flow.code_verifier is not None
            else None
        )
        values = platform | flow.tenant_params
        try:
            tokens = await self.tools.providers.exchange_code(
                provider,
                values,
                redirect_uri=self.redirect_uri(provider),
                code=code,
                code_verifier=verifier.get_secret_value() if verifier is not None else None,
            )
        except domain.ProviderCallError as failure:
            raise domain.explain(
                failure,
                provider,
                refused_code="code_rejected",
                refused_message=(
                    f"{name} refused to finish the sign-in{domain.status_suffix(failure)}. "
                    f"Start connecting again from {WHERE}."
                ),
            ) from None
        facts = await self._identify(provider, mode, values, tokens.access_token)
        org = flow.organization_id
        await self.tools.events.publish(
            ConnectionEstablishedV1(
                organization_id=org,
                provider=provider.id,
                connection_id=derive_connection_id(org, provider.id),
                flow_id=flow.flow_id,
                auth_type=mode.type.value,
                credentials=Credentials(
                    access_token=self.tools.encrypt(
                        org, provider, "access_token", tokens.access_token
                    ),
                    refresh_token=(
                        self.tools.encrypt(org, provider, "refresh_token", tokens.refresh_token)
                        if tokens.refresh_token is not None
                        else None
                    ),
                ),
                token_expires_at=tokens.expires_at,
                scopes=tokens.scopes or list(spec.scopes),
                account=account(facts),
                metadata=metadata(flow.tenant_params, tokens.extra),
            )
        )

    def _check_shop(
        self,
        provider: Provider,
        flow: PendingFlow,
        params: dict[str, str],
        client_secret: str,
        unverified: ConnectRefusedError,
    ) -> None:
        """Hook ``shopify_shop_domain``: the callback is signed and names the flow's shop."""
        if not domain.shopify_callback_signed(params, client_secret):
            raise unverified
        for param, value in flow.tenant_params.items():
            if params.get(param) != domain.tenant_host(provider, param, value):
                raise ConnectRefusedError(unverified.message, code="shop_mismatch")

    async def _identify(
        self, provider: Provider, mode: AuthMode, values: dict[str, str], token: SecretStr
    ) -> AccountFacts:
        """Who connected ("Connected to X"). A refusal fails the connect (the token does not
        work); an outage does not (the health monitor will look again)."""
        with_token = values | {"access_token": token.get_secret_value()}
        try:
            return await self.tools.identify(provider, mode, with_token)
        except domain.ProviderCallError as failure:
            if failure.kind in ("unavailable", "rate_limited"):
                log.warning(
                    "identity unavailable; connecting without an account name",
                    extra={"provider": provider.id, "kind": failure.kind},
                )
                return AccountFacts()
            raise domain.explain(
                failure,
                provider,
                refused_code="identity_refused",
                refused_message=(
                    f"{provider.name} issued a token that cannot read the account"
                    f"{domain.status_suffix(failure)}. Check the permissions you granted and "
                    f"connect again from {WHERE}."
                ),
            ) from None

    async def _failed(
        self, provider: Provider, flow: PendingFlow, error: GatewayError
    ) -> CallbackOutcome:
        log.info(
            "oauth callback failed",
            extra={
                "provider": provider.id,
                "organization_id": str(flow.organization_id),
                "flow_id": str(flow.flow_id),
                "reason": error.code,
            },
        )
        try:
            await self.tools.publish_failed(flow.organization_id, provider.id, flow.flow_id, error)
        except Exception as exc:  # the person still gets an answer; the log keeps the rest
            log.error(
                "could not publish connection.failed",
                extra={"provider": provider.id, "error": type(exc).__name__},
            )
        return CallbackOutcome(
            location=self._location(flow, provider, {"status": "error", "reason": error.code}),
            organization_id=flow.organization_id,
            provider=provider.id,
            flow_id=flow.flow_id,
            reason=error.code,
        )

    def _location(self, flow: PendingFlow, provider: Provider, result: dict[str, str]) -> str:
        target = flow.return_to or self.returns.default
        integration = str(derive_connection_id(flow.organization_id, provider.id))
        return self.returns.with_result(
            target, {"integration": integration, "provider": provider.id, **result}
        )


def _single_valued(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The callback's parameters; a repeated one makes the answer ambiguous: refused."""
    params: dict[str, str] = {}
    for key, value in query:
        if key in params:
            raise StateRefusedError(
                f"The answer from the provider repeats {key[:32]!r}; start connecting again "
                f"from {WHERE}.",
                code="invalid_callback",
            )
        params[key] = value
    return params
