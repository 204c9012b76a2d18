"""What a delivery report (RFC 3464) about mail we sent changes (issue 5 part 3). A failure: the
mail is marked failed, its ticket gets a staff-only "bounced" history entry, and the address is
marked undeliverable so notifications stop going to it until it is changed. A delay (issue 14
A.2: `Action: delayed`, 4.x.x, the server keeps trying): the mail stays sent, its log entry and
the ticket's history say delivery is delayed, and nothing is marked. Reading the report is
`bounces.py`'s."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.history.models import Change
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.mailparse.bounces import DeliveryReport
from ticketry.mailparse.parse import ParsedMail
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets.models import Ticket
from ticketry.users import service as users

log = structlog.get_logger(__name__)


def record_bounce(session: Session, entry: MailLog, mail: ParsedMail) -> None:
    """Find the mail the report is about, note the failure or the delay on its ticket, and mark
    each address that failed."""
    report = mail.report
    entry.status = MailStatus.BOUNCE
    if report is None:
        entry.reason = "A delivery report we could not read."
        return
    original = _original(session, report)
    ticket_id = original.ticket_id if original is not None else None
    if ticket_id is None and report.original_message_id:
        named = ids.ticket_in_message_id(get_settings().secret_key, report.original_message_id)
        ticket_id = named[0] if named else None
    if ticket_id is not None and session.get(Ticket, ticket_id) is None:
        ticket_id = None
    entry.ticket_id = ticket_id
    reasons = []
    if report.failed:
        reasons.append(_failure(session, report, original, ticket_id))
    if report.delayed_recipients:
        reasons.append(_delay(session, entry, report, original, ticket_id, alone=not report.failed))
    if not reasons:
        reasons.append("A delivery report that names no failure or delay: nothing was changed.")
    entry.reason = " ".join(reasons)[:2000]
    log.info(
        "mail.bounce",
        mail_log_id=entry.id,
        ticket_id=ticket_id,
        failed=report.failed,
        delayed=list(report.delayed_recipients),
    )


def _original(session: Session, report: DeliveryReport) -> MailLog | None:
    if not report.original_message_id:
        return None
    return session.scalars(
        select(MailLog)
        .where(
            MailLog.message_id_header == report.original_message_id,
            MailLog.direction == Direction.OUTBOUND,
        )
        .order_by(MailLog.id.desc())
        .limit(1)
    ).one_or_none()


def _failure(
    session: Session, report: DeliveryReport, original: MailLog | None, ticket_id: int | None
) -> str:
    diagnostic = report.diagnostic[:500] or "no reason given"
    # Anyone can write a delivery report. Only one about a mail we really sent to that very
    # address can mark it undeliverable, or a forged report could silence a customer's mail.
    sent_to = _recipients(original)
    marked = []
    for address in report.failed_recipients:
        user = users.find_user_by_email(session, address)
        if user is not None and original is not None and address.lower() in sent_to:
            user.email_undeliverable_at = now()
            user.email_undeliverable_reason = diagnostic
            marked.append(address)
    if original is not None:
        original.status = MailStatus.FAILED
        original.reason = f"Bounced after delivery: {diagnostic}"[:2000]
        original.updated_at = now()
    if ticket_id is not None:
        recipients = ", ".join(report.failed_recipients) or "the recipient"
        noted = Change("mail_bounced", None, f"{recipients}: {diagnostic}", internal=True)
        ticket_changes.aside(session, None, ticket_id, [noted])
    log.info("mail.bounce.failed", ticket_id=ticket_id, undeliverable=marked)
    return (
        f"Delivery to {', '.join(report.failed_recipients) or 'an unnamed recipient'} failed: {diagnostic}."
        + (f" Marked undeliverable: {', '.join(marked)}." if marked else "")
    )


def _delay(
    session: Session,
    entry: MailLog,
    report: DeliveryReport,
    original: MailLog | None,
    ticket_id: int | None,
    *,
    alone: bool,
) -> str:
    """A delay fails nothing: the receiving side keeps trying, and a failure, if it comes, comes
    as a report of its own. Our mail keeps its status; its reason names the delay."""
    diagnostic = report.delay_diagnostic[:500] or "no reason given"
    recipients = ", ".join(report.delayed_recipients)
    delay = f"Delivery delayed (report in mail {entry.id}): {recipients}: {diagnostic}"
    if original is not None and not alone:
        original.reason = f"{original.reason} {delay}"[:2000]  # beside the failure just written
    elif original is not None and original.status is not MailStatus.FAILED:
        original.reason = delay[:2000]
        original.updated_at = now()
    if ticket_id is not None:
        noted = Change("mail_delayed", None, f"{recipients}: {diagnostic}", internal=True)
        ticket_changes.aside(session, None, ticket_id, [noted])
    return f"Delivery to {recipients} is delayed (the receiving server keeps trying): {diagnostic}."


def _recipients(original: MailLog | None) -> set[str]:
    if original is None:
        return set()
    return {address.strip().lower() for address in original.recipients.split(",")}
