"""The REST API: routes, authentication, and every error rendered as ``{"error": {...}}``.

Thin on purpose: each route checks who is calling, hands the token's organization (never one
from the body, query or a header) to ``service.Integrations``, and returns its view. The path's
``org_id`` only has to equal the token's ``org``; anything else is a 404, so another tenant's
objects are indistinguishable from absent ones. ``install_api`` wires it into the app.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from hub_runtime.bearer_http import BEARER_SCHEME, MISSING_TOKEN
from hub_runtime.body_limit import BodyLimit
from starlette.exceptions import HTTPException as StarletteHTTPException

from connection_store import errors
from connection_store.adapters.integrations import PostgresTenantStore
from connection_store.auth import READ, WRITE, Principal, TokenVerifier
from connection_store.service import Integrations
from connection_store.views import (
    ErrorBody,
    FlagsUpdate,
    FlagsView,
    Health,
    IntegrationDetail,
    IntegrationList,
    ProviderList,
    SettingsView,
    SyncAccepted,
    provider_view,
)

if TYPE_CHECKING:
    from connection_store.app import Components

log = logging.getLogger(__name__)


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


Authenticated = Annotated[Principal, Depends(authenticated)]
OrgId = Annotated[
    str,
    Path(description="The organization of the bearer token.", json_schema_extra={"format": "uuid"}),
]
ProviderId = Annotated[str, Path(description="A catalog provider id (meta_ads or meta-ads).")]


def _scoped(scope: str) -> Any:
    async def dependency(principal: Authenticated) -> Principal:
        principal.require(scope)
        return principal

    return Depends(dependency)


def _tenant(scope: str) -> Any:
    async def dependency(org_id: OrgId, principal: Authenticated) -> Principal:
        if not principal.owns(org_id):
            raise errors.NotFoundError(
                "Nothing here: the organization in the path is not the one your token is for."
            )
        principal.require(scope)
        return principal

    return Depends(dependency)


async def integrations(request: Request) -> Integrations:
    parts = _components(request)
    if parts.db is None:
        raise errors.UnavailableError("The store is starting; try again in a moment.")
    return Integrations(
        store=PostgresTenantStore(parts.db),
        catalog=parts.catalog,
        check_interval_s=parts.settings.check_interval_s,
        check_jitter=parts.settings.check_jitter,
        refresh_retry_s=parts.settings.refresh_retry_s,
    )


Service = Annotated[Integrations, Depends(integrations)]
Reader = Annotated[Principal, _tenant(READ)]
Writer = Annotated[Principal, _tenant(WRITE)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "No valid bearer token",
        403: "The token lacks the scope",
        404: "Not this token's organization, or an unknown or platform-level provider",
        422: "The body does not fit",
    }.items()
}
router = APIRouter(responses=_ERRORS)
ORG = "/v1/orgs/{org_id}"


@router.get("/v1/providers", tags=["catalog"], dependencies=[_scoped(READ)])
async def list_providers(request: Request) -> ProviderList:
    """Every provider of the catalog: how it connects, where it is configured, its settings."""
    catalog = _components(request).catalog
    return ProviderList(providers=[provider_view(p) for p in catalog.providers])


@router.get(f"{ORG}/integrations", tags=["integrations"])
async def list_integrations(principal: Reader, service: Service) -> IntegrationList:
    """Every tenant-level provider, connected or not, grouped as the admin hub groups them."""
    return await service.overview(principal.organization_id)


@router.get(f"{ORG}/integrations/{{provider}}", tags=["integrations"])
async def get_integration(
    provider: ProviderId, principal: Reader, service: Service
) -> IntegrationDetail:
    """One integration's state; credentials appear only as the names of the fields held."""
    return await service.detail(principal.organization_id, provider)


@router.patch(f"{ORG}/integrations/{{provider}}/settings", tags=["integrations"])
async def update_settings(
    provider: ProviderId,
    principal: Writer,
    service: Service,
    patch: Annotated[dict[str, Any], Body(description="JSON merge patch; null removes a setting.")],
) -> SettingsView:
    """Change provider settings (also before connecting); the result is validated as a whole."""
    return await service.update_settings(principal.organization_id, provider, patch)


