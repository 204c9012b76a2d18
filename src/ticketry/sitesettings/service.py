"""Reading and changing the runtime site settings (issue: admin settings).

`current()` is on the ticket-creation path: one primary-key lookup, no permission check (every
caller may know the prefix and whether sign-up is open). Changing needs `admin:settings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core import memo
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import upsert
from ticketry.sitesettings.errors import (
    InvalidMailSetting,
    InvalidRetention,
    InvalidTicketPrefix,
    SignupClosed,
)
from ticketry.sitesettings.models import SINGLE_ROW_ID, SiteSettings

MAX_RETENTION_DAYS = 36500
PREFIX_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
_table: Table = SiteSettings.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class EffectiveSettings:
    """What applies now: the stored value where an admin set one, else the environment's."""

    ticket_prefix: str
    allow_signup: bool
    attachment_retention_days: int
    default_ticket_prefix: str
    default_allow_signup: bool
    default_attachment_retention_days: int
    updated_at: datetime | None
    # incoming mail: sender lists (one address or @domain per line) and the spam score threshold
    mail_deny_senders: str = ""
    mail_allow_senders: str = ""
    mail_spam_score: float | None = None
    # Agents may create tags by typing new ones (admins always may).
    agents_create_tags: bool = True


_MEMO = "ticketry.site_settings"


def current(session: Session) -> EffectiveSettings:
    """Read once per session (one transaction) and once per batch of jobs (`core.memo`): a site
    that never saved its settings has no row, and a primary-key lookup that finds nothing is not
    remembered by the session itself."""
    found: EffectiveSettings | None = session.info.get(_MEMO)
    if found is None:
        found = session.info[_MEMO] = memo.remembered(_MEMO, lambda: _read(session))
    return found


def _read(session: Session) -> EffectiveSettings:
    defaults = get_settings()
    row = session.get(SiteSettings, SINGLE_ROW_ID)
    stored_prefix = row.ticket_prefix if row is not None else None
    stored_signup = row.allow_signup if row is not None else None
    stored_retention = row.attachment_retention_days if row is not None else None
    return EffectiveSettings(
        ticket_prefix=stored_prefix if stored_prefix is not None else defaults.ticket_prefix,
        allow_signup=stored_signup if stored_signup is not None else defaults.allow_signup,
        attachment_retention_days=(
            stored_retention if stored_retention is not None else defaults.attachment_retention_days
        ),
        default_ticket_prefix=defaults.ticket_prefix,
        default_allow_signup=defaults.allow_signup,
        default_attachment_retention_days=defaults.attachment_retention_days,
        updated_at=row.updated_at if row is not None else None,
        mail_deny_senders=(row.mail_deny_senders or "") if row is not None else "",
        mail_allow_senders=(row.mail_allow_senders or "") if row is not None else "",
        mail_spam_score=row.mail_spam_score if row is not None else None,
        agents_create_tags=row.agents_create_tags is not False if row is not None else True,
    )


def read(session: Session, actor: Actor) -> EffectiveSettings:
    """The settings page and `GET /admin/settings`."""
    require(actor, Permission.ADMIN_SETTINGS)
    return current(session)


def require_signup_open(session: Session) -> None:
    """Customers may create their own accounts only while sign-up is on."""
    if not current(session).allow_signup:
        raise SignupClosed("Sign-up is turned off. Ask the help desk for an account.")


def normalize_prefix(value: str) -> str:
    prefix = value.strip().upper()
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise InvalidTicketPrefix(
            "The ticket prefix must be 1 to 10 letters or digits and start with a letter (e.g. TICK).",
            details={"ticketPrefix": value},
        )
    return prefix


class Unset:
    """No value given (where None itself is a value: "no spam threshold")."""


UNSET = Unset()


def update(
    session: Session,
    actor: Actor,
    *,
    ticket_prefix: str | None = None,
    allow_signup: bool | None = None,
    attachment_retention_days: int | None = None,
    mail_deny_senders: str | None = None,
    mail_allow_senders: str | None = None,
    mail_spam_score: float | Unset | None = UNSET,
    agents_create_tags: bool | None = None,
) -> EffectiveSettings:
    """Change what is given; `None` keeps the current value. Numbers already issued keep theirs:
    the per-year sequence is shared by every prefix, so no number is ever issued twice."""
    require(actor, Permission.ADMIN_SETTINGS)
    prefix = normalize_prefix(ticket_prefix) if ticket_prefix is not None else None
    row = _row_for_update(session)
    if prefix is not None:
        row.ticket_prefix = prefix
    if allow_signup is not None:
        row.allow_signup = allow_signup
    if agents_create_tags is not None:
        row.agents_create_tags = agents_create_tags
    if attachment_retention_days is not None:
        if not 0 <= attachment_retention_days <= MAX_RETENTION_DAYS:
            raise InvalidRetention(
                f"Keep deleted files between 0 and {MAX_RETENTION_DAYS} days.",
                details={"attachmentRetentionDays": attachment_retention_days},
            )
        row.attachment_retention_days = attachment_retention_days
    if mail_deny_senders is not None:
        row.mail_deny_senders = _sender_list(mail_deny_senders, "mailDenySenders")
    if mail_allow_senders is not None:
        row.mail_allow_senders = _sender_list(mail_allow_senders, "mailAllowSenders")
    if not isinstance(mail_spam_score, Unset):
        if mail_spam_score is not None and not -1000 <= mail_spam_score <= 1000:
            raise InvalidMailSetting(
                "The spam score must be between -1000 and 1000.", details={"mailSpamScore": mail_spam_score}
            )
        row.mail_spam_score = mail_spam_score
    row.updated_at = now()
    row.updated_by_id = actor.user_id
    session.flush()
    session.info.pop(_MEMO, None)
    memo.forget(_MEMO)
    return current(session)


_SENDER_ENTRY = re.compile(r"^(@?[a-z0-9.-]+\.[a-z]{2,63}|[^@\s]+@[a-z0-9.-]+\.[a-z]{2,63})$")
MAX_SENDER_ENTRIES = 1000


def _sender_list(text: str, field: str) -> str:
    """One address or domain per line, normalised; anything else is refused, naming the entry."""
    entries = [entry for entry in re.split(r"[\s,;]+", text.lower()) if entry]
    bad = [entry for entry in entries if not _SENDER_ENTRY.match(entry)]
    if bad:
        raise InvalidMailSetting(
            f"Not an address or domain: {bad[0][:100]}. Write one address (a@example.com) or domain "
            "(example.com or @example.com) per line.",
            details={field: bad[0][:100]},
        )
    if len(entries) > MAX_SENDER_ENTRIES:
        raise InvalidMailSetting(f"At most {MAX_SENDER_ENTRIES} entries.", details={field: len(entries)})
    return "\n".join(dict.fromkeys(entries))


def _row_for_update(session: Session) -> SiteSettings:
    """The row, created on first use; two admins saving at once both land on the same row."""
    statement = upsert(session, _table).values(id=SINGLE_ROW_ID)
    session.execute(statement.on_conflict_do_nothing(index_elements=["id"]))
    row = session.get(SiteSettings, SINGLE_ROW_ID, with_for_update=True, populate_existing=True)
    assert row is not None  # inserted just above
    return row
