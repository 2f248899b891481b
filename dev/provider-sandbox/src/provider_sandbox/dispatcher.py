"""``/p/{provider}/{host}/{path}``: every provider URL of the catalog, played from its data.

The dispatcher finds which catalog request a URL is, counts the call, applies the provider's
outage faults, and hands the call to the endpoint's handler, with the provider's recorded answers
(``recordings``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from hub_catalog import Catalog, CatalogError

from provider_sandbox import actions, authorization, checks, revocations, tokens
from provider_sandbox.answers import Refusal, problem
from provider_sandbox.call import Call, Incoming, interrupt
from provider_sandbox.endpoints import Endpoint, EndpointKind, endpoints, matching
from provider_sandbox.recordings import Recordings, load_recordings
from provider_sandbox.settings import SandboxSettings
from provider_sandbox.state import Store

Handler = Callable[[Call], Awaitable[Response]]

HANDLERS: dict[EndpointKind, Handler] = {
    EndpointKind.AUTHORIZE: authorization.authorize,
    EndpointKind.TOKEN: tokens.token,
    EndpointKind.REVOKE: tokens.revoke,
    EndpointKind.REVOCATION: revocations.revocation,
    EndpointKind.MINT: checks.mint,
    EndpointKind.HEALTH: checks.check,
    EndpointKind.IDENTITY: checks.check,
    EndpointKind.RESOURCE: checks.check,
    EndpointKind.ACTION: actions.act,
}


def router(catalog: Catalog, store: Store, settings: SandboxSettings) -> APIRouter:
    tables: dict[str, list[Endpoint]] = {p.id: endpoints(p) for p in catalog.providers}
    recorded = load_recordings()
    recordings = {
        p.id: recorded.get(p.id) or Recordings(provider=p.id, answers={}) for p in catalog.providers
    }
    api = APIRouter(prefix="/p", tags=["providers"])

    @api.api_route("/{provider_id}/{host}/{path:path}", methods=["GET", "POST", "DELETE"])
    async def provider_call(provider_id: str, host: str, path: str, request: Request) -> Response:
        if store.latency_ms:
            await asyncio.sleep(store.latency_ms / 1000)
        if provider_id not in tables:
            return problem(404, "not_found", f"no provider {provider_id!r} in the catalog")
        provider = catalog.get(provider_id)
        try:
            catalog.check_host(provider, host)
        except CatalogError as error:
            return problem(404, "not_found", str(error))
        found = matching(tables[provider_id], host, f"/{path}")
        chosen = [(e, values) for e, values in found if request.method in e.methods]
        if not chosen:
            if found:
                kind = found[0][0].kind
                return problem(405, "method_not_allowed", f"{kind} does not take {request.method}")
            return problem(404, "not_found", f"{provider_id} has no endpoint at {host}/{path}")
        store.count(provider_id, chosen[0][0].label)
        call = Call(
            provider=provider,
            endpoints=tuple(endpoint for endpoint, _ in chosen),
            url_values=chosen[0][1],
            incoming=await Incoming.read(request, host, f"/{path}"),
            store=store,
            lifetime_override=settings.access_token_lifetime_s,
            recordings=recordings[provider_id],
        )
        try:
            await interrupt(call.recordings, store.fault(provider_id))
            return await HANDLERS[call.endpoint.kind](call)
        except Refusal as refusal:
            return refusal.response

    return api
