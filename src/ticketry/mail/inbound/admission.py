"""Whether a mail may speak for the person it names, on the ticket it names (docs/product.md §4: "a mail
acts for a person only as far as it is authenticated").

Three answers:

- **post**: it joins the conversation as its sender (a customer's reply, a new ticket, an
  agent's note by mail);
- **hold the message**: it reaches the ticket, but as a staff-only "held" message an agent may
  accept into the conversation: mail from someone who is not a participant (the "ticket trick":
  a stranger's mail to the ticket's reply address, or quoting a Message-ID of the ticket), and
  mail whose sender a trusted server says is forged;
- **hold the mail**: nothing is posted; the mail waits in the log for an admin to release it.
  Staff without proof (acting as staff by mail needs the person's own signed reply address and,
  by default, a passing trusted result), and a forged sender opening a new ticket in someone
  else's name.

The proof is `identity.authenticate` (trusted `Authentication-Results`) plus the signed reply
address, which names the ticket *and* the person it was written to (`ids.reply_tag`).
Strictness is configurable (`TICKETRY_MAIL_CUSTOMER_AUTH`, `TICKETRY_MAIL_STAFF_AUTH`); an admin's
release skips every check (they vouch for the mail).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ticketry.core.config import Settings
from ticketry.mail.inbound import matching
from ticketry.mail.inbound.identity import Authentication, Proof, authenticate
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.mail.outbound.addresses import is_unattended
from ticketry.mailparse.parse import ParsedMail
from ticketry.messages.models import Message
from ticketry.tickets import participants
from ticketry.tickets.errors import InvalidParticipant
from ticketry.tickets.models import ParticipantRole, Ticket
from ticketry.users import service as users
from ticketry.users.models import Role, User


class Admission(enum.StrEnum):
    POST = "post"
    HOLD_MESSAGE = "hold_message"
    HOLD_MAIL = "hold_mail"


@dataclass(frozen=True)
class Decision:
    admission: Admission
    reason: str  # for people: the mail log, the held message's banner
    authentication: Authentication

    @property
    def posts(self) -> bool:
        return self.admission is Admission.POST


def trusted_servers(settings: Settings) -> list[str]:
    return [part.strip() for part in settings.mail_trusted_authserv_ids.split(",") if part.strip()]


def decide(
    session: Session,
    mail: ParsedMail,
    settings: Settings,
    *,
    sender: User | None,
    ticket: Ticket | None,
    vouched: bool = False,
) -> Decision:
    """`ticket` is the open ticket the mail threads onto (None: it would open a new ticket).
    `vouched`: an admin released this very decision's hold (never a spam or loop release)."""
    proof = authenticate(mail, trusted_servers(settings))
    if vouched:
        return Decision(Admission.POST, "Released by an admin.", proof)
    if sender is not None and sender.role.is_staff:
        return _staff(mail, settings, proof, sender, ticket)
    checked = _customer_proof(settings, proof)
    if ticket is None:
        if checked:
            return Decision(
                Admission.HOLD_MAIL, f"{checked} A new ticket in their name waits for review.", proof
            )
        return Decision(Admission.POST, "", proof)
    role = participants.role_of(session, ticket, sender) if sender is not None else None
    who = sender.email if sender is not None else mail.from_address
    if sender is None or role is None:
        return _hold(f"{who} is not a participant of {ticket.number}", proof)
    if checked:
        return _hold(checked, proof)
    known = _answers_ticket_mail(session, mail, settings, ticket)
    if role == ParticipantRole.CC.value and not known:
        # Copied in by the customer: a person answering the thread quotes its mail; a service
        # mailing the ticket's address (a sign-up code: the ticket trick) does not.
        return _hold(
            f"{who} was copied in by the customer, but this mail answers none of the ticket's mail", proof
        )
    proven = (
        proof.proof is Proof.PASS or known or _own_reply_address(mail, settings, sender, ticket, legacy=True)
    )
    if settings.mail_customer_auth == "proof" and not proven:
        return _hold(
            f"Nothing but the ticket number in the subject ties this mail to {ticket.number}, and anyone "
            f"can write From: {who}",
            proof,
        )
    return Decision(Admission.POST, "", proof)


def _hold(why: str, proof: Authentication) -> Decision:
    return Decision(
        Admission.HOLD_MESSAGE,
        f"{why.rstrip('.')}: held for an agent to accept, never shown to the customer until then.",
        proof,
    )


def _customer_proof(settings: Settings, proof: Authentication) -> str:
    """Why the sender's address cannot be believed under the configured strictness ('' if it can)."""
    policy = settings.mail_customer_auth
    if policy == "none":
        return ""
    if proof.proof is Proof.FAIL:
        return f"The sender's address failed authentication: {proof.detail}."
    if policy == "pass" and proof.proof is not Proof.PASS:
        return f"The sender's address is not proven by a trusted mail server ({proof.detail})."
    return ""


