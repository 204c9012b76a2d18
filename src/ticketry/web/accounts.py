"""Signing in and out, signing up, the account's security page (password, where one is signed
in, API tokens), and the pages behind account mail: forgotten passwords and e-mail verification."""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.auth import mail as account_mail
from ticketry.auth import service as auth_service
from ticketry.auth import signup as signup_service
from ticketry.auth.errors import InvalidCredentials, InvalidOneTimeToken
from ticketry.auth.models import TokenScope
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.errors import PermissionDenied, TooManyRequests, ValidationFailed
from ticketry.http.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    BrowserSession,
    DbSession,
    PathId,
    browser_session,
    client_ip,
    database,
)
from ticketry.sitesettings import service as site_settings
from ticketry.users import service as user_service
from ticketry.web.session import MaybeSignedIn, SignedIn, safe_next
from ticketry.web.templating import render, set_flash

router = APIRouter(include_in_schema=False)

# Forms shown before sign-in are protected by a double-submit token (cookie == field).
PRE_CSRF_COOKIE = "ticketry_pre_csrf"
# The secret of a mailed link, as a query parameter.
Token = Annotated[str, Query(max_length=account_mail.MAX_TOKEN_LENGTH)]


def home_for(is_staff: bool) -> str:
    return "/desk" if is_staff else "/"


def _pre_csrf(request: Request) -> str:
    return request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)


def _check_pre_csrf(request: Request, sent: str) -> None:
    cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), sent.encode()):
        raise PermissionDenied("The form expired. Reload the page and try again.")


def _anonymous_form(
    request: Request, template: str, context: dict[str, object], *, status: int = 200
) -> Response:
    token = _pre_csrf(request)
    response = render(request, template, {**context, "pre_csrf": token}, who=None, status=status)
    response.set_cookie(
        PRE_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=get_settings().secure_cookies,
    )
    return response


def _signed_in_redirect(session: DbSession, request: Request, user_id: int, target: str) -> Response:
    """A fresh session id at every sign-in (no fixation); any session the browser had ends."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        auth_service.end_web_session(session, old)
    user = user_service.get_user(session, user_id)
    new = auth_service.start_web_session(
        session, user, user_agent=request.headers.get("user-agent", ""), ip=client_ip(request)
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.secret,
        httponly=True,
        samesite="lax",
        path="/",
        secure=get_settings().secure_cookies,
        max_age=get_settings().session_days * 86400,
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return response


@router.get("/login")
def login_page(request: Request, session: DbSession, who: MaybeSignedIn, next: str | None = None) -> Response:
    if who is not None:
        return RedirectResponse(safe_next(next, home_for(who.actor.is_staff)), status_code=303)
    return _anonymous_form(
        request,
        "auth/login.html",
        {
            "next": safe_next(next, ""),
            "allow_signup": site_settings.current(session).allow_signup,
        },
    )


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1000)],
    pre_csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    _check_pre_csrf(request, pre_csrf)
    try:
        user = auth_service.authenticate(session, email=email, password=password, ip=client_ip(request))
    except (InvalidCredentials, TooManyRequests) as refused:
        return _login_refused(request, session, refused, email=email, next_path=next)
    return _signed_in_redirect(session, request, user.id, safe_next(next, home_for(user.role.is_staff)))


def _login_refused(
    request: Request,
    session: DbSession,
    refused: InvalidCredentials | TooManyRequests,
    *,
    email: str,
    next_path: str,
) -> Response:
    """The form again, with the reason and the address as typed: only the password is retyped.
    Returning (not raising) commits the unit, so the failed attempt still counts. A wrong password
    is a form to correct (200, as the redirect to the form was); a throttled one is a 429."""
    context = {
        "next": safe_next(next_path, ""),
        "allow_signup": site_settings.current(session).allow_signup,
        "email": email,
        "error": refused.message,
    }
    throttled = refused if isinstance(refused, TooManyRequests) else None
    response = _anonymous_form(request, "auth/login.html", context, status=429 if throttled else 200)
    if throttled is not None:
        response.headers["Retry-After"] = str(throttled.retry_after)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, who: SignedIn) -> Response:
    auth_service.end_web_session(session, who.secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    set_flash(response, "You are signed out.", kind="info")
    return response


@router.get("/signup")
def signup_page(request: Request, session: DbSession, who: MaybeSignedIn) -> Response:
    if who is not None:
        return RedirectResponse(home_for(who.actor.is_staff), status_code=303)
    if not site_settings.current(session).allow_signup:
        response = RedirectResponse("/login", status_code=303)
        set_flash(response, "Sign-up is turned off. Ask the help desk for an account.", kind="info")
        return response
    return _anonymous_form(request, "auth/signup.html", {})


@router.post("/signup")
def signup(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=254)],
    pre_csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Only an address: the same answer whether or not it has an account (docs/web.md#signing-up).
    Too many sign-ups from one client address, or from everywhere, get the form again with 429."""
    _check_pre_csrf(request, pre_csrf)
    site_settings.require_signup_open(session)
    try:
        signup_service.request_signup(session, email=email, ip=client_ip(request))
    except TooManyRequests as refused:
        response = render(
            request,
            "auth/signup.html",
            {"pre_csrf": pre_csrf, "email": email, "error": refused.message},
            who=None,
            status=429,
        )
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    return RedirectResponse("/signup/sent", status_code=303)


