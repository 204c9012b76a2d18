"""Account mail: password reset and e-mail verification by one-time links (docs/product.md §4).

A link carries 256 random bits; only their SHA-256 is stored, bound to one user and one purpose,
short-lived and single-use (spent with a conditional UPDATE, so two clicks racing spend it once).
Asking for a reset queues a job and nothing else, for known and unknown addresses alike, so neither
the answer nor its timing tells anybody whether an account exists.
"""

from __future__ import annotations

import hashlib
import html
import secrets
from datetime import timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ticketry.auth import events as auth_events
from ticketry.auth.actor import Actor
from ticketry.auth.errors import InvalidOneTimeToken
from ticketry.auth.models import OneTimeToken, Signup
from ticketry.auth.passwords import hash_password
from ticketry.auth.service import check_new_password, revoke_credentials
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.jobs import service as jobs
from ticketry.jobs.registry import job
from ticketry.mail.outbound import compose, ids
from ticketry.mail.outbound import service as mail_out
from ticketry.users import service as users
from ticketry.users.models import User

log = structlog.get_logger(__name__)

PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
EMAIL_VERIFICATION = "email_verification"
LIFETIMES = {PASSWORD_RESET: timedelta(hours=1), EMAIL_VERIFICATION: timedelta(hours=24)}
# At most this many links of one purpose per user per hour; further requests send nothing.
MAX_PER_HOUR = 3
MAX_TOKEN_LENGTH = 200


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _recent_count(session: Session, user_id: int, purpose: str) -> int:
    since = now() - timedelta(hours=1)
    query = select(func.count()).where(
        OneTimeToken.user_id == user_id, OneTimeToken.purpose == purpose, OneTimeToken.created_at >= since
    )
    return session.scalar(query) or 0


def _issue(session: Session, user: User, purpose: str, token_hash: str) -> None:
    stamp = now()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=token_hash,
            created_at=stamp,
            expires_at=stamp + LIFETIMES[purpose],
        )
    )
    session.flush()


def _link(path: str, secret: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}{path}?token={secret}"


def _queue_mail(
    session: Session,
    user: User | None,
    *,
    purpose: str,
    subject: str,
    lines: list[str],
    link: str,
    action: str,
    email: str = "",
) -> None:
    """Text and HTML alternatives of a short account mail with one link; `user=None` for a
    sign-up (to `email`, no account behind it yet). The user's name, text someone chose, is in
    the mail only once the address is proven (issue 12 item 7): until then the greeting and the
    To: header carry nothing but our own words and the address itself."""
    settings = get_settings()
    name = user.name if user is not None and user.email_verified_at is not None else ""
    user_id = user.id if user is not None else None
    try:
        recipient = compose.address(user.email if user is not None else email, name)
    except compose.InvalidAddress:
        log.warning("account_mail.bad_address", user_id=user_id, purpose=purpose)
        return
    greeting = f"Hello {name}," if name else "Hello,"
    text = "\n\n".join([greeting, *lines, f"{action}:\n{link}", "— Ticketry"]) + "\n"
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    body = (
        f"<p>{html.escape(greeting)}</p>{paragraphs}"
        f'<p><a href="{html.escape(link)}">{html.escape(action)}</a></p>'
        f"<p>If the button does not work, copy this address into your browser:<br>{html.escape(link)}</p>"
        "<p>— Ticketry</p>"
    )
    try:
        message = compose.compose(
            sender=compose.parse_from(settings.mail_from),
            to=[recipient],
            subject=subject,
            text=text,
            html=f"<!doctype html><html><body>{body}</body></html>",
            message_id=ids.plain_message_id(ids.domain_of(settings.mail_from)),
        )
    except compose.UnsafeMail as error:
        # Refused by compose's own check: a retried job would build the same mail again.
        log.error("account_mail.unsafe_mail", user_id=user_id, purpose=purpose, error=str(error))
        return
    mail_out.queue(session, message, purpose=purpose, user_id=user_id)


