"""The REST API: routes over an ``Api`` built once by ``app``, who is calling (the path's
``org_id`` must be the token's, else 404), and the JSON error rendering of ``hub_runtime``."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from hub_catalog import Catalog, PlatformProviderError, UnknownProviderError
from hub_runtime.api_errors import BodyTooLargeError, NotFoundError, UnauthenticatedError
from hub_runtime.bearer import TokenVerifier
from hub_runtime.bearer_http import BEARER_SCHEME, MISSING_TOKEN
from hub_runtime.body_limit import BodyLimit
from hub_runtime.http_api import (
    ErrorBody,
    Health,
    app_state,
    error_responses,
    install_error_handlers,
    links,
    metrics_router,
    operation_name,
    probes,
    render,
    require_ready,
)
from hub_runtime.server_spans import ServerSpans
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from connection_store.auth import (
    CREDENTIALS_READ,
    NOTIFICATION_CONTEXT,
    READ,
    SEALED_CREDENTIAL,
    WRITE,
    Principal,
    ServiceTokens,
    verify_service_token,
)
from connection_store.domain import RateLimits
from connection_store.errors import REALM, ForbiddenError, RateLimitedError
from connection_store.metrics import StoreMetrics
from connection_store.service.credentials import Credentials
from connection_store.service.credentials import Reader as ServiceReader
from connection_store.service.integrations import Integrations
from connection_store.service.notifications import Notifications
from connection_store.views import (
    AccessLogPage,
    CredentialView,
    FlagsUpdate,
    FlagsView,
    HistoryPage,
    IntegrationDetail,
    IntegrationList,
    NotificationContext,
    NotificationSettingsPatch,
    NotificationSettingsView,
    OnboardingView,
    ProviderList,
    SealedCredentialView,
    SettingsView,
    SyncAccepted,
    onboarding_view,
    provider_list,
)


@dataclass
class Api:
    """What the routes call, built once by ``app.create_app``."""

    catalog: Catalog
    verifier: TokenVerifier[Principal]
    service_token_secret: SecretStr
    integrations: Integrations
    notifications: Notifications
    credentials: Credentials
    limits: RateLimits
    service_tokens: ServiceTokens
    ping: Callable[[], Awaitable[object]] | None = None
    """Readiness: set by the app's start once the pool is open, cleared at its stop."""


_api = app_state("api", Api)


ConnectionStore = Annotated[Api, Depends(_api)]


async def _principal(
    api: ConnectionStore,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
) -> Principal:
    if credentials is None:
        raise UnauthenticatedError(MISSING_TOKEN, realm=REALM, code="missing_token")
    return api.verifier.verify(credentials.credentials)


Authenticated = Annotated[Principal, Depends(_principal)]
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
            raise NotFoundError(
                "Nothing here: the organization in the path is not the one your token is for."
            )
        principal.require(scope)
        return principal

    return Depends(dependency)


Reader = Annotated[Principal, _tenant(READ)]
Writer = Annotated[Principal, _tenant(WRITE)]

_ERRORS = error_responses(
    {
        401: "No valid bearer token",
        403: "The token lacks the scope",
        404: "Not this token's organization, or an unknown or platform-level provider",
        422: "The body does not fit",
    }
)
router = APIRouter(responses=_ERRORS, generate_unique_id_function=operation_name)
ORG = "/v1/orgs/{org_id}"
_IN_ORG = {"org_id": "$request.path.org_id"}
_SAME = _IN_ORG | {"provider": "$request.path.provider"}
_NEXT_PAGE = _SAME | {"cursor": "$response.body#/next_cursor"}


@router.get(
    "/v1/providers",
    tags=["catalog"],
    dependencies=[_scoped(READ)],
    responses={200: links(get_integration={"provider": "$response.body#/providers/0/id"})},
)
async def list_providers(api: ConnectionStore) -> ProviderList:
    """Every provider of the catalog: how it connects, where it is configured, its settings."""
    return provider_list(api.catalog)


@router.get("/v1/onboarding", tags=["catalog"], dependencies=[_scoped(READ)])
async def onboarding(api: ConnectionStore) -> OnboardingView:
    """The onboarding step "Connect Integrations": its categories and cards (also in
    ``/v1/providers``), for the console and the platform's wizard."""
    return onboarding_view(api.catalog)


@router.get(
    f"{ORG}/integrations",
    tags=["integrations"],
    responses={200: links(get_flags=_IN_ORG, get_notifications=_IN_ORG)},
)
async def list_integrations(principal: Reader, api: ConnectionStore) -> IntegrationList:
    """Every tenant-level provider, connected or not, grouped as the admin hub groups them."""
    return await api.integrations.overview(principal.organization_id)


