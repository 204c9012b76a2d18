"""Which ticket a mail belongs to (issue 5 part 4), in the order of how much each clue proves:

1. one of our own signed Message-IDs in In-Reply-To / References (an HMAC names the ticket);
2. any Message-ID the ticket's mail already had (the mail log of both directions);
3. a signed per-ticket reply address (`support+t42.<hmac>@…`) in To, Cc or the delivery headers;
4. a ticket number in the subject, believed only from the requester, someone who already wrote
   on the ticket, or staff: anyone can type a number, so a stranger's mail with a number in its
   subject opens a ticket of its own.

A clue that names a deleted ticket is passed over; one that names a merged ticket leads to the
ticket it was merged into, if the sender may read that one: another customer's mail would
otherwise show up in a stranger's conversation (it stays with the closed duplicate, and so
opens a follow-up). Headers are read only through `ParsedMail`;
nothing we might have set ourselves (`X-Ticketry-*`) is ever trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketry.auth import service as auth_service
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.mailparse.parse import ParsedMail
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets
from ticketry.users.models import User

TICKET_NUMBER = re.compile(r"\b([A-Z][A-Z0-9]{0,9}-\d{4}-\d{4,10})\b")
MAX_REFERENCES = 50
MAX_MERGE_HOPS = 5


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    how: str  # for the mail log: "signed Message-ID", "stored Message-ID", …


def find_ticket(session: Session, mail: ParsedMail, *, secret: str, sender: User | None) -> Match | None:
    """The ticket the mail belongs to; a merged ticket's mail lands on the one it was merged into."""
    match = _find(session, mail, secret=secret, sender=sender)
    return _follow_merges(session, match, sender) if match is not None else None


def _follow_merges(session: Session, match: Match, sender: User | None) -> Match:
    """Follow `merged_into_id` a few hops (merges do not chain, but a loop must not hang us),
    only to tickets the sender can read: a merge must not route one customer's mail into another
    customer's conversation (a new sender reads nothing yet)."""
    reader = auth_service.actor_for(session, sender) if sender is not None and sender.is_active else None
    ticket, seen = match.ticket, {match.ticket.id}
    for _ in range(MAX_MERGE_HOPS):
        target = _live(session, ticket.merged_into_id)
        if target is None or target.id in seen or reader is None:
            break
        readable = readable_tickets(reader).with_only_columns(Ticket.id).where(Ticket.id == target.id)
        if session.scalar(readable) is None:
            break
        ticket = target
        seen.add(ticket.id)
    if ticket is match.ticket:
        return match
    return Match(ticket, f"{match.how}, on {match.ticket.number} which was merged into {ticket.number}")


def referenced(mail: ParsedMail) -> list[str]:
    """The Message-IDs a mail answers, the nearest first (In-Reply-To, then References from the
    newest), at most MAX_REFERENCES."""
    return [*mail.in_reply_to, *reversed(mail.references)][:MAX_REFERENCES]


def waiting_original(session: Session, mail: ParsedMail, *, before: int) -> int | None:
    """An earlier inbound mail (log id below `before`) that this one answers and that is still
    waiting to be ingested: two workers took them at the same moment."""
    answered = referenced(mail)
    if not answered:
        return None
    return session.scalar(
        select(MailLog.id)
        .where(
            MailLog.direction == Direction.INBOUND,
            MailLog.status == MailStatus.RECEIVED,
            MailLog.message_id_header.in_(answered),
            MailLog.id < before,
        )
        .limit(1)
    )


def _find(session: Session, mail: ParsedMail, *, secret: str, sender: User | None) -> Match | None:
    referenced_ids = referenced(mail)
    for value in referenced_ids:
        named = ids.ticket_in_message_id(secret, value)
        ticket = _live(session, named[0]) if named else None
        if ticket is not None:
            return Match(ticket, "our signed Message-ID in the reply headers")
    if referenced_ids:
        ticket_id = session.scalar(
            select(MailLog.ticket_id)
            .where(MailLog.message_id_header.in_(referenced_ids), MailLog.ticket_id.is_not(None))
            .order_by(MailLog.id.desc())
            .limit(1)
        )
        ticket = _live(session, ticket_id)
        if ticket is not None:
            return Match(ticket, "a Message-ID the ticket's mail already had")
    for address in (*mail.to, *mail.cc, *mail.delivered_to):
        ticket = _live(session, ids.ticket_in_reply_address(secret, address))
        if ticket is not None:
            return Match(ticket, "the ticket's signed reply address")
    for number in TICKET_NUMBER.findall(mail.subject.upper()):
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one_or_none()
        if (
            ticket is not None
            and ticket.deleted_at is None
            and sender is not None
            and _involved(session, ticket, sender)
        ):
            return Match(ticket, f"the ticket number {number} in the subject, from someone on the ticket")
    return None


def _live(session: Session, ticket_id: int | None) -> Ticket | None:
    if ticket_id is None:
        return None
    ticket = session.get(Ticket, ticket_id)
    return ticket if ticket is not None and ticket.deleted_at is None else None


def _involved(session: Session, ticket: Ticket, user: User) -> bool:
    """The requester, staff, or someone who already has a message on the ticket. A message that a
    merge or split brought from another ticket does not count: a merge would otherwise let the
    duplicate's customer write into the primary's conversation by typing its number."""
    if not user.is_active:
        return False
    if ticket.customer_id == user.id or user.role.is_staff:
        return True
    wrote = session.scalar(
        select(Message.id)
        .where(
            Message.ticket_id == ticket.id,
            Message.author_id == user.id,
            Message.moved_from_ticket_id.is_(None),
        )
        .limit(1)
    )
    return wrote is not None
