"""OAuth authorization-code flows: ``start`` and ``callback`` (SECURITY.md 1-9).

``start`` records a pending flow with its ``connection.requested`` (one transaction, the outbox),
signs a state that names it and binds it to the browser. ``callback`` first ties the request to a
flow this browser started (a refusal is a ``StateRefusedError``, 4xx, and nothing is called) and
claims it; its result (``connection.established`` or ``.failed``) is recorded in the transaction
that consumes the flow, and then the person gets a 303 to the flow's return URL. A refusal of a
genuine state (expired, another browser) ends its flow with ``connection.failed`` too, and
``expire_due`` (the gateway's sweep) ends abandoned flows: every attempt ends in an event.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub_catalog import (
    WHERE,
    AuthMode,
    AuthType,
    Catalog,
    Pkce,
    PlatformCredentials,
    Provider,
)
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionRequestedV1,
    Credentials,
    EncryptedCredential,
    Event,
)
from hub_contracts import connection_id as derive_connection_id
from hub_keyring import Binding, KeyRing
from hub_providers.errors import ProviderError
from hub_runtime.api_errors import NotFoundError
from pydantic import SecretStr

from oauth_gateway import domain
from oauth_gateway.errors import BrowserMismatchError, GatewayError, StateRefusedError
from oauth_gateway.metrics import GatewayMetrics
from oauth_gateway.service.ports import (
    AccountFacts,
    Events,
    IssuedTokens,
    PendingFlow,
    PendingFlows,
    Providers,
)

log = logging.getLogger(__name__)

VERIFIER_FIELD = "code_verifier"


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


@dataclass(frozen=True, kw_only=True)
class OAuthFlows:
    catalog: Catalog
    platform: PlatformCredentials
    ring: KeyRing
    providers: Providers
    events: Events
    flows: PendingFlows
    codec: domain.StateCodec
    returns: domain.ReturnUrls
    redirect_base: str
    """``OAUTH_GATEWAY_PUBLIC_BASE_URL``, no trailing slash."""
    flow_ttl: timedelta
    now: Callable[[], datetime]
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    expiry_batch: int = 200
    """Flows ended per sweep transaction (the sweep runs again at once while it fills one)."""
    claim_grace_s: float = 60.0
    """A flow claimed by a callback before it expired is left to that callback this long."""

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
        provider = self.catalog.tenant_provider(slug)
        mode = domain.oauth_mode(provider)
        assert mode.oauth is not None
        checked_return = self.returns.check(return_to) if return_to is not None else None
        tenant = domain.tenant_labels(provider, tenant_params)
        values = domain.platform_values(self.platform, provider) | tenant
        now = self.now()
        verifier = domain.new_code_verifier() if mode.oauth.pkce != Pkce.OFF else None
        claims = domain.StateClaims(
            flow=uuid.uuid4(),
            org=organization_id,
            provider=provider.id,
            nonce=domain.new_nonce(),
            exp=int((now + self.flow_ttl).timestamp()),
            browser=self.codec.browser_binding(browser_id),
        )
        state = self.codec.sign(claims)
        auth_url = self.providers.authorization_url(
            provider,
            values,
            redirect_uri=self.redirect_uri(provider),
            state=state,
            code_verifier=verifier,
        )
        await self.flows.create(
            PendingFlow(
                flow_id=claims.flow,
                organization_id=organization_id,
                provider=provider.id,
                auth_type=mode.type.value,
                nonce=claims.nonce,
                browser_binding=claims.browser,
                code_verifier=self._seal_verifier(organization_id, provider, verifier),
                return_to=checked_return,
                tenant_params=tenant,
                requested_by=requested_by,
                created_at=now,
                expires_at=claims.expires_at,
            ),
            ConnectionRequestedV1(
                occurred_at=now,
                organization_id=organization_id,
                provider=provider.id,
                flow_id=claims.flow,
                auth_type=mode.type.value,
                requested_by=requested_by[:200] if requested_by else None,
                tenant_params=tenant,
            ),
        )
        return Started(claims.flow, auth_url, state, claims.expires_at)

    async def callback(
        self, provider_id: str, query: Sequence[tuple[str, str]], browser_id: str | None
    ) -> CallbackOutcome:
        provider = self._callback_provider(provider_id)
        params = domain.single_valued(query)
        try:
            flow = await self._claim(provider, params.get("state"), browser_id)
        except GatewayError as error:
            self.metrics.callback(provider.id, "refused", error.code)
            raise
        try:
            established = await self._finish(provider, domain.oauth_mode(provider), flow, params)
            if not await self.flows.finish(flow, established):
                raise _ended_meanwhile()
        except GatewayError as error:
            self.metrics.callback(provider.id, "failed", error.code)
            return await self._failed(provider, flow, error)
        self.metrics.callback(provider.id, "connected")
        return self._outcome(provider, flow, None)

    async def refused_location(
        self, query: Sequence[tuple[str, str]], error: GatewayError
    ) -> str | None:
        """Where a refused callback (expired, used, another browser's...) sends the person: the
        flow's return URL, still allow-listed, else the default, with ``status=error`` and the
        refusal's code. ``None`` when the request names no state we signed: nothing ties it to
        a flow, or when it is malformed (a repeated parameter): it is answered 4xx."""
        states = [value for key, value in query if key == "state"]
        if len(states) != 1 or error.code == "invalid_callback":
            return None
        try:
            claims = self.codec.verify(states[0])
        except GatewayError:
            return None
        target = self.returns.default
        stored = await self.flows.return_to(claims.flow, claims.org, claims.provider)
        if stored is not None:
            with contextlib.suppress(GatewayError):  # the allow-list changed since the start
                target = self.returns.check(stored)
        integration = str(derive_connection_id(claims.org, claims.provider))
        return self.returns.with_result(
            target,
            {
                "integration": integration,
                "provider": claims.provider,
                "status": "error",
                "reason": error.code,
            },
        )

    async def expire_due(self) -> bool:
        """End abandoned flows with ``connection.failed`` (``flow_expired``); whether a full batch
        was ended (more may be waiting)."""
        ended = await self.flows.expire(
            self._expired, limit=self.expiry_batch, claim_grace_s=self.claim_grace_s
        )
        if ended:
            log.info("expired flows ended", extra={"count": ended})
        return ended >= self.expiry_batch

    def _expired(self, flow: PendingFlow) -> Event:
        self.metrics.flows_expired.labels(flow.provider).inc()
        # A provider gone from the catalog since the flow started still ends its flow.
        name = next(
            (p.name for p in self.catalog.providers if p.id == flow.provider), flow.provider
        )
        return domain.failed(
            flow.organization_id,
            flow.provider,
            flow.flow_id,
            _flow_expired(name, self.flow_ttl),
            requested_at=flow.created_at,
            event_id=uuid.uuid5(flow.flow_id, "connection.failed"),
        )

    async def _end_refused(
        self, claims: domain.StateClaims, provider: Provider, error: GatewayError
    ) -> None:
        """A genuine state refused (expired, another browser): its flow ends here, with the
        refusal as ``connection.failed``, so the hub stops showing "connecting" at once."""
        event = domain.failed(
            claims.org,
            provider.id,
            claims.flow,
            error,
            requested_at=claims.expires_at - self.flow_ttl,
            event_id=uuid.uuid5(claims.flow, "connection.failed"),
        )
        try:
            await self.flows.end(claims.flow, provider.id, claims.org, event)
        except GatewayError as failure:  # the person still gets the refusal; the sweep ends it
            log.error(
                "could not record the refused callback",
                extra={"provider": provider.id, "error": failure.code},
            )

    def _callback_provider(self, provider_id: str) -> Provider:
        provider = self.catalog.tenant_provider(provider_id)
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
        if self.now() >= claims.expires_at:
            expired = _flow_expired(provider.name, self.flow_ttl)
            await self._end_refused(claims, provider, expired)
            raise expired
        if not self.codec.same_browser(claims.browser, browser_id):
            mismatch = BrowserMismatchError()
            await self._end_refused(claims, provider, mismatch)
            raise mismatch
        flow = await self.flows.claim(claims.flow, provider.id)
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
    ) -> ConnectionEstablishedV1:
        """From a claimed flow's callback to ``connection.established``; or a ``GatewayError``."""
        assert mode.oauth is not None
        domain.refuse_provider_error(provider, params)
        platform = domain.platform_values(self.platform, provider)
        domain.check_origin(provider, mode.oauth, flow.tenant_params, params, platform)
        code = domain.authorization_code(provider, mode.oauth, params)
        values = platform | flow.tenant_params
        tokens = await self._exchange(provider, flow, values, code)
        facts = await self._identify(provider, mode, values, tokens.access_token)
        return self._established(provider, mode, flow, tokens, facts)

    async def _exchange(
        self, provider: Provider, flow: PendingFlow, values: dict[str, str], code: str
    ) -> IssuedTokens:
        """The code (and the flow's PKCE verifier) for tokens at the token endpoint."""
        verifier = (
            self.ring.decrypt(flow.code_verifier, self._binding(flow, provider, VERIFIER_FIELD))
            if flow.code_verifier is not None
            else None
        )
        try:
            return await self.providers.exchange_code(
                provider,
                values,
                redirect_uri=self.redirect_uri(provider),
                code=code,
                code_verifier=verifier.get_secret_value() if verifier is not None else None,
            )
        except ProviderError as failure:
            raise domain.explain(
                failure,
                provider,
                refused_code="code_rejected",
                refused_message=(
                    f"{provider.name} refused to finish the sign-in{domain.status_suffix(failure)}."
                    f" Start connecting again from {WHERE}."
                ),
            ) from None

    async def _identify(
        self, provider: Provider, mode: AuthMode, values: dict[str, str], token: SecretStr
    ) -> AccountFacts:
        """Who connected ("Connected to X"). A refusal fails the connect (the token does not
        work); an outage does not (the health monitor will look again)."""
        spec = provider.checks.identity or provider.checks.health
        if spec is None:
            return AccountFacts()
        with_token = values | {"access_token": token.get_secret_value()}
        try:
            return await self.providers.request(provider, mode, spec, with_token)
        except ProviderError as failure:
            error = domain.explain(
                failure,
                provider,
                refused_code="identity_refused",
                refused_message=(
                    f"{provider.name} issued a token that cannot read the account"
                    f"{domain.status_suffix(failure)}. Check the permissions you granted and "
                    f"connect again from {WHERE}."
                ),
            )
        if not error.retryable:
            raise error
        log.warning(
            "identity unavailable; connecting without an account name",
            extra={"provider": provider.id, "kind": error.code},
        )
        return AccountFacts()

    def _established(
        self,
        provider: Provider,
        mode: AuthMode,
        flow: PendingFlow,
        tokens: IssuedTokens,
        facts: AccountFacts,
    ) -> ConnectionEstablishedV1:
        assert mode.oauth is not None
        refresh = tokens.refresh_token
        return ConnectionEstablishedV1(
            occurred_at=self.now(),
            organization_id=flow.organization_id,
            provider=provider.id,
            connection_id=derive_connection_id(flow.organization_id, provider.id),
            flow_id=flow.flow_id,
            auth_type=mode.type.value,
            credentials=Credentials(
                access_token=self.ring.encrypt(
                    tokens.access_token, self._binding(flow, provider, "access_token")
                ),
                refresh_token=(
                    self.ring.encrypt(refresh, self._binding(flow, provider, "refresh_token"))
                    if refresh is not None
                    else None
                ),
            ),
            token_expires_at=tokens.expires_at,
            scopes=tokens.scopes or list(mode.oauth.scopes),
            account=domain.account(facts.id, facts.name),
            metadata=domain.metadata(flow.tenant_params, {**tokens.extra, **facts.metadata}),
        )

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
            await self.flows.finish(
                flow,
                domain.failed(
                    flow.organization_id,
                    provider.id,
                    flow.flow_id,
                    error,
                    requested_at=flow.created_at,
                ),
            )
        except Exception as exc:  # the person still gets an answer; the expiry sweep ends it
            log.error(
                "could not record connection.failed",
                extra={"provider": provider.id, "error": type(exc).__name__},
            )
        return self._outcome(provider, flow, error.code)

    def _outcome(
        self, provider: Provider, flow: PendingFlow, reason: str | None
    ) -> CallbackOutcome:
        result = (
            {"status": "connected"} if reason is None else {"status": "error", "reason": reason}
        )
        target = flow.return_to or self.returns.default
        integration = str(derive_connection_id(flow.organization_id, provider.id))
        location = self.returns.with_result(
            target, {"integration": integration, "provider": provider.id, **result}
        )
        return CallbackOutcome(
            location=location,
            organization_id=flow.organization_id,
            provider=provider.id,
            flow_id=flow.flow_id,
            reason=reason,
        )

    def _seal_verifier(
        self, organization_id: uuid.UUID, provider: Provider, verifier: str | None
    ) -> EncryptedCredential | None:
        if verifier is None:
            return None
        binding = Binding(organization_id, provider.id, VERIFIER_FIELD)
        return self.ring.encrypt(SecretStr(verifier), binding)

    @staticmethod
    def _binding(flow: PendingFlow, provider: Provider, field: str) -> Binding:
        return Binding(flow.organization_id, provider.id, field)


def _flow_expired(name: str, ttl: timedelta) -> StateRefusedError:
    return StateRefusedError(
        f"The sign-in to {name} expired before it was finished (it is valid for "
        f"{int(ttl.total_seconds()) // 60} minutes). Start connecting again from {WHERE}.",
        code="flow_expired",
    )


def _ended_meanwhile() -> GatewayError:
    """The flow expired and was ended by the sweep while the provider was answering."""
    return StateRefusedError(
        f"This sign-in took too long and expired. Start connecting again from {WHERE}.",
        code="flow_expired",
    )
