"""Customers signing themselves up (docs/product.md §1; issue 12 item 7).

A sign-up asks only for an address. The request stores it and queues a job, the same for a new
address and for one that has an account, so neither the answer nor its timing tells them apart;
the job (`auth.mail.send_signup_mail`) mails the new address a link, or the existing account's
owner a note. The account is created when the link is followed and a name and password chosen:
until someone proves the address nothing exists that could sign in (which would tell that the
address was free), squat the address, or make us mail words someone chose to a stranger.

Sign-ups are limited per client address and in all within a window (429 with Retry-After).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ticketry.auth import events as auth_events
from ticketry.auth import mail as account_mail
from ticketry.auth.errors import AccountExists, InvalidOneTimeToken
from ticketry.auth.models import Signup
from ticketry.auth.passwords import hash_password
from ticketry.auth.service import check_new_password
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.errors import TooManyRequests, ValidationFailed
from ticketry.jobs import service as jobs
from ticketry.users import service as users
from ticketry.users.models import Role, User

LIFETIME = timedelta(hours=24)
MAX_TOKEN_LENGTH = account_mail.MAX_TOKEN_LENGTH
DEAD_LINK = "This link is invalid or has expired. Sign up again to get a new one."


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_address(email: str) -> str:
    email = users.normalize_email(email)
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or len(email) > 254
        or any(not ch.isprintable() or ch.isspace() for ch in email)
    ):
        raise ValidationFailed("Enter a valid e-mail address.", details={"field": "email"})
    return email


def _retry_after(oldest: datetime | None, window: timedelta, stamp: datetime) -> int:
    """Seconds until the oldest counted sign-up leaves the window (at least one)."""
    if oldest is None:
        return int(window.total_seconds())
    return max(1, int((oldest + window - stamp).total_seconds()) + 1)


def _check_rate(session: Session, *, ip: str, stamp: datetime) -> None:
    settings = get_settings()
    window = timedelta(seconds=settings.signup_window_seconds)
    counted = select(func.count(), func.min(Signup.created_at)).where(Signup.created_at >= stamp - window)
    here, oldest_here = session.execute(counted.where(Signup.ip == ip)).one()
    if here >= settings.signup_max_per_ip:
        raise TooManyRequests(
            "Too many sign-ups from your network. Try again later.",
            retry_after=_retry_after(oldest_here, window, stamp),
        )
    total, oldest = session.execute(counted).one()
    if total >= settings.signup_max_total:
        raise TooManyRequests(
            "Too many sign-ups right now. Try again later.", retry_after=_retry_after(oldest, window, stamp)
        )


def request_signup(session: Session, *, email: str, ip: str) -> None:
    """Accept a sign-up for `email` from the client address `ip` (`http.deps.client_ip`). The
    same work whether or not the address has an account; the job decides what to mail."""
    address = _check_address(email)
    stamp = now()
    _check_rate(session, ip=ip, stamp=stamp)
    window = timedelta(seconds=get_settings().signup_window_seconds)
    signup = Signup(email=address, ip=ip[:64], created_at=stamp, expires_at=stamp + max(LIFETIME, window))
    session.add(signup)
    session.flush()
    jobs.enqueue(session, auth_events.SIGNUP_REQUESTED({"signup_id": signup.id}))


def _pending(session: Session, secret: str) -> Signup | None:
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    signup = session.scalars(select(Signup).where(Signup.token_hash == _digest(secret))).one_or_none()
    if signup is None or signup.used_at is not None or signup.created_at + LIFETIME <= now():
        return None
    return signup


def pending_address(session: Session, secret: str) -> str | None:
    """For the finishing page: the address the link was mailed to, or None if the link is dead
    (nothing is spent by looking)."""
    signup = _pending(session, secret)
    return signup.email if signup is not None else None


def finish_signup(session: Session, secret: str, *, name: str, password: str) -> User:
    """Create the customer account the mailed link was for, with a proven address. Every other
    pending sign-up for the address dies."""
    signup = _pending(session, secret)
    if signup is None:
        raise InvalidOneTimeToken(DEAD_LINK)
    name = " ".join(name.split())
    if not name or len(name) > 200 or not name.isprintable():
        raise ValidationFailed("Enter your name (at most 200 characters).", details={"field": "name"})
    check_new_password(password)
    if users.find_user_by_email(session, signup.email) is not None:
        raise AccountExists(
            "This address has an account already. Sign in, or reset its password if you forgot it.",
            details={"field": "email"},
        )
    stamp = now()
    spent = session.execute(
        update(Signup)
        .where(Signup.email == signup.email, Signup.used_at.is_(None))
        .values(used_at=stamp)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) < 1:  # a concurrent click finished it first
        raise InvalidOneTimeToken(DEAD_LINK)
    user = users.create_user(
        session, email=signup.email, name=name, role=Role.CUSTOMER, password_hash=hash_password(password)
    )
    user.email_verified_at = stamp
    session.flush()
    return user
