"""The HTTP API: routes, the bearer principal, the browser cookie, and the middleware every
answer passes (server span, CORS, security headers, body cap).

Thin on purpose: decode, authenticate, call the service; errors render once through
``hub_runtime.http_api``. The organization comes from the bearer token (the path's must equal it)
or, at the callback, from the pending flow; never from a query or a body.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from hub_catalog import PlatformProviderError, UnknownProviderError
from hub_contracts import SEALING_SCHEME
from hub_runtime.api_errors import (
    BodyTooLargeError,
    InsufficientScopeError,
    NotFoundError,
    UnauthenticatedError,
)
from hub_runtime.bearer import BearerClaims, TokenVerifier
from hub_runtime.bearer_http import BEARER_SCHEME, MISSING_TOKEN
from hub_runtime.body_limit import BodyLimit
from hub_runtime.default_headers import DefaultHeaders
from hub_runtime.http_api import (
    ErrorBody,
    Health,
    app_state,
    error_responses,
    install_error_handlers,
    metrics_router,
    probes,
    render,
    require_ready,
)
from hub_runtime.server_spans import ServerSpans
from opentelemetry.sdk.trace import TracerProvider
from starlette.middleware.cors import CORSMiddleware

from oauth_gateway import domain
from oauth_gateway.errors import REALM, StateRefusedError
from oauth_gateway.metrics import GatewayMetrics
from oauth_gateway.service import KeyConnections, OAuthFlows, Resources
from oauth_gateway.settings import GatewaySettings
from oauth_gateway.views import (
    ConnectionSummary,
    CredentialsRequest,
    ResourceItem,
    ResourceList,
    StartRequest,
    StartResponse,
    SubmissionKey,
    SubmissionKeyList,
)

log = logging.getLogger(__name__)

WRITE = "integrations:write"
"""Connecting changes an organization's integrations."""
READ = "integrations:read"
"""Listing what a brand can pick reads its integrations."""
COOKIE_PATH = "/v1/"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
"""On every answer: starts and callbacks carry states and codes (SECURITY.md 8)."""


@dataclass(frozen=True)
class Principal(BearerClaims):
    def tenant(self, organization: str, scope: str = WRITE) -> uuid.UUID:
        """The organization to act for: the path's, which must be the token's."""
        if not self.owns(organization):
            raise NotFoundError(
                "Nothing here: the organization in the path is not the one your token is for."
            )
        if scope not in self.scopes:
            raise InsufficientScopeError(scope, realm=REALM)
        return self.organization_id


@dataclass
class Api:
    """What the routes call, built once by ``app.create_app``."""

    settings: GatewaySettings
    verifier: TokenVerifier[Principal]
    oauth: OAuthFlows
    keys: KeyConnections
    resources: Resources
    ping: Callable[[], Awaitable[object]] | None = None
    """Readiness: set by the app's start once the flow store answers, cleared at its stop."""


_api = app_state("api", Api)


def _principal(
    api: Annotated[Api, Depends(_api)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
) -> Principal:
    if credentials is None:
        raise UnauthenticatedError(MISSING_TOKEN, realm=REALM, code="missing_token")
    return api.verifier.verify(credentials.credentials)


Gateway = Annotated[Api, Depends(_api)]
Authenticated = Annotated[Principal, Depends(_principal)]
OrgId = Annotated[
    str,
    Path(description="The organization of the bearer token.", json_schema_extra={"format": "uuid"}),
]
ProviderId = Annotated[str, Path(max_length=64, description="A catalog provider id.")]

_ERRORS = error_responses(
    {
        401: "No valid bearer token",
        403: "The token lacks integrations:write",
        404: "Not this token's organization, or an unknown or platform-level provider",
        409: "The provider does not connect this way",
        422: "The body does not fit, or the provider refused",
        503: "The provider or the gateway is unavailable; retry",
    }
)
router = APIRouter(responses=_ERRORS)
ORG = "/v1/orgs/{org_id}/integrations/{provider}"


@router.post(f"{ORG}/oauth/start", tags=["oauth"], status_code=201)
async def start_oauth(
    org_id: OrgId,
    provider: ProviderId,
    request: Request,
    response: Response,
    principal: Authenticated,
    api: Gateway,
    body: StartRequest | None = None,
) -> StartResponse:
    """Start connecting an OAuth provider. Call it from the browser that will sign in (it sets
    an HttpOnly cookie binding the flow to that browser), then navigate to ``auth_url``."""
    organization = principal.tenant(org_id)
    settings = api.settings
    given = body or StartRequest()
    browser_id = request.cookies.get(settings.cookie_name)
    if browser_id is None or not domain.BROWSER_ID.fullmatch(browser_id):
        browser_id = domain.new_browser_id()
    started = await api.oauth.start(
        organization,
        provider,
        browser_id=browser_id,
        requested_by=principal.subject,
        return_to=given.return_to,
        tenant_params={"shop": given.shop} if given.shop is not None else {},
    )
    response.set_cookie(
        settings.cookie_name,
        browser_id,
        max_age=settings.flow_ttl_s,
        path=COOKIE_PATH,
        secure=settings.redirect_base.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    log.info(
        "oauth flow started",
        extra={"provider": provider, "organization_id": str(organization)},
    )
    return StartResponse(
        auth_url=started.auth_url, state=started.state, expires_at=started.expires_at
    )


@router.get(
    "/v1/oauth/{provider}/callback",
    tags=["oauth"],
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "To the flow's return URL with integration, status and reason"},
        400: {"model": ErrorBody, "description": "No state we issued: no flow to return to"},
    },
)
async def oauth_callback(provider: ProviderId, request: Request, api: Gateway) -> Response:
    """Where the provider sends the browser back. Answers 303 to the flow's return URL with
    ``status=connected``, or ``status=error&reason=...`` (also when the callback is refused:
    expired, used, another browser's; nothing is called then). 4xx only when the request names
    no state we signed, so no flow to return to."""
    query = request.query_params.multi_items()
    try:
        outcome = await api.oauth.callback(
            provider, query, request.cookies.get(api.settings.cookie_name)
        )
    except StateRefusedError as refused:
        location = await api.oauth.refused_location(query, refused)
        if location is None:
            raise
        log.info("oauth callback refused", extra={"provider": provider, "reason": refused.code})
        return RedirectResponse(location, status_code=303)
    log.info(
        "oauth callback",
        extra={
            "provider": outcome.provider,
            "organization_id": str(outcome.organization_id),
            "flow_id": str(outcome.flow_id),
            "status": "connected" if outcome.reason is None else "error",
            "reason": outcome.reason,
        },
    )
    return RedirectResponse(outcome.location, status_code=303)


