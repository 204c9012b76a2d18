"""Logging in, personal API tokens and web sessions, and resolving the Actor behind them.

Credentials die with the facts they were issued on (issue 12 item 5): a password change (own or
by an admin), an e-mail change, a role change and disabling the account revoke every session,
every token and every unused mailed link of the user (`revoke_credentials`), for good: enabling
the account again revives none of them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ScalarSelect, Select, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.auth.errors import InvalidCredentials, SessionNotFound, TokenNotFound, WrongPassword
from ticketry.auth.models import ApiToken, LoginAttempt, OneTimeToken, Signup, TokenScope, WebSession
from ticketry.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from ticketry.core.buffer import Accumulator
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import joined_ids, split_ids
from ticketry.core.errors import TooManyRequests, ValidationFailed
from ticketry.users import service as users
from ticketry.users.models import Organization, User, department_members

_token_usage: Accumulator[int, datetime] = Accumulator(max)
_session_usage: Accumulator[int, datetime] = Accumulator(max)

TOKEN_PREFIX = "tkt_"  # noqa: S105 - a public marker, not a secret


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def actor_for(session: Session, user: User) -> Actor:
    """Build the Actor of a loaded user: at most one small query (departments, or the
    organization's sharing flag). A request's own actor comes with its credential's query
    instead (`_actor_facts`): no query of its own."""
    department_ids: frozenset[int] = frozenset()
    shared = False
    if user.role.is_staff:
        department_ids = frozenset(
            session.scalars(
                select(department_members.c.department_id).where(department_members.c.user_id == user.id)
            )
        )
    elif user.organization_id is not None:
        shared = bool(
            session.scalar(select(Organization.shared).where(Organization.id == user.organization_id))
        )
    return Actor.for_user(user, organization_shared=shared, department_ids=department_ids)


def _actor_facts() -> tuple[ScalarSelect[str], ScalarSelect[bool]]:
    """What `actor_for` reads for the `User` a query selects, as two more columns of its row:
    their departments, their organization's sharing flag."""
    departments = (
        select(joined_ids(department_members.c.department_id))
        .where(department_members.c.user_id == User.id)
        .scalar_subquery()
    )
    shared = select(Organization.shared).where(Organization.id == User.organization_id).scalar_subquery()
    return departments, shared


def _actor_of(user: User, departments: str | None, shared: bool | None) -> Actor:
    """The Actor from a row with `_actor_facts`, as `actor_for` builds it."""
    return Actor.for_user(user, organization_shared=bool(shared), department_ids=split_ids(departments))


# --- login throttling ---------------------------------------------------------------------------


def _check_throttle(session: Session, *, account: str, ip: str) -> None:
    """An account is locked only for the client address that guessed at it, so an attacker
    elsewhere cannot lock its owner (an admin) out; an address is limited across all accounts,
    so one client cannot spray passwords either. `ip` is `http.deps.client_ip()`."""
    settings = get_settings()
    since = now() - timedelta(seconds=settings.login_window_seconds)
    failures = select(func.count()).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since, LoginAttempt.ip == ip
    )
    by_account = session.scalar(failures.where(LoginAttempt.account == account)) or 0
    by_ip = session.scalar(failures) or 0
    if by_account >= settings.login_max_failures_per_account or by_ip >= settings.login_max_failures_per_ip:
        raise TooManyRequests(
            "Too many failed sign-in attempts. Try again later.",
            retry_after=settings.login_window_seconds,
        )


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: str


def authenticate(session: Session, *, email: str, password: str, ip: str) -> User:
    """Check the password. Wrong password and unknown account give the same answer in the same
    time; the attempt is recorded either way (InvalidCredentials keeps the unit's changes)."""
    account = email.strip().lower()
    _check_throttle(session, account=account, ip=ip)
    user = session.scalars(select(User).where(func.lower(User.email) == account)).one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(account=account, ip=ip, succeeded=ok))
    session.flush()
    if not ok or user is None:
        raise InvalidCredentials("The e-mail address or password is not right.")
    user.last_login_at = now()
    return user


def login(
    session: Session,
    *,
    email: str,
    password: str,
    ip: str,
    token_name: str = "login",  # noqa: S107 - the token's label
) -> LoginResult:
    """Authenticate and issue a personal API token (shown once), valid as long as a browser
    session would be (`TICKETRY_SESSION_DAYS`)."""
    user = authenticate(session, email=email, password=password, ip=ip)
    expires_at = now() + timedelta(days=get_settings().session_days)
    _, secret = create_token(session, user, name=token_name, expires_at=expires_at)
    return LoginResult(user=user, token=secret)