# --- password reset ------------------------------------------------------------------------------


def request_password_reset(session: Session, email: str) -> None:
    """Ask for a reset link (docs/product.md §4). The request only queues a job with the address, so a known
    and an unknown address cost it exactly the same and nothing in the answer or its timing tells
    whether an account exists; the job (`send_password_reset`) decides."""
    jobs.enqueue(session, auth_events.PASSWORD_RESET_REQUESTED({"email": email.strip()[:254]}))


@job(auth_events.PASSWORD_RESET_REQUESTED)
def _reset_requested(session: Session, payload: auth_events.PasswordResetRequested) -> None:
    send_password_reset(session, payload["email"])


def send_password_reset(session: Session, email: str) -> None:
    """Mail a reset link to the active user with this address, if any; earlier unused links stop
    working. At most MAX_PER_HOUR an hour; further requests send nothing."""
    user = users.find_user_by_email(session, email)
    if user is None or not user.is_active:
        return
    if _recent_count(session, user.id, PASSWORD_RESET) >= MAX_PER_HOUR:
        log.info("password_reset.capped", user_id=user.id)
        return
    session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == PASSWORD_RESET,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now())
    )
    secret = secrets.token_urlsafe(32)
    _issue(session, user, PASSWORD_RESET, _digest(secret))
    _queue_mail(
        session,
        user,
        purpose=PASSWORD_RESET,
        subject="Reset your Ticketry password",
        lines=[
            "Someone (we hope you) asked to reset the password of your Ticketry account.",
            "The link works once, for one hour. If you did not ask, ignore this mail: "
            "your password stays as it is.",
        ],
        link=_link("/password/reset", secret),
        action="Choose a new password",
    )


def _usable(session: Session, secret: str, purpose: str) -> tuple[OneTimeToken, User] | None:
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    found = session.execute(
        select(OneTimeToken, User)
        .join(User, User.id == OneTimeToken.user_id)
        .where(OneTimeToken.token_hash == _digest(secret))
    ).one_or_none()
    if found is None:
        return None
    token, user = found
    if token.purpose != purpose or token.used_at is not None or token.expires_at <= now():
        return None
    if not user.is_active:
        return None
    return token, user


def _spend(session: Session, secret: str, purpose: str) -> User:
    """The token's user; the token is used up. Refused the same way whatever is wrong with it."""
    found = _usable(session, secret, purpose)
    if found is None:
        raise InvalidOneTimeToken("This link is invalid or has expired. Ask for a new one.")
    token, user = found
    spent = session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == token.id, OneTimeToken.used_at.is_(None))
        .values(used_at=now())
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:  # a concurrent click spent it first
        raise InvalidOneTimeToken("This link is invalid or has expired. Ask for a new one.")
    return user


def reset_token_is_valid(session: Session, secret: str) -> bool:
    """For the reset page: show the form, or say the link is dead (nothing is spent)."""
    return _usable(session, secret, PASSWORD_RESET) is not None