@router.post(
    f"{ORG}/credentials",
    tags=["credentials"],
    status_code=201,
    responses={429: {"model": ErrorBody, "description": "The provider is rate limiting"}},
)
async def connect_with_credentials(
    org_id: OrgId,
    provider: ProviderId,
    body: CredentialsRequest,
    principal: Authenticated,
    api: Gateway,
) -> ConnectionSummary:
    """Connect an API-key provider: the values are checked against the catalog, then proven at
    the provider; nothing is kept when the provider refuses them (422)."""
    organization = principal.tenant(org_id)
    connected = await api.keys.connect(
        organization, provider, body.fields, auth_type=body.auth_type
    )
    return ConnectionSummary(
        id=connected.connection_id,
        provider=connected.provider.id,
        name=connected.provider.name,
        status="active",
        auth_type=connected.auth_type,
        account_id=connected.account.id,
        account_name=connected.account.name,
        token_expires_at=connected.token_expires_at,
        credentials_present=connected.fields,
        connected_at=connected.connected_at,
    )


@router.get(
    f"{ORG}/resources/{{kind}}",
    tags=["resources"],
    responses={429: {"model": ErrorBody, "description": "The provider is rate limiting"}},
)
async def list_resources(
    org_id: OrgId,
    provider: ProviderId,
    kind: Annotated[str, Path(max_length=64, description="A resource kind of the provider.")],
    request: Request,
    principal: Authenticated,
    api: Gateway,
) -> ResourceList:
    """What the brand can pick for a setting whose schema says ``"x-resource": kind`` (Meta ad
    accounts and pixels, Google Ads customers, TikTok advertisers, Klaviyo lists and segments,
    Slack channels), listed at the provider with the stored credential; cached briefly. A
    listing that depends on another setting takes it as a query parameter (Meta pixels:
    ``?ad_account_id=act_...``)."""
    organization = principal.tenant(org_id, READ)
    params = {name: value for name, value in request.query_params.items() if len(value) <= 256}
    listed = await api.resources.list(organization, provider, kind, params)
    return ResourceList(
        kind=listed.kind,
        items=[ResourceItem(id=ident, name=name) for ident, name in listed.items],
        fetched_at=listed.fetched_at,
    )


@router.get("/v1/submission-keys", tags=["submissions"])
async def submission_keys(api: Gateway) -> SubmissionKeyList:
    """The public keys onboarding seals typed credentials to before it publishes them on
    ``connection.requested`` (v2; docs/producers.md). Public: no token needed. Empty when the
    gateway holds no submission key (development without ``OAUTH_GATEWAY_SUBMISSION_KEYS``)."""
    held = api.keys.submission_keys
    public = held.public_keys() if held is not None else []
    return SubmissionKeyList(
        keys=[
            SubmissionKey(key_id=key.key_id, scheme=SEALING_SCHEME, public_key=key.encoded)
            for key in public
        ]
    )


async def readyz(api: Gateway) -> Health:
    """Readiness: started, and the flow store (PostgreSQL) answers within two seconds."""
    return await require_ready(api.ping, starting="The gateway is starting.")


router.include_router(probes(readyz, not_ready="Not ready"))


def install(
    app: FastAPI, api: Api, metrics: GatewayMetrics, *, tracer_provider: TracerProvider
) -> None:
    """The routes over ``api``, every error as JSON, and the middleware, outermost first: the
    server span, CORS for the return origins, the security headers, the body cap."""
    app.state.api = api
    app.include_router(router)
    app.include_router(metrics_router(metrics))
    install_error_handlers(app, not_found=(UnknownProviderError, PlatformProviderError))
    app.add_middleware(
        BodyLimit,
        max_body_bytes=api.settings.max_body_bytes,
        refusal=lambda limit: render(BodyTooLargeError(limit)),
    )
    app.add_middleware(DefaultHeaders, headers=SECURITY_HEADERS)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=api.settings.return_origins,
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(ServerSpans, tracer_provider=tracer_provider)