# --- personal API tokens ------------------------------------------------------------------------


def create_token(
    session: Session,
    user: User,
    *,
    name: str,
    scope: TokenScope = TokenScope.FULL,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token; the secret is returned once and only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(secret),
        prefix=secret[:10],
        scope=scope,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, secret


def create_own_token(
    session: Session, actor: Actor, *, name: str, scope: TokenScope, expires_in_days: int | None
) -> tuple[ApiToken, str]:
    """A personal token of the signed-in user, optionally expiring after some days."""
    user = users.get_user(session, actor.user_id)
    expires_at = now() + timedelta(days=expires_in_days) if expires_in_days else None
    return create_token(session, user, name=name, scope=scope, expires_at=expires_at)


def list_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == actor.user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
    )


def revoke_token(session: Session, actor: Actor, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.user_id or token.revoked_at is not None:
        raise TokenNotFound("No such token.")
    token.revoked_at = now()
    session.flush()


def revoke_secret(session: Session, secret: str) -> None:
    """Logout: the token or session the request came with stops working."""
    digest = _digest(secret)
    stamp = now()
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        .values(revoked_at=stamp)
    )
    session.execute(
        update(WebSession)
        .where(WebSession.session_hash == digest, WebSession.revoked_at.is_(None))
        .values(revoked_at=stamp)
    )


@dataclass(frozen=True)
class TokenGrant:
    """Who a bearer token speaks for, and what it may do."""

    actor: Actor
    scope: TokenScope


def _credential_lookup(
    credential: type[ApiToken] | type[WebSession], digest: Any, *columns: Any
) -> Select[Any]:
    """The active user behind a credential (as `_actor_of` needs them) and the credential's own
    `columns`, by its digest, bound at execution (`:digest`). Built once per kind of credential:
    every request runs one, and building the join with its two correlated subqueries cost more
    than running it on SQLite (0.8 ms of CPU to 0.4 per request)."""
    return (
        select(User, *_actor_facts(), *columns)
        .select_from(credential)
        .join(User, User.id == credential.user_id)
        .where(digest == bindparam("digest"))
    )


@cache
def _token_lookup() -> Select[Any]:
    return _credential_lookup(
        ApiToken, ApiToken.token_hash, ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.scope
    )


def token_grant(session: Session, secret: str) -> TokenGrant | None:
    """The active user behind a live token as an Actor, and the token's scope, in one query."""
    row = session.execute(_token_lookup(), {"digest": _digest(secret)}).one_or_none()
    if row is None:
        return None
    user, departments, shared, token_id, revoked_at, expires_at, scope = row
    stamp = now()
    if revoked_at is not None or (expires_at is not None and expires_at <= stamp) or not user.is_active:
        return None
    _token_usage.add(token_id, stamp)
    return TokenGrant(actor=_actor_of(user, departments, shared), scope=scope)


def flush_token_usage(session: Session) -> None:
    """Write the "last used" times of tokens and browser sessions gathered in memory (see
    `core.buffer`): a request costs no write for them."""
    for token_id, stamp in _token_usage.drain().items():
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=stamp))
    for session_id, stamp in _session_usage.drain().items():
        session.execute(update(WebSession).where(WebSession.id == session_id).values(last_used_at=stamp))


# --- web sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewWebSession:
    secret: str
    csrf_token: str


def _printable(value: str, limit: int) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:limit]