def _answers_ticket_mail(session: Session, mail: ParsedMail, settings: Settings, ticket: Ticket) -> bool:
    """Whether the mail quotes a Message-ID of the ticket's own mail (ours, signed, or one that
    joined its conversation): what a reply in the thread does, and a stranger can hardly know."""
    referenced = matching.referenced(mail)
    if not referenced:
        return False
    tickets = _thread_of(session, ticket)
    for value in referenced:
        named = ids.ticket_in_message_id(settings.secret_key, value)
        if named is not None and named[0] in tickets:
            return True
    return bool(known_message_ids(session, tickets, referenced))


def _thread_of(session: Session, ticket: Ticket) -> set[int]:
    """The ticket and those merged into it: their mail is the thread's."""
    merged = session.scalars(select(Ticket.id).where(Ticket.merged_into_id == ticket.id))
    return {ticket.id, *merged}


def known_message_ids(session: Session, ticket_ids: set[int], values: list[str]) -> set[str]:
    """Which of `values` are Message-IDs of mail that is part of these tickets' conversation: sent
    by us, opened the ticket, or joined it (a mail held for review has not)."""
    rows = session.scalars(
        select(MailLog.message_id_header)
        .outerjoin(Message, Message.id == MailLog.message_id)
        .where(
            MailLog.ticket_id.in_(sorted(ticket_ids)),
            MailLog.message_id_header.in_(values),
            or_(
                MailLog.direction == Direction.OUTBOUND,
                MailLog.status == MailStatus.CREATED_TICKET,
                and_(MailLog.status == MailStatus.APPENDED, Message.held_reason.is_(None)),
            ),
        )
    )
    return set(rows)


def _staff(
    mail: ParsedMail, settings: Settings, proof: Authentication, sender: User, ticket: Ticket | None
) -> Decision:
    """Acting as staff by mail: the person's own signed reply address for this ticket, and (by
    default) a trusted passing result. Otherwise the mail is held: never posted as staff."""
    policy = settings.mail_staff_auth

    def hold(why: str) -> Decision:
        return Decision(Admission.HOLD_MAIL, f"Mail from staff address {sender.email} held: {why}", proof)

    if policy == "never":
        return hold("staff actions by mail are switched off (TICKETRY_MAIL_STAFF_AUTH=never).")
    if proof.proof is Proof.FAIL:
        return hold(f"it failed authentication ({proof.detail}).")
    if ticket is None:
        # Staff work tickets in the desk; their mail to the support address names no ticket
        # they may write on (or one they cannot see), so nothing proves it is theirs.
        return hold("it names no ticket they may write on; staff open tickets in the desk.")
    if not _own_reply_address(mail, settings, sender, ticket):
        return hold(f"it was not sent to {sender.name}'s own signed reply address of {ticket.number}.")
    if policy == "pass" and proof.proof is not Proof.PASS:
        return hold(f"no trusted mail server vouches for it ({proof.detail}).")
    return Decision(Admission.POST, "", proof)


def _own_reply_address(
    mail: ParsedMail, settings: Settings, sender: User, ticket: Ticket, *, legacy: bool = False
) -> bool:
    """Sent to the reply address we wrote to `sender` about this ticket (with `legacy`, also the
    older per-ticket form, which went to the customer and staff alone)."""
    for address in (*mail.to, *mail.cc, *mail.delivered_to):
        tag = ids.reply_tag(settings.secret_key, address)
        if tag is None or tag.ticket_id != ticket.id:
            continue
        if tag.user_id == sender.id or (legacy and tag.user_id is None):
            return True
    return False


def enlist_copied(
    session: Session,
    ticket: Ticket,
    customer: User,
    mail: ParsedMail,
    decision: Decision,
    settings: Settings,
    *,
    own_addresses: frozenset[str],
) -> None:
    """People the customer copied (Cc) become participants: their replies join the conversation.

    Only from a mail that shows it is the customer's: a trusted passing result, or sent to the
    reply address we wrote to the customer alone. Otherwise a forged From of the customer with a
    Cc would make its writer a participant of someone else's conversation. Never our own
    addresses, never staff (they act as staff only with proof), never an address nobody reads (a
    no-reply sender copied in is how a stranger's verification mail would reach the customer:
    the "ticket trick")."""
    proven = decision.authentication.proof is Proof.PASS or _own_reply_address(
        mail, settings, customer, ticket
    )
    if not proven:
        return
    for address in mail.cc[: participants.MAX_PARTICIPANTS]:
        local, _, domain = address.lower().partition("@")
        if not domain or f"{local.partition('+')[0]}@{domain}" in own_addresses or is_unattended(address):
            continue
        if not users.is_valid_email(address):
            continue  # no user can have it (too long): it stays a name in the mail
        person = users.find_user_by_email(session, address)
        if person is not None and (person.role.is_staff or not person.is_active or person.id == customer.id):
            continue
        if person is None:
            person = users.create_user(
                session, email=address, name=local[:200] or address, role=Role.CUSTOMER
            )
        try:
            participants.enlist(session, ticket, person, role=ParticipantRole.CC, by=None)
        except InvalidParticipant:
            return  # the list is full