@router.get("/signup/sent")
def signup_sent(request: Request) -> Response:
    return render(request, "auth/signup_sent.html", {}, who=None)


@router.get("/signup/finish")
def finish_signup_page(request: Request, session: DbSession, token: Token = "") -> Response:
    """The form, or the news that the link is dead; nothing is spent by looking."""
    address = signup_service.pending_address(session, token)
    if address is not None:
        response = _anonymous_form(request, "auth/signup_finish.html", {"token": token, "email": address})
    else:
        response = render(request, "auth/signup_finish.html", {"token": ""}, who=None, status=400)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/signup/finish")
def finish_signup(
    request: Request,
    session: DbSession,
    token: Annotated[str, Form(max_length=account_mail.MAX_TOKEN_LENGTH)],
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    confirm: Annotated[str, Form(max_length=1000)],
    pre_csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    _check_pre_csrf(request, pre_csrf)
    site_settings.require_signup_open(session)
    if password != confirm:
        raise ValidationFailed("The passwords do not match.")
    user = signup_service.finish_signup(session, token, name=name, password=password)
    response = _signed_in_redirect(session, request, user.id, "/")
    set_flash(response, "Welcome! Your account is ready.")
    return response


# --- the account's security page: password, sessions, API tokens ------------------------------

# Offered lifetimes of a new token, in days (0: never expires).
TOKEN_LIFETIMES = ((7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year"), (0, "Never"))
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_agent(user_agent: str) -> str:
    """ "Firefox on Linux" from a User-Agent header; the raw header when it names neither."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if re.search(re.escape(marker), user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (user_agent[:80] if user_agent else "Unknown browser")


def _security_page(
    request: Request, session: DbSession, who: BrowserSession, *, created: tuple[str, str] | None = None
) -> Response:
    context = {
        "sessions": auth_service.list_sessions(session, who.actor, current_secret=who.secret),
        "tokens": auth_service.list_tokens(session, who.actor),
        "lifetimes": TOKEN_LIFETIMES,
        "describe_agent": describe_agent,
        "created": created,
        "now": now(),
    }
    response = render(request, "account/security.html", context, who=who)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account/security")
def security_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    return _security_page(request, session, who)


@router.get("/account/password")
def password_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    """The same page: the password is its first section."""
    return _security_page(request, session, who)


@router.post("/account/tokens")
def create_token(
    request: Request,
    session: DbSession,
    who: SignedIn,
    name: Annotated[str, Form(max_length=100)],
    scope: Annotated[TokenScope, Form()] = TokenScope.READ,
    expires_in_days: Annotated[int, Form(ge=0, le=3650)] = 90,
) -> Response:
    """The secret is on the page this answers with, once; it is never stored or shown again."""
    cleaned = " ".join(name.split())
    if not cleaned or not cleaned.isprintable():
        raise ValidationFailed("Give the token a name, e.g. what will use it.", details={"field": "name"})
    token, secret = auth_service.create_own_token(
        session, who.actor, name=cleaned, scope=scope, expires_in_days=expires_in_days or None
    )
    response = _security_page(request, session, who, created=(token.name, secret))
    # A reload shows the page again, not this POST (which would make another token).
    response.headers["HX-Replace-Url"] = "/account/security"
    return response


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(session: DbSession, who: SignedIn, token_id: PathId) -> Response:
    auth_service.revoke_token(session, who.actor, token_id)
    response = RedirectResponse("/account/security", status_code=303)
    set_flash(response, "The token is revoked: it stopped working.")
    return response


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(session: DbSession, who: SignedIn, session_id: PathId) -> Response:
    auth_service.revoke_session(session, who.actor, session_id)
    response = RedirectResponse("/account/security", status_code=303)
    set_flash(response, "That browser is signed out.")
    return response


@router.post("/account/sign-out-everywhere")
def sign_out_everywhere(session: DbSession, who: SignedIn) -> Response:
    """Every session (this one too: a stolen copy of its cookie is the same secret) and every
    API token ends."""
    auth_service.sign_out_everywhere(session, who.actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    set_flash(response, "You are signed out everywhere: every browser and every API token.", kind="info")
    return response


@router.post("/account/password")
def change_password(
    request: Request,
    session: DbSession,
    who: SignedIn,
    current: Annotated[str, Form(max_length=1000)],
    new: Annotated[str, Form(max_length=1000)],
    confirm: Annotated[str, Form(max_length=1000)],
) -> Response:
    if new != confirm:
        raise ValidationFailed("The new passwords do not match.")
    auth_service.change_password(session, who.actor, current=current, new=new, keep_secret=who.secret)
    response = RedirectResponse("/account/security", status_code=303)
    set_flash(
        response, "Your password is changed. Other browsers were signed out and your API tokens revoked."
    )
    return response


# --- account mail: forgotten password, e-mail verification ------------------------------------

FORGOT_ANSWER = "If an account exists for that address, we have sent a link to reset the password."


@router.get("/password/forgot")
def forgot_page(request: Request) -> Response:
    return _anonymous_form(request, "auth/forgot.html", {})


@router.post("/password/forgot")
def forgot(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=254)],
    pre_csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """The same answer whether or not the address has an account (no enumeration)."""
    _check_pre_csrf(request, pre_csrf)
    account_mail.request_password_reset(session, email)
    response = RedirectResponse("/login", status_code=303)
    set_flash(response, FORGOT_ANSWER, kind="info")
    return response


@router.get("/password/reset")
def reset_page(request: Request, session: DbSession, token: Token = "") -> Response:
    """The form, or the news that the link is dead; nothing is spent by looking."""
    if account_mail.reset_token_is_valid(session, token):
        response = _anonymous_form(request, "auth/reset.html", {"token": token})
    else:
        response = render(request, "auth/reset.html", {"token": ""}, who=None, status=400)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/password/reset")
def reset(
    request: Request,
    session: DbSession,
    token: Annotated[str, Form(max_length=account_mail.MAX_TOKEN_LENGTH)],
    password: Annotated[str, Form(max_length=1000)],
    confirm: Annotated[str, Form(max_length=1000)],
    pre_csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    _check_pre_csrf(request, pre_csrf)
    if password != confirm:
        raise ValidationFailed("The new passwords do not match.")
    account_mail.reset_password(session, token, new_password=password)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    set_flash(response, "Your password is changed. Sign in with the new one; other devices were signed out.")
    return response


@router.get("/verify-email")
def verify_email(request: Request, token: Token = "") -> Response:
    """A GET that writes: following the link twice is harmless, and mail clients open links with
    GET. Its own write unit of work, then a fresh read for the page (the banner is gone)."""
    try:
        with database(request).unit_of_work() as session:
            account_mail.verify_email(session, token)
        verified = True
    except InvalidOneTimeToken:
        verified = False
    with database(request).unit_of_work(write=False) as session:
        who = browser_session(request, session, "")
        return render(
            request, "auth/verified.html", {"verified": verified}, who=who, status=200 if verified else 400
        )


@router.post("/account/verify-email")
def resend_verification(session: DbSession, who: SignedIn) -> Response:
    account_mail.resend_verification(session, who.actor)
    response = RedirectResponse(home_for(who.actor.is_staff), status_code=303)
    set_flash(response, f"We sent a new link to {who.actor.email}. It works for 24 hours.", kind="info")
    return response