def start_web_session(session: Session, user: User, *, user_agent: str = "", ip: str = "") -> NewWebSession:
    """A fresh session id at every login (no fixation) with its own CSRF token; the browser and
    address are kept for the user's list of where they are signed in."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    stamp = now()
    session.add(
        WebSession(
            user_id=user.id,
            session_hash=_digest(secret),
            csrf_token=csrf,
            created_at=stamp,
            last_used_at=stamp,
            expires_at=stamp + timedelta(days=get_settings().session_days),
            user_agent=_printable(user_agent, 300),
            ip=_printable(ip, 64),
        )
    )
    session.flush()
    return NewWebSession(secret=secret, csrf_token=csrf)


@dataclass(frozen=True)
class SessionGrant:
    """Who a browser session speaks for, and the CSRF token its pages must send back."""

    actor: Actor
    csrf_token: str


@cache
def _session_lookup() -> Select[Any]:
    return _credential_lookup(
        WebSession,
        WebSession.session_hash,
        WebSession.id,
        WebSession.revoked_at,
        WebSession.expires_at,
        WebSession.csrf_token,
    )


def web_session_for(session: Session, secret: str) -> SessionGrant | None:
    """The live browser session behind a cookie, with its active user as an Actor, in one query."""
    row = session.execute(_session_lookup(), {"digest": _digest(secret)}).one_or_none()
    if row is None:
        return None
    user, departments, shared, session_id, revoked_at, expires_at, csrf_token = row
    stamp = now()
    if revoked_at is not None or expires_at <= stamp or not user.is_active:
        return None
    _session_usage.add(session_id, stamp)
    return SessionGrant(actor=_actor_of(user, departments, shared), csrf_token=csrf_token)


def end_web_session(session: Session, secret: str) -> None:
    """Sign out: the session row is revoked, so a copied cookie stops working too."""
    revoke_secret(session, secret)


@dataclass(frozen=True)
class SessionInfo:
    """One place the user is signed in, for their list."""

    id: int
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    user_agent: str
    ip: str
    current: bool


def list_sessions(session: Session, actor: Actor, *, current_secret: str | None) -> list[SessionInfo]:
    """The user's live browser sessions, most recently used first; `current` marks the one the
    request came with. "Last used" lags by the buffer's few seconds."""
    stamp = now()
    rows = session.scalars(
        select(WebSession)
        .where(
            WebSession.user_id == actor.user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > stamp,
        )
        .order_by(WebSession.last_used_at.desc().nulls_last(), WebSession.id.desc())
    )
    current = _digest(current_secret) if current_secret else None
    return [
        SessionInfo(
            id=row.id,
            created_at=row.created_at,
            last_used_at=stamp if row.session_hash == current else row.last_used_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            ip=row.ip,
            current=row.session_hash == current,
        )
        for row in rows
    ]


def revoke_session(session: Session, actor: Actor, session_id: int) -> None:
    """Sign one of the user's own browser sessions out."""
    row = session.get(WebSession, session_id)
    if row is None or row.user_id != actor.user_id or row.revoked_at is not None or row.expires_at <= now():
        raise SessionNotFound("No such session.")
    row.revoked_at = now()
    session.flush()


def revoke_credentials(session: Session, user_id: int, *, keep_secret: str | None = None) -> None:
    """End every browser session and API token of the user, except the one whose secret is
    `keep_secret` (the request that made the change, when the user made it), and spend every
    unused mailed link (password reset, e-mail verification). Permanent: `revoked_at` and
    `used_at` are never cleared, so enabling a disabled user again revives nothing."""
    stamp = now()
    sessions = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    tokens = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if keep_secret:
        kept = _digest(keep_secret)
        sessions = sessions.where(WebSession.session_hash != kept)
        tokens = tokens.where(ApiToken.token_hash != kept)
    session.execute(sessions.values(revoked_at=stamp))
    session.execute(tokens.values(revoked_at=stamp))
    session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.user_id == user_id, OneTimeToken.used_at.is_(None))
        .values(used_at=stamp)
    )


def sign_out_everywhere(session: Session, actor: Actor) -> None:
    """Every session and token of the user ends, the one this request came with too: a copy of
    it (a stolen cookie is the same secret) must die as well."""
    revoke_credentials(session, actor.user_id)


def change_password(
    session: Session, actor: Actor, *, current: str, new: str, keep_secret: str | None
) -> None:
    """Check the current password, set the new one, and revoke every other session and token
    and every mailed link. The credential the change was made with (`keep_secret`: this
    browser's session, or the bearer token of an API call) stays: it just proved the current
    password, so it is as trusted as the new one, and the user is not thrown out of the place
    they are working in."""
    user = session.get(User, actor.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise WrongPassword("The current password is not right.")
    check_new_password(new)
    user.password_hash = hash_password(new)
    revoke_credentials(session, user.id, keep_secret=keep_secret)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            details={"field": "password"},
        )


def purge_expired(session: Session) -> None:
    """Housekeeping: old login attempts, dead sessions, expired mail links and sign-ups."""
    stamp = now()
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < stamp - timedelta(days=1)))
    session.execute(delete(WebSession).where(WebSession.expires_at < stamp))
    session.execute(delete(OneTimeToken).where(OneTimeToken.expires_at < stamp))
    session.execute(delete(Signup).where(Signup.expires_at < stamp))