@router.get(
    f"{ORG}/integrations/{{provider}}",
    tags=["integrations"],
    responses={
        200: links(
            get_history=_SAME,
            update_settings=_SAME,
            sync_now=_SAME,
            get_credentials=_SAME,
            get_access_log=_SAME,
            disconnect=_SAME,
        )
    },
)
async def get_integration(
    provider: ProviderId, principal: Reader, api: ConnectionStore
) -> IntegrationDetail:
    """One integration's state; credentials appear only as the names of the fields held."""
    return await api.integrations.detail(principal.organization_id, provider)


@router.get(
    f"{ORG}/integrations/{{provider}}/history",
    tags=["integrations"],
    responses={200: links(get_history=_NEXT_PAGE)},
)
async def get_history(
    provider: ProviderId,
    principal: Reader,
    api: ConnectionStore,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> HistoryPage:
    """The integration's activity, newest first: requested, connected, failed, refreshed,
    unhealthy, recovered, disconnected. Summaries are for people; no secret is ever here."""
    return await api.integrations.history(
        principal.organization_id, provider, limit=limit, cursor=cursor
    )


@router.patch(f"{ORG}/integrations/{{provider}}/settings", tags=["integrations"])
async def update_settings(
    provider: ProviderId,
    principal: Writer,
    api: ConnectionStore,
    patch: Annotated[dict[str, Any], Body(description="JSON merge patch; null removes a setting.")],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> SettingsView:
    """Change provider settings (also before connecting); the result is validated as a whole,
    and a setting naming a resource (``x-resource``) must be one the brand's account lists."""
    return await api.integrations.update_settings(
        principal.organization_id, provider, patch, authorization=authorization
    )


@router.post(
    f"{ORG}/integrations/{{provider}}/sync",
    tags=["integrations"],
    status_code=202,
    responses={409: {"model": ErrorBody, "description": "Not connected"}},
)
async def sync_now(provider: ProviderId, principal: Writer, api: ConnectionStore) -> SyncAccepted:
    """Queue a health check now, and a refresh when one is due soon."""
    return await api.integrations.sync_now(principal.organization_id, provider)


@router.delete(
    f"{ORG}/integrations/{{provider}}",
    tags=["integrations"],
    status_code=204,
    response_class=Response,
)
async def disconnect(provider: ProviderId, principal: Writer, api: ConnectionStore) -> Response:
    """Wipe the credentials and stop all work; a second DELETE answers 404 ``not_connected``."""
    await api.integrations.disconnect(principal.organization_id, provider, by=principal.subject)
    return Response(status_code=204)


@router.get(f"{ORG}/flags", tags=["flags"])
async def get_flags(principal: Reader, api: ConnectionStore) -> FlagsView:
    """The integration feature flags: catalog defaults with this organization's changes."""
    return await api.integrations.flags(principal.organization_id)


@router.put(
    f"{ORG}/flags",
    tags=["flags"],
    responses={
        200: links(get_flags=_IN_ORG),
        409: {"model": ErrorBody, "description": "The flag needs an active connection"},
    },
)
async def put_flags(principal: Writer, api: ConnectionStore, update: FlagsUpdate) -> FlagsView:
    """Turn flags on or off; flags not named keep their value."""
    return await api.integrations.set_flags(
        principal.organization_id, update.flags, by=principal.subject
    )


@router.get(f"{ORG}/notifications", tags=["notifications"])
async def get_notifications(principal: Reader, api: ConnectionStore) -> NotificationSettingsView:
    """Who hears about connections that need attention, and how."""
    return await api.notifications.settings(principal.organization_id)


@router.patch(
    f"{ORG}/notifications",
    tags=["notifications"],
    responses={200: links(get_notifications=_IN_ORG)},
)
async def update_notifications(
    principal: Writer, api: ConnectionStore, patch: NotificationSettingsPatch
) -> NotificationSettingsView:
    """Change the notification settings; fields left out keep their value."""
    return await api.notifications.update(principal.organization_id, patch, by=principal.subject)


async def _credential_reader(
    api: ConnectionStore,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
) -> ServiceReader:
    """A hub service with ``credentials:read``, within its rate; a brand admin's token is
    refused with 403 (a valid token, the wrong kind of caller)."""
    if credentials is None:
        raise UnauthenticatedError(MISSING_TOKEN, realm=REALM, code="missing_token")
    try:
        principal = api.service_tokens.verify(credentials.credentials)
    except UnauthenticatedError:
        try:
            api.verifier.verify(credentials.credentials)
        except UnauthenticatedError:
            pass
        else:
            raise ForbiddenError(
                "Credentials are served to hub services only, never to a brand admin's token: "
                "send a service token with the 'credentials:read' scope.",
                code="service_token_required",
            ) from None
        raise
    principal.require(CREDENTIALS_READ)
    wait_s = api.limits.take(principal.service, time.monotonic())
    if wait_s > 0:
        raise RateLimitedError(
            f"Too many credential reads by {principal.service!r}; slow down.",
            retry_after_s=max(1, math.ceil(wait_s)),
        )
    return ServiceReader(principal.service, principal.providers)


CredentialReader = Annotated[ServiceReader, Depends(_credential_reader)]


@router.get(
    f"{ORG}/integrations/{{provider}}/credentials",
    tags=["credentials"],
    responses=error_responses(
        {
            403: "A brand admin's token, or a service token without this provider",
            404: "Not connected (not_connected), or an unknown provider",
            409: "Revoked or expired: the brand must reconnect (reconnect_required)",
            429: "Too many reads by this service (Retry-After)",
            503: "A needed refresh failed or did not finish in time (refresh_unavailable)",
        }
    )
    | {200: links(get_access_log=_SAME)},
)
async def get_credentials(
    org_id: OrgId,
    provider: ProviderId,
    reader: CredentialReader,
    api: ConnectionStore,
    response: Response,
    min_ttl_s: Annotated[
        int, Query(ge=0, le=3600, description="The token must live at least this long.")
    ] = 300,
) -> CredentialView:
    """A connection's credential in plaintext, for a hub service whose token names the
    provider: refreshed first (and waited for) when it expires within ``min_ttl_s``. Every read
    is in the access log. ``Cache-Control: no-store``."""
    response.headers["Cache-Control"] = "no-store"
    try:
        org = uuid.UUID(org_id)
    except ValueError:
        raise NotFoundError("Nothing here: the organization is not a UUID.") from None
    return await api.credentials.read(reader, org, provider, min_ttl_s=min_ttl_s)


@router.get(
    f"{ORG}/integrations/{{provider}}/access-log",
    tags=["credentials"],
    responses={200: links(get_access_log=_NEXT_PAGE)},
)
async def get_access_log(
    provider: ProviderId,
    principal: Reader,
    api: ConnectionStore,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> AccessLogPage:
    """Which hub services read this integration's credential, when, and how it ended, newest
    first ("read by spend-sync 4 min ago"). Never a secret."""
    return await api.credentials.access_log(
        principal.organization_id, provider, limit=limit, cursor=cursor
    )


async def readyz(api: ConnectionStore) -> Health:
    """Readiness: PostgreSQL answers within two seconds."""
    return await require_ready(api.ping, starting="The store is starting.")


router.include_router(probes(readyz, not_ready="PostgreSQL is not reachable"))


internal = APIRouter(include_in_schema=False)
_SERVICE_BEARER = HTTPBearer(auto_error=False)


def _service_with(scope: str) -> Any:
    async def dependency(
        api: ConnectionStore,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_SERVICE_BEARER)],
    ) -> None:
        if credentials is None:
            raise UnauthenticatedError(
                "Send 'Authorization: Bearer <service token>'.", realm=REALM, code="missing_token"
            )
        principal = verify_service_token(credentials.credentials, api.service_token_secret)
        principal.require(scope)

    return Depends(dependency)


_service = _service_with(NOTIFICATION_CONTEXT)


@internal.get(
    "/internal/v1/orgs/{org_id}/integrations/{provider}/sealed-credential",
    dependencies=[_service_with(SEALED_CREDENTIAL)],
)
async def sealed_credential(
    org_id: OrgId, provider: ProviderId, api: ConnectionStore
) -> SealedCredentialView:
    """One connection's credential as ciphertext (the gateway's resource listings decrypt it)."""
    try:
        org = uuid.UUID(org_id)
    except ValueError:
        raise NotFoundError("Nothing here: the organization is not a UUID.") from None
    return await api.integrations.sealed_credential(org, provider)


@internal.get("/internal/v1/orgs/{org_id}/notification-context", dependencies=[_service])
async def notification_context(
    org_id: OrgId, api: ConnectionStore, provider: Annotated[str, Query(max_length=64)]
) -> NotificationContext:
    """Everything the notifier needs to tell ``org_id`` about ``provider`` (ciphertext only)."""
    try:
        org = uuid.UUID(org_id)
    except ValueError:
        raise NotFoundError("Nothing here: the organization is not a UUID.") from None
    return await api.notifications.context(org, provider)


def install(
    app: FastAPI,
    api: Api,
    metrics: StoreMetrics,
    *,
    max_body_bytes: int,
    tracer_provider: TracerProvider,
) -> None:
    """The routes over ``api``, ``/metrics``, every error as JSON, the body-size limit and a
    server span per request (outermost)."""
    app.state.api = api
    app.include_router(router)
    app.include_router(internal)
    app.include_router(metrics_router(metrics))
    install_error_handlers(
        app,
        not_found=(UnknownProviderError, PlatformProviderError),
        unavailable=dict.fromkeys(
            (OSError, asyncpg.PostgresConnectionError, asyncpg.TooManyConnectionsError),
            "The connection store cannot reach its database; retry.",
        ),
    )
    app.add_middleware(
        BodyLimit,
        max_body_bytes=max_body_bytes,
        refusal=lambda limit: render(BodyTooLargeError(limit)),
    )
    app.add_middleware(ServerSpans, tracer_provider=tracer_provider)