@router.post(
    f"{ORG}/integrations/{{provider}}/sync",
    tags=["integrations"],
    status_code=202,
    responses={409: {"model": ErrorBody, "description": "Not connected"}},
)
async def sync_now(provider: ProviderId, principal: Writer, service: Service) -> SyncAccepted:
    """Queue a health check now, and a refresh when one is due soon."""
    return await service.sync_now(principal.organization_id, provider)


@router.delete(
    f"{ORG}/integrations/{{provider}}",
    tags=["integrations"],
    status_code=204,
    response_class=Response,
)
async def disconnect(provider: ProviderId, principal: Writer, service: Service) -> Response:
    """Wipe the credentials and stop all work; a second DELETE answers 404 ``not_connected``."""
    await service.disconnect(principal.organization_id, provider, by=principal.subject)
    return Response(status_code=204)


@router.get(f"{ORG}/flags", tags=["flags"])
async def get_flags(principal: Reader, service: Service) -> FlagsView:
    """The integration feature flags: catalog defaults with this organization's changes."""
    return await service.flags(principal.organization_id)


@router.put(
    f"{ORG}/flags",
    tags=["flags"],
    responses={409: {"model": ErrorBody, "description": "The flag needs an active connection"}},
)
async def put_flags(principal: Writer, service: Service, update: FlagsUpdate) -> FlagsView:
    """Turn flags on or off; flags not named keep their value."""
    return await service.set_flags(principal.organization_id, update.flags, by=principal.subject)


@router.get("/healthz", tags=["operations"])
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    tags=["operations"],
    responses={503: {"model": ErrorBody, "description": "PostgreSQL is not reachable"}},
)
async def readyz(request: Request) -> Health:
    """Readiness: PostgreSQL answers within two seconds."""
    db = _components(request).db
    if db is None:
        raise errors.UnavailableError("The store is starting.", code="not_ready")
    try:
        async with asyncio.timeout(2), db.pool.acquire() as connection:
            await connection.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        raise errors.UnavailableError("PostgreSQL is not reachable.", code="not_ready") from None
    return Health(status="ready")


def install_api(app: FastAPI, *, max_body_bytes: int) -> None:
    """Add the routes, the error rendering and the body-size limit to ``app``."""
    from connection_store import notifications  # its routes use this module's dependencies

    app.include_router(router)
    app.include_router(notifications.router)
    app.include_router(notifications.internal)
    app.add_exception_handler(errors.ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (OSError, asyncpg.PostgresConnectionError, asyncpg.TooManyConnectionsError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, refusal=_too_large)


def _too_large(limit: int) -> Response:
    error = errors.BodyTooLargeError(limit)
    body = json.dumps(error.body()).encode()
    return Response(
        body, status_code=error.status_code, headers={"content-type": "application/json"}
    )


def _render(error: errors.ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ApiError)
    return _render(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return _render(errors.BadRequestError("The body is not valid JSON; send a JSON object."))
    first = problems[0] if problems else {}
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(where) or None
    message = str(first.get("msg", "The request does not fit the API's schema"))
    if first.get("type") == "missing" and not where:
        message = "A JSON body is required"
    prefix = f"{field}: " if field else ""
    return _render(
        errors.InvalidRequestError(
            f"{prefix}{message}. The schema is at /openapi.json.", field=field
        )
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    error: errors.ApiError
    if exc.status_code == 404:
        error = errors.NotFoundError(
            f"There is no route {request.url.path}; the API is described at /openapi.json."
        )
    elif exc.status_code == 400:
        error = errors.BadRequestError("The body could not be read; send a UTF-8 JSON object.")
    elif exc.status_code == 405:
        allowed = headers.get("Allow") or headers.get("allow") or "see /openapi.json"
        error = errors.MethodNotAllowedError(
            f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}."
        )
    else:
        error = errors.ApiError(str(exc.detail), code=f"http_{exc.status_code}")
    return JSONResponse(error.body(), status_code=exc.status_code, headers=headers)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return _render(
        errors.UnavailableError("The connection store cannot reach its database; retry.")
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return _render(
        errors.ApiError("Something went wrong on our side; try again, then contact support.")
    )
