"""The web routes: pages (GET) and forms (POST, then a redirect and a flash message). Every
form carries a CSRF token; every answer carries the security headers; every failure is a page
a person can read (``errors``), never a stack trace."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import jwt
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from hub_runtime.default_headers import DefaultHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from admin_console import domain
from admin_console.domain import Session
from admin_console.errors import (
    BadInputError,
    ConsoleError,
    ForbiddenError,
    NotFoundError,
    RefusedError,
    SignInRequiredError,
)
from admin_console.service.console import Console, key_mode, oauth_mode, provider_id, slug
from admin_console.settings import ConsoleSettings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "console_session"
FLASH_COOKIE = "console_flash"
PRESESSION_COOKIE = "console_signin"
HUB = "/admin/settings/integrations"
MAX_FORM_BYTES = 64 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'"
)
"""No inline script. ``form-action`` allows the OAuth hop (a form posted here answers with a
redirect to the provider's authorize page)."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Web:
    """What the routes use, built once by ``app.create_app``."""

    settings: ConsoleSettings
    console: Console
    templates: Jinja2Templates
    ready: Callable[[], Awaitable[bool]]

    @property
    def secret(self) -> bytes:
        return self.settings.session_secret.get_secret_value().encode()


def _web(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


WebDep = Annotated[Web, Depends(_web)]


def _session(request: Request, web: WebDep) -> Session:
    session = Session.open(web.secret, request.cookies.get(SESSION_COOKIE), datetime.now(UTC))
    if session is None:
        raise SignInRequiredError("Sign in to manage your integrations.")
    return session


Signed = Annotated[Session, Depends(_session)]


async def _form(request: Request) -> dict[str, list[str]]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadInputError("This page expects a submitted form.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadInputError("That form is too large.")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise BadInputError("That form could not be read.") from None


async def _checked_form(request: Request, web: WebDep, session: Signed) -> dict[str, list[str]]:
    """The submitted form, once its CSRF token matches the session's."""
    form = await _form(request)
    if not domain.csrf_valid(web.secret, session.nonce, _one(form, "csrf")):
        raise ForbiddenError(
            "This form has expired or did not come from this console. Go back, reload the page "
            "and try again."
        )
    return form


Form = Annotated[dict[str, list[str]], Depends(_checked_form)]


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _flash(response: Response, web: Web, text: str, kind: str = "ok") -> Response:
    response.set_cookie(
        FLASH_COOKIE,
        domain.seal(web.secret, "flash", {"kind": kind, "text": text[:500]}),
        max_age=120,
        path="/",
        httponly=True,
        samesite="lax",
        secure=not web.settings.development and web.settings.base_url.startswith("https://"),
    )
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def page(
    request: Request,
    web: Web,
    template: str,
    context: dict[str, Any],
    *,
    session: Session | None = None,
    status: int = 200,
) -> HTMLResponse:
    flash = domain.unseal(web.secret, "flash", request.cookies.get(FLASH_COOKIE))
    response = web.templates.TemplateResponse(
        request,
        template,
        {
            **context,
            "flash": flash,
            "csrf": domain.csrf_token(web.secret, session.nonce) if session else "",
            "signed_in": session is not None,
            "hub_url": HUB,
            "path": request.url.path,
        },
        status_code=status,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


router = APIRouter()


# --- signing in ----------------------------------------------------------------------------------


def _start_session(web: Web, session: Session, to: str) -> Response:
    response = _redirect(to)
    response.set_cookie(
        SESSION_COOKIE,
        session.seal(web.secret),
        max_age=max(60, session.expires_at - int(datetime.now(UTC).timestamp())),
        path="/",
        httponly=True,
        samesite="lax",
        secure=not web.settings.development,
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


def _session_for(web: Web, bearer: str) -> Session:
    try:
        claims = jwt.decode(bearer, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise BadInputError("That is not a platform token.") from None
    facts = domain.bearer_facts(claims)
    if facts is None:
        raise BadInputError("That token does not name an organization and a user.")
    organization, subject, expires = facts
    limit = int(datetime.now(UTC).timestamp()) + web.settings.session_max_age_s
    return Session.new(bearer, organization, subject, min(expires, limit))


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, web: WebDep) -> Response:
    marker = domain.Session.new("-", "-", "-", 0).nonce
    response = page(
        request,
        web,
        "sign_in.html",
        {"title": "Sign in", "marker": marker, "development": web.settings.development},
    )
    response.set_cookie(
        PRESESSION_COOKIE, marker, max_age=600, path="/", httponly=True, samesite="lax"
    )
    return response


@router.post("/sign-in")
async def sign_in(request: Request, web: WebDep) -> Response:
    """The platform's bearer, handed over once (form field ``token`` or an Authorization
    header), becomes the session cookie once the store accepts it."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        bearer = header[7:].strip()
    else:
        form = await _form(request)
        marker = request.cookies.get(PRESESSION_COOKIE)
        if not marker or _one(form, "marker") != marker:
            raise ForbiddenError("This sign-in form has expired. Reload it and try again.")
        bearer = _one(form, "token")
    if not bearer or len(bearer) > 4096:
        raise BadInputError("Paste the token the platform gave you.")
    session = _session_for(web, bearer)
    await web.console.store.integrations(session.bearer, session.organization_id)  # verifies it
    return _start_session(web, session, HUB)


@router.get("/dev/sign-in")
async def dev_sign_in(request: Request, web: WebDep) -> Response:
    """Development only: sign in as an admin of ``org`` (``HUB_ENVIRONMENT=development``)."""
    if not web.settings.development:
        raise NotFoundError("Development sign-in is off outside HUB_ENVIRONMENT=development.")
    raw = request.query_params.get("org", "")
    try:
        organization = str(uuid.UUID(raw))
    except ValueError:
        raise BadInputError("Give the organization as ?org=<uuid>.") from None
    now = int(datetime.now(UTC).timestamp())
    expires = now + web.settings.session_max_age_s
    bearer = jwt.encode(
        {
            "sub": "dev-admin",
            "org": organization,
            "scope": "integrations:read integrations:write",
            "iat": now,
            "exp": expires,
        },
        web.settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    to = domain.safe_next(request.query_params.get("next"), web.settings.base_url, (), HUB)
    return _start_session(web, Session.new(bearer, organization, "dev-admin", expires), to)


@router.post("/sign-out")
async def sign_out(web: WebDep, form: Form) -> Response:
    response = _redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def home() -> Response:
    return _redirect(HUB)


# --- the hub and one integration -----------------------------------------------------------------


@router.get(HUB, response_class=HTMLResponse)
async def hub(request: Request, web: WebDep, session: Signed) -> Response:
    query = request.query_params
    if query.get("status") == "error" and query.get("provider"):
        # The gateway's default return URL, when a refused flow's own return URL is gone.
        entry = await web.console.provider(session, slug(query["provider"][:64]))
        reason = (query.get("reason") or "provider_error")[:40]
        return _redirect(_integration_url(slug(entry["id"]), error=reason))
    content = await web.console.hub(session)
    return page(request, web, "hub.html", {"title": "Integrations", **content}, session=session)


@router.get("/admin/settings/notifications", response_class=HTMLResponse)
async def notifications(request: Request, web: WebDep, session: Signed) -> Response:
    content = await web.console.notifications(session)
    return page(
        request,
        web,
        "notifications.html",
        {"title": "Notifications", "problems": {}, **content},
        session=session,
    )


@router.post("/admin/settings/notifications", response_class=HTMLResponse)
async def save_notifications(
    request: Request, web: WebDep, session: Signed, form: Form
) -> Response:
    problems = await web.console.save_notifications(session, form)
    if problems:
        content = await web.console.notifications(session)
        return page(
            request,
            web,
            "notifications.html",
            {"title": "Notifications", "problems": problems, **content},
            session=session,
            status=422,
        )
    return _flash(_redirect("/admin/settings/notifications"), web, "Notification settings saved.")


def _integration_url(provider_slug: str, **query: str) -> str:
    url = f"{HUB}/{quote(provider_slug, safe='')}"
    return f"{url}?{urlencode(query)}" if query else url


@router.get(HUB + "/{provider}", response_class=HTMLResponse)
async def integration(request: Request, web: WebDep, session: Signed, provider: str) -> Response:
    cursor = request.query_params.get("cursor")
    content = await web.console.integration(
        session, provider, cursor=cursor[:512] if cursor else None
    )
    reason = request.query_params.get("error")
    problem = domain.explain_reason(reason, content["provider"]["name"]) if reason else None
    return page(
        request,
        web,
        "integration.html",
        {
            "title": content["provider"]["name"],
            "problems": {},
            "connect_problem": problem,
            **content,
        },
        session=session,
    )


@router.post(HUB + "/{provider}/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request, web: WebDep, session: Signed, form: Form, provider: str
) -> Response:
    entry, problems = await web.console.save_settings(session, provider, form)
    if problems:
        content = await web.console.integration(session, provider)
        return page(
            request,
            web,
            "integration.html",
            {
                "title": entry["name"],
                "problems": problems,
                "connect_problem": None,
                "submitted": {k: v[0] for k, v in form.items() if v},
                **content,
            },
            session=session,
            status=422,
        )
    return _flash(
        _redirect(_integration_url(slug(entry["id"]))), web, f"{entry['name']} settings saved."
    )


def _back(form: dict[str, list[str]], provider_slug: str) -> str:
    back = _one(form, "back")
    return HUB if back == "hub" else _integration_url(provider_slug)


@router.post(HUB + "/{provider}/sync")
async def sync(web: WebDep, session: Signed, form: Form, provider: str) -> Response:
    entry = await web.console.provider(session, provider)
    try:
        await web.console.sync(session, provider)
    except RefusedError as refused:
        return _flash(_redirect(_back(form, provider)), web, refused.message, "error")
    return _flash(
        _redirect(_back(form, provider)), web, f"Checking {entry['name']} now; this takes a moment."
    )


@router.get(HUB + "/{provider}/disconnect", response_class=HTMLResponse)
async def disconnect_page(
    request: Request, web: WebDep, session: Signed, provider: str
) -> Response:
    content = await web.console.disconnect_view(session, provider)
    name = content["provider"]["name"]
    title = (
        f"Switch {name} back to the platform's account"
        if content["row"]["platform_available"]
        else f"Disconnect {name}"
    )
    return page(request, web, "disconnect.html", {"title": title, **content}, session=session)


@router.post(HUB + "/{provider}/disconnect")
async def disconnect(web: WebDep, session: Signed, form: Form, provider: str) -> Response:
    if _one(form, "confirm") != "yes":
        return _redirect(_integration_url(provider) + "/disconnect")
    try:
        entry = await web.console.disconnect(session, provider)
    except RefusedError as refused:
        return _flash(_redirect(HUB), web, refused.message, "error")
    if _one(form, "switch") == "platform":
        return _flash(
            _redirect(_integration_url(slug(entry["id"]))),
            web,
            f"{entry['name']} uses the platform's account again.",
        )
    return _flash(_redirect(HUB), web, f"{entry['name']} is disconnected.")


@router.post(HUB + "/{provider}/flags")
async def set_flag(web: WebDep, session: Signed, form: Form, provider: str) -> Response:
    name, value = _one(form, "flag"), _one(form, "enabled")
    if value not in ("on", "off"):
        raise BadInputError("Choose on or off.")
    try:
        entry = await web.console.set_flag(session, provider, name, value == "on")
    except RefusedError as refused:
        return _flash(_redirect(_integration_url(provider)), web, refused.message, "error")
    word = "on" if value == "on" else "off"
    return _flash(_redirect(_integration_url(slug(entry["id"]))), web, f"{name} is {word}.")


# --- connecting ----------------------------------------------------------------------------------


def _connect_context(entry: dict[str, Any], back: str, next_url: str) -> dict[str, Any]:
    return {
        "title": f"Connect {entry['name']}",
        "provider": entry,
        "slug": slug(entry["id"]),
        "oauth": oauth_mode(entry),
        "key_mode": key_mode(entry),
        "needs_shop": "shop" in (entry.get("tenant_params") or ()) or entry["id"] == "shopify",
        "back": back,
        "next": next_url,
        "problems": {},
    }


def _next(web: Web, raw: str | None) -> str:
    return domain.safe_next(raw, web.settings.base_url, web.settings.next_origins, HUB)


@router.get(HUB + "/{provider}/connect", response_class=HTMLResponse)
async def connect_page(request: Request, web: WebDep, session: Signed, provider: str) -> Response:
    entry = await web.console.provider(session, provider)
    back = request.query_params.get("back", "page")[:20]
    context = _connect_context(entry, back, _next(web, request.query_params.get("next")))
    return page(request, web, "connect.html", context, session=session)


@router.post(HUB + "/{provider}/connect", response_class=HTMLResponse)
async def connect(
    request: Request, web: WebDep, session: Signed, form: Form, provider: str
) -> Response:
    entry = await web.console.provider(session, provider)
    back = _one(form, "back")[:20] or "page"
    next_url = _next(web, _one(form, "next"))
    context = _connect_context(entry, back, next_url)
    if _one(form, "method") == "oauth" and context["oauth"]:
        shop = _one(form, "shop") or None
        if context["needs_shop"] and not shop:
            context["problems"] = {"shop": "Enter your store's domain, like acme.myshopify.com."}
            return page(request, web, "connect.html", context, session=session, status=422)
        return_to = (
            f"{web.settings.base_url}{_integration_url(slug(entry['id']))}/return?"
            + urlencode({"back": back, "next": next_url})
        )
        try:
            auth_url = await web.console.start_oauth(
                session, provider, return_to=return_to, shop=shop
            )
        except RefusedError as refused:
            context["problems"] = {refused.field or "_form": refused.message}
            if refused.field not in ("shop",):
                context["problems"] = {"_form": refused.message}
            return page(request, web, "connect.html", context, session=session, status=422)
        response = _redirect(auth_url)
        _bind_browser(response, web, session)
        return response
    entry, problems = await web.console.connect_key(session, provider, form)
    if problems:
        context["problems"] = problems
        return page(request, web, "connect.html", context, session=session, status=422)
    await web.console.settle(session, entry["id"])  # the store hears of it by event
    return _flash(
        _redirect(_after_connect(back, entry, next_url)), web, f"{entry['name']} is connected."
    )


def _bind_browser(response: Response, web: Web, session: Session) -> None:
    """The gateway's browser-binding cookie, set by the console on the browser (decisions.md:
    "Console and gateway share the OAuth browser binding")."""
    response.set_cookie(
        web.settings.oauth_cookie_name,
        session.browser_id,
        max_age=3600,
        path="/v1/",
        domain=web.settings.oauth_cookie_domain,
        httponly=True,
        samesite="lax",
        secure=not web.settings.development,
    )


def _after_connect(back: str, entry: dict[str, Any], next_url: str) -> str:
    if back == "hub":
        return HUB
    if back == "onboarding":
        return "/onboarding/integrations?" + urlencode({"next": next_url})
    return _integration_url(slug(entry["id"]))


@router.get(HUB + "/{provider}/return")
async def oauth_return(request: Request, web: WebDep, session: Signed, provider: str) -> Response:
    """Where the gateway sends the browser when a flow ends (``status``, ``reason``)."""
    entry = await web.console.provider(session, provider)
    query = request.query_params
    back = query.get("back", "page")[:20]
    next_url = _next(web, query.get("next"))
    if query.get("status") == "connected":
        detail = await web.console.settle(session, entry["id"])
        text = f"{entry['name']} is connected."
        if detail.get("account_name"):
            text = f"{entry['name']} is connected to {detail['account_name']}."
        return _flash(_redirect(_after_connect(back, entry, next_url)), web, text)
    reason = (query.get("reason") or "provider_error")[:40]
    target = _integration_url(slug(entry["id"]), error=reason)
    return _redirect(target)


# --- onboarding ----------------------------------------------------------------------------------


@router.get("/onboarding/integrations", response_class=HTMLResponse)
async def onboarding(request: Request, web: WebDep, session: Signed) -> Response:
    content = await web.console.onboarding(session)
    next_url = _next(web, request.query_params.get("next"))
    return page(
        request,
        web,
        "onboarding.html",
        {"title": "Connect Integrations", "next": next_url, **content},
        session=session,
    )


# --- probes --------------------------------------------------------------------------------------


@router.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", include_in_schema=False)
async def readyz(web: WebDep) -> JSONResponse:
    if await web.ready():
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {"error": {"code": "not_ready", "message": "connection-store is not reachable"}},
        status_code=503,
    )


# --- errors and headers --------------------------------------------------------------------------


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    web: Web = request.app.state.web
    session = Session.open(web.secret, request.cookies.get(SESSION_COOKIE), datetime.now(UTC))
    if status == 401:
        return _redirect("/sign-in")
    return page(
        request,
        web,
        "error.html",
        {"title": title, "message": message, "status": status},
        session=session,
        status=status,
    )


def install(app: FastAPI, web: Web) -> None:
    app.state.web = web
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def console_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ConsoleError)
        return _error_page(request, error.status, error.title, error.message)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            return _error_page(request, 404, "Page not found", "There is no page at this address.")
        if error.status_code == 405:
            return _error_page(request, 405, "Not allowed", "This address does not take that.")
        return _error_page(request, error.status_code, "Something went wrong", str(error.detail))

    async def validation_error(request: Request, error: Exception) -> Response:
        return _error_page(
            request, 400, "That request could not be understood", "Check the address."
        )

    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error", extra={"path": request.url.path})
        return _error_page(
            request,
            500,
            "Something went wrong",
            "Please try again. If it keeps happening, tell us.",
        )

    app.add_exception_handler(ConsoleError, console_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
    app.add_middleware(DefaultHeaders, headers=SECURITY_HEADERS)


__all__ = ["Web", "install", "provider_id"]
