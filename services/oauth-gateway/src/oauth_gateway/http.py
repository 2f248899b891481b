"""The HTTP API: routes, the browser cookie, response headers, and every error as JSON.

Thin on purpose: decode, authenticate, call the service, map its errors once. The organization
comes from the bearer token (the path's must equal it) or, at the callback, from the pending
flow; never from a query or a body.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from hub_runtime.bearer_http import BEARER_SCHEME, MISSING_TOKEN
from hub_runtime.body_limit import BodyLimit
from starlette.exceptions import HTTPException as StarletteHTTPException

from oauth_gateway import domain, errors
from oauth_gateway.auth import Principal, TokenVerifier
from oauth_gateway.middleware import SecurityHeaders, render, too_large
from oauth_gateway.service import KeyConnections, OAuthFlows
from oauth_gateway.views import (
    ConnectionSummary,
    CredentialsRequest,
    ErrorBody,
    Health,
    StartRequest,
    StartResponse,
)

if TYPE_CHECKING:
    from oauth_gateway.app import Components

log = logging.getLogger(__name__)

COOKIE_PATH = "/v1/"


def _components(request: Request) -> Components:
    parts: Components = request.app.state.components
    return parts


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
) -> Principal:
    if credentials is None:
        raise errors.UnauthenticatedError(MISSING_TOKEN, code="missing_token")
    settings = _components(request).settings
    verifier = TokenVerifier(settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer)
    return verifier.verify(credentials.credentials)


def _oauth(request: Request) -> OAuthFlows:
    flows = _components(request).oauth
    if flows is None:
        raise errors.UnavailableError("The gateway is starting; try again in a moment.")
    return flows


def _keys(request: Request) -> KeyConnections:
    return _components(request).keys


Authenticated = Annotated[Principal, Depends(authenticated)]
Flows = Annotated[OAuthFlows, Depends(_oauth)]
Keys = Annotated[KeyConnections, Depends(_keys)]
OrgId = Annotated[
    str,
    Path(description="The organization of the bearer token.", json_schema_extra={"format": "uuid"}),
]
ProviderId = Annotated[str, Path(max_length=64, description="A catalog provider id.")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "No valid bearer token",
        403: "The token lacks integrations:write",
        404: "Not this token's organization, or an unknown or platform-level provider",
        409: "The provider does not connect this way",
        422: "The body does not fit, or the provider refused",
        503: "The provider or the gateway is unavailable; retry",
    }.items()
}
router = APIRouter(responses=_ERRORS)
ORG = "/v1/orgs/{org_id}/integrations/{provider}"


@router.post(f"{ORG}/oauth/start", tags=["oauth"], status_code=201)
async def start_oauth(
    org_id: OrgId,
    provider: ProviderId,
    request: Request,
    response: Response,
    principal: Authenticated,
    flows: Flows,
    body: StartRequest | None = None,
) -> StartResponse:
    """Start connecting an OAuth provider. Call it from the browser that will sign in (it sets
    an HttpOnly cookie binding the flow to that browser), then navigate to ``auth_url``."""
    organization = principal.tenant(org_id)
    settings = _components(request).settings
    given = body or StartRequest()
    browser_id = request.cookies.get(settings.cookie_name)
    if browser_id is None or not domain.BROWSER_ID.fullmatch(browser_id):
        browser_id = domain.new_browser_id()
    started = await flows.start(
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
        400: {"model": ErrorBody, "description": "Not a state we issued, expired or used"},
        403: {"model": ErrorBody, "description": "Started in another browser"},
    },
)
async def oauth_callback(provider: ProviderId, request: Request, flows: Flows) -> Response:
    """Where the provider sends the browser back. Answers 303 to the return URL, or 4xx when
    the request cannot be tied to a flow this browser started (nothing is called then)."""
    settings = _components(request).settings
    outcome = await flows.callback(
        provider,
        request.query_params.multi_items(),
        request.cookies.get(settings.cookie_name),
    )
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
    keys: Keys,
) -> ConnectionSummary:
    """Connect an API-key provider: the values are checked against the catalog, then proven at
    the provider; nothing is kept when the provider refuses them (422)."""
    organization = principal.tenant(org_id)
    connected = await keys.connect(organization, provider, body.fields, auth_type=body.auth_type)
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


@router.get("/healthz", tags=["operations"])
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    tags=["operations"],
    responses={503: {"model": ErrorBody, "description": "Not ready"}},
)
async def readyz(request: Request) -> Health:
    """Readiness: started, and PostgreSQL answers within two seconds."""
    parts = _components(request)
    if parts.oauth is None:
        raise errors.UnavailableError("The gateway is starting.", code="not_ready")
    if parts.database is not None:
        try:
            async with asyncio.timeout(2):
                await parts.database.ping()
        except Exception:
            raise errors.UnavailableError(
                "PostgreSQL is not reachable.", code="not_ready"
            ) from None
    return Health(status="ready")


def install_api(app: FastAPI, *, max_body_bytes: int) -> None:
    """Routes, error rendering, the body-size limit and the security headers."""
    app.include_router(router)
    app.add_exception_handler(errors.GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, refusal=too_large)
    app.add_middleware(SecurityHeaders)


async def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.GatewayError)
    if exc.status_code >= 500:
        log.warning("request failed", extra={"code": exc.code, "path": request.url.path})
    return render(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return render(errors.BadRequestError("The body is not valid JSON; send a JSON object."))
    first = problems[0] if problems else {}
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(where)[:100] or None
    message = str(first.get("msg", "The request does not fit the API's schema"))
    prefix = f"{field}: " if field else ""
    return render(
        errors.InvalidRequestError(
            f"{prefix}{message}. The schema is at /openapi.json.", field=field
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    error: errors.GatewayError
    if exc.status_code == 404:
        error = errors.NotFoundError(
            f"There is no route {request.url.path[:200]}; the API is at /openapi.json."
        )
    elif exc.status_code == 405:
        error = errors.GatewayError(
            f"{request.method} is not allowed on {request.url.path[:200]}.",
            code="method_not_allowed",
        )
    else:
        error = errors.GatewayError(str(exc.detail), code=f"http_{exc.status_code}")
    return JSONResponse(error.body(), status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return render(
        errors.GatewayError("Something went wrong on our side; try again, then contact support.")
    )
