"""What a delivery report (RFC 3464) about mail we sent changes: the mail is marked failed, its
ticket gets a staff-only history entry, and the address is marked undeliverable so notifications
stop going to it until it is changed (issue 5 part 3). Reading the report is `bounces.py`'s."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.history import service as history
from ticketry.history.models import Change
from ticketry.mail.inbound.parse import ParsedMail
from ticketry.mail.outbound import ids
from ticketry.mail.outbound.models import Direction, MailLog, MailStatus
from ticketry.tickets.models import Ticket
from ticketry.users import service as users

log = structlog.get_logger(__name__)


def record_bounce(session: Session, entry: MailLog, mail: ParsedMail) -> None:
    """Find the mail that bounced, note it on its ticket, and mark each failed address."""
    report = mail.report
    entry.status = MailStatus.BOUNCE
    if report is None:
        entry.reason = "A delivery report we could not read."
        return
    original: MailLog | None = None
    if report.original_message_id:
        original = session.scalars(
            select(MailLog)
            .where(
                MailLog.message_id_header == report.original_message_id,
                MailLog.direction == Direction.OUTBOUND,
            )
            .order_by(MailLog.id.desc())
            .limit(1)
        ).one_or_none()
    ticket_id = original.ticket_id if original is not None else None
    if ticket_id is None and report.original_message_id:
        named = ids.ticket_in_message_id(get_settings().secret_key, report.original_message_id)
        ticket_id = named[0] if named else None
    diagnostic = report.diagnostic[:500] or "no reason given"
    # Anyone can write a delivery report. Only one about a mail we really sent to that very
    # address can mark it undeliverable, or a forged report could silence a customer's mail.
    sent_to = {address.strip().lower() for address in original.recipients.split(",")} if original else set()
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
    if ticket_id is not None and session.get(Ticket, ticket_id) is not None:
        entry.ticket_id = ticket_id
        recipients = ", ".join(report.failed_recipients) or "the recipient"
        history.record(
            session,
            ticket_id,
            None,
            [Change("mail_bounced", None, f"{recipients}: {diagnostic}", internal=True)],
        )
    entry.reason = (
        f"Delivery to {', '.join(report.failed_recipients) or 'an unnamed recipient'} failed: {diagnostic}."
        + (f" Marked undeliverable: {', '.join(marked)}." if marked else "")
    )[:2000]
    log.info("mail.bounce", mail_log_id=entry.id, ticket_id=ticket_id, undeliverable=marked)
