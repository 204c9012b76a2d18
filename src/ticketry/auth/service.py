"""Logging in, personal API tokens and web sessions, and resolving the Actor behind them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.auth.errors import InvalidCredentials, TokenNotFound, WrongPassword
from ticketry.auth.models import ApiToken, LoginAttempt, OneTimeToken, WebSession
from ticketry.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from ticketry.core.buffer import Accumulator
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.errors import TooManyRequests, ValidationFailed
from ticketry.users.models import Organization, User, department_members

_token_usage: Accumulator[int, datetime] = Accumulator(max)

TOKEN_PREFIX = "tkt_"  # noqa: S105 - a public marker, not a secret


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def actor_for(session: Session, user: User) -> Actor:
    """Build the Actor of a loaded user: at most one small query (departments, or the
    organization's sharing flag). This runs on every request, so it stays lean."""
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


# --- login throttling ---------------------------------------------------------------------------


def _check_throttle(session: Session, *, account: str, ip: str) -> None:
    settings = get_settings()
    since = now() - timedelta(seconds=settings.login_window_seconds)
    failures = select(func.count()).where(LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)
    by_account = session.scalar(failures.where(LoginAttempt.account == account)) or 0
    by_ip = session.scalar(failures.where(LoginAttempt.ip == ip)) or 0
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
    """Authenticate and issue a personal API token (shown once)."""
    user = authenticate(session, email=email, password=password, ip=ip)
    _, secret = create_token(session, user, name=token_name)
    return LoginResult(user=user, token=secret)


# --- personal API tokens ------------------------------------------------------------------------


def create_token(session: Session, user: User, *, name: str) -> tuple[ApiToken, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_digest(secret), prefix=secret[:10])
    session.add(token)
    session.flush()
    return token, secret


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


def user_for_token(session: Session, secret: str) -> User | None:
    """The active user behind a token, in one query."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(secret))
    ).one_or_none()
    if row is None:
        return None
    token, user = row
    stamp = now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= stamp):
        return None
    if not user.is_active:
        return None
    _token_usage.add(token.id, stamp)
    return user


def flush_token_usage(session: Session) -> None:
    """Write "last used" times gathered in memory (see `core.buffer`)."""
    for token_id, stamp in _token_usage.drain().items():
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=stamp))


# --- web sessions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewWebSession:
    secret: str
    csrf_token: str


def start_web_session(session: Session, user: User) -> NewWebSession:
    """A fresh session id at every login (no fixation) with its own CSRF token."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            user_id=user.id,
            session_hash=_digest(secret),
            csrf_token=csrf,
            expires_at=now() + timedelta(days=get_settings().session_days),
        )
    )
    session.flush()
    return NewWebSession(secret=secret, csrf_token=csrf)


def web_session_for(session: Session, secret: str) -> tuple[User, WebSession] | None:
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.session_hash == _digest(secret))
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or row.expires_at <= now() or not user.is_active:
        return None
    return user, row


def end_web_session(session: Session, secret: str) -> None:
    """Sign out: the session row is revoked, so a copied cookie stops working too."""
    revoke_secret(session, secret)


def change_password(
    session: Session, actor: Actor, *, current: str, new: str, keep_secret: str | None
) -> None:
    """Check the current password, set the new one and end every other browser session."""
    user = session.get(User, actor.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise WrongPassword("The current password is not right.")
    check_new_password(new)
    user.password_hash = hash_password(new)
    others = update(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
    if keep_secret is not None:
        others = others.where(WebSession.session_hash != _digest(keep_secret))
    session.execute(others.values(revoked_at=now()))


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            details={"field": "password"},
        )


def purge_expired(session: Session) -> None:
    """Housekeeping: old login attempts, dead sessions, expired mail links."""
    stamp = now()
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < stamp - timedelta(days=1)))
    session.execute(delete(WebSession).where(WebSession.expires_at < stamp))
    session.execute(delete(OneTimeToken).where(OneTimeToken.expires_at < stamp))