def reset_password(session: Session, secret: str, *, new_password: str) -> User:
    """Set a new password from a reset link. Every browser session and API token of the user
    ends: whoever knew the old password, or stole a session, is out. Following the link also
    proves the address."""
    if not reset_token_is_valid(session, secret):
        raise InvalidOneTimeToken("This link is invalid or has expired. Ask for a new one.")
    check_new_password(new_password)
    user = _spend(session, secret, PASSWORD_RESET)
    user.password_hash = hash_password(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = now()
    revoke_credentials(session, user.id)
    session.flush()
    return user


# --- e-mail verification -------------------------------------------------------------------------


def send_verification(session: Session, user: User) -> None:
    """Mail a link that proves the address (after sign-up, and on "send it again"). Nothing is
    sent for an address already verified, or past the hourly cap."""
    if user.email_verified_at is not None or not user.is_active:
        return
    if _recent_count(session, user.id, EMAIL_VERIFICATION) >= MAX_PER_HOUR:
        log.info("email_verification.capped", user_id=user.id)
        return
    secret = secrets.token_urlsafe(32)
    _issue(session, user, EMAIL_VERIFICATION, _digest(secret))
    _queue_mail(
        session,
        user,
        purpose=EMAIL_VERIFICATION,
        subject="Confirm your e-mail address for Ticketry",
        lines=[
            f"Please confirm that {user.email} is your address, so that we can reach you about your tickets.",
            "The link works for 24 hours.",
        ],
        link=_link("/verify-email", secret),
        action="Confirm my address",
    )


def resend_verification(session: Session, actor: Actor) -> None:
    send_verification(session, users.get_user(session, actor.user_id))


def verify_email(session: Session, secret: str) -> User:
    user = _spend(session, secret, EMAIL_VERIFICATION)
    if user.email_verified_at is None:
        user.email_verified_at = now()
    session.flush()
    return user


def forget_address_proofs(session: Session, user: User) -> None:
    """The address changed: it is unverified again, no link sent to the old one works, and the
    old address's bounces no longer count against the new one."""
    user.email_verified_at = None
    user.email_undeliverable_at = None
    user.email_undeliverable_reason = ""
    session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.user_id == user.id, OneTimeToken.used_at.is_(None))
        .values(used_at=now())
    )


# --- sign-up (auth.signup) -----------------------------------------------------------------------

SIGNUP = "signup"
SIGNUP_EXISTING = "signup_existing"


@job(auth_events.SIGNUP_REQUESTED)
def _signup_requested(session: Session, payload: auth_events.SignupRequested) -> None:
    send_signup_mail(session, payload["signup_id"])


def send_signup_mail(session: Session, signup_id: int) -> None:
    """What a sign-up mails, decided here and not in the request (so neither its answer nor its
    timing tells whether the address has an account): to a new address, the link that finishes
    the sign-up; to an address with an active account, a note to its owner. Only fixed words:
    the request carried nothing but the address. At most MAX_PER_HOUR an hour per address; a
    handled sign-up is not mailed twice."""
    signup = session.get(Signup, signup_id)
    if signup is None or signup.mailed_at is not None or signup.used_at is not None:
        return
    stamp = now()
    since = stamp - timedelta(hours=1)
    recent = session.scalar(
        select(func.count()).where(Signup.email == signup.email, Signup.mailed_at >= since)
    )
    if (recent or 0) >= MAX_PER_HOUR:
        log.info("signup.capped", signup_id=signup.id)
        signup.used_at = stamp
        return
    signup.mailed_at = stamp
    user = users.find_user_by_email(session, signup.email)
    if user is not None:
        signup.used_at = stamp  # nothing to finish: the address has its account
        if user.is_active:
            _queue_mail(
                session,
                user,
                purpose=SIGNUP_EXISTING,
                subject="You already have a Ticketry account",
                lines=[
                    "Someone (perhaps you) tried to create a new Ticketry account for this address, "
                    "which already has one.",
                    "If it was you, sign in, or choose a new password if you do not remember it. "
                    "If it was not you, ignore this mail: nothing was changed.",
                ],
                link=f"{get_settings().public_url.rstrip('/')}/password/forgot",
                action="Reset my password",
            )
        return
    secret = secrets.token_urlsafe(32)
    signup.token_hash = _digest(secret)
    _queue_mail(
        session,
        None,
        email=signup.email,
        purpose=SIGNUP,
        subject="Finish creating your Ticketry account",
        lines=[
            "Someone (we hope you) asked to create a Ticketry account for this address.",
            "Follow the link within 24 hours to choose your name and password. If it was not you, "
            "ignore this mail: no account is created.",
        ],
        link=_link("/signup/finish", secret),
        action="Finish creating my account",
    )
