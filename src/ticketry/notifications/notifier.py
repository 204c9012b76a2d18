"""Building the notifications of one ticket event, one mail per recipient, logged together and
sent by one job over one SMTP connection.

Everything is read and composed in the job's read stage (`jobs.registry.staged`); what it writes
(the mail log's rows, the send job, the live notes) is an `Outbox`, written in the transaction
that marks the job done. On SQLite the composing (a few hundred ms for a department of 30) thus
never holds the one write lock that requests wait for.

Each recipient is checked at job time: active, with an address somebody reads (not `noreply@`,
`mailer-daemon@` …), wanting this kind, not the person who caused the event, and (for agents)
still able to see the ticket. Customer mail is rendered from rows `readable_messages(customer)`
returns, with is_internal excluded again, so a note cannot reach a customer even if an event
named one. Each mail's Reply-To is the ticket's reply address signed for its recipient
(`support+t42.u7.<signature>@…`), so a reply says whose mail it answers.

What every mail of the event needs is read once: the ticket, the thread's root, the message; the
agents' departments in one query and whether each may read the ticket in one statement (each by
their own `readable_tickets`); the agents' mail is rendered once with their name filled in after.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from markupsafe import Markup
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, joinedload

from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core.config import Settings, get_settings
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import compose, ids
from ticketry.mail.outbound import service as outbound
from ticketry.mail.outbound.addresses import is_unattended
from ticketry.messages.models import Message
from ticketry.messages.repository import readable_messages
from ticketry.notifications import render
from ticketry.notifications.preferences import Kind, wants
from ticketry.realtime import broker as realtime
from ticketry.tickets.models import STATUS_LABELS, Ticket, ticket_watchers
from ticketry.tickets.repository import readable_tickets
from ticketry.users.models import User, department_members

log = structlog.get_logger(__name__)


def load_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket with what the mails show; None when it is gone or deleted (no mail then)."""
    ticket = session.scalars(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(joinedload(Ticket.customer), joinedload(Ticket.assignee), joinedload(Ticket.department))
    ).one_or_none()
    if ticket is None or ticket.deleted_at is not None:
        return None
    return ticket


def department_staff(session: Session, department_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(department_members, department_members.c.user_id == User.id)
            .where(department_members.c.department_id == department_id)
            .order_by(User.id)
        )
    )


def watchers(session: Session, ticket_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(ticket_watchers, ticket_watchers.c.user_id == User.id)
            .where(ticket_watchers.c.ticket_id == ticket_id)
            .order_by(User.id)
        )
    )


def thread_root(session: Session, ticket_id: int) -> str | None:
    """The Message-ID of the ticket's first mail (the customer's own, when the ticket came by
    mail): every later one answers it, so a mail client keeps the whole ticket in one thread."""
    return session.scalar(
        select(MailLog.message_id_header)
        .outerjoin(Message, Message.id == MailLog.message_id)
        .where(
            MailLog.ticket_id == ticket_id,
            MailLog.message_id_header != "",
            or_(
                MailLog.direction == Direction.OUTBOUND,
                MailLog.status == MailStatus.CREATED_TICKET,
                # Not mail held for review: a stranger's Message-ID would reach the customer.
                and_(MailLog.status == MailStatus.APPENDED, Message.held_reason.is_(None)),
            ),
        )
        .order_by(MailLog.id)
        .limit(1)
    )


def staff_actors(session: Session, users: Sequence[User]) -> list[Actor]:
    """The actors of many users with one query for all their departments (what
    `auth_service.actor_for` reads per user). Only staff actors are made: customers are never told
    of tickets as agents are."""
    staff = [user for user in users if user.role.is_staff]
    departments: dict[int, set[int]] = defaultdict(set)
    if staff:
        rows = session.execute(
            select(department_members.c.user_id, department_members.c.department_id).where(
                department_members.c.user_id.in_([user.id for user in staff])
            )
        )
        for user_id, department_id in rows:
            departments[user_id].add(department_id)
    actors = [
        Actor.for_user(user, organization_shared=False, department_ids=frozenset(departments[user.id]))
        for user in staff
    ]
    return [actor for actor in actors if actor.is_staff]


# Actors checked by one statement at most (one EXISTS each).
VISIBILITY_BATCH = 200


def may_read(
    session: Session, actors: Sequence[Actor], *, ticket_id: int, message_id: int | None = None
) -> set[int]:
    """The user ids of the actors who may read the ticket (with `message_id`: that message),
    each decided by their own `readable_tickets` (`readable_messages`), all in one statement."""
    readable: set[int] = set()
    for start in range(0, len(actors), VISIBILITY_BATCH):
        batch = actors[start : start + VISIBILITY_BATCH]
        checks = [
            (
                readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == ticket_id)
                if message_id is None
                else readable_messages(actor).with_only_columns(Message.id).where(Message.id == message_id)
            ).exists()
            for actor in batch
        ]
        row = session.execute(select(*checks)).one()
        readable.update(actor.user_id for actor, allowed in zip(batch, row, strict=True) if allowed)
    return readable


@dataclass
class Outbox:
    """What an event's job writes once everything is read and composed: its mails, logged with one
    INSERT and handed to one `mail.send` job, and its live notes, published when that commits."""

    mails: list[outbound.Outgoing] = field(default_factory=list)
    live: list[realtime.Event] = field(default_factory=list)

    def __call__(self, session: Session) -> None:
        outbound.queue_many(session, self.mails)
        for note in self.live:
            realtime.publish(session, note.channel, note.kind, note.detail)


@dataclass
class Notifier:
    """The mails of one event about one ticket; each person gets at most one. They collect in
    `outbox`, which the job writes."""

    session: Session
    ticket: Ticket
    actor_id: int | None
    settings: Settings = field(default_factory=get_settings)
    notified: set[int] = field(default_factory=set)
    outbox: Outbox = field(default_factory=Outbox)
    _root: str | None = None
    _root_read: bool = False
    _shared: dict[tuple[str, str | None], compose.Shared] = field(default_factory=dict)

    def _eligible(self, user: User, kind: Kind, *, own_action_ok: bool = False) -> bool:
        if user.id in self.notified or not user.is_active or not user.email:
            return False
        if user.email_undeliverable_at is not None:
            return False  # mail to the address bounced for good (a delivery report)
        if is_unattended(user.email):
            # Nobody reads it: a receipt there only bounces, or answers the robot that wrote.
            log.info("notification.unattended_address", user_id=user.id, kind=kind.value)
            return False
        if user.id == self.actor_id and not own_action_ok:
            return False
        return wants(user.notification_settings or {}, kind)

    # --- customers ---------------------------------------------------------------------------

    def to_customer(self, kind: Kind, *, message_id: int | None = None) -> None:
        """The requester. `ticket_received` is a confirmation of their own action, so it goes to
        them even when they caused it."""
        customer = self.ticket.customer
        if not self._eligible(customer, kind, own_action_ok=kind is Kind.TICKET_RECEIVED):
            return
        actor = auth_service.actor_for(self.session, customer)
        visible = self.session.scalar(
            readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == self.ticket.id)
        )
        if visible is None:
            return
        message: render.CustomerMessage | None = None
        if message_id is not None:
            row = self.session.scalars(
                readable_messages(actor)
                .where(Message.id == message_id, Message.is_internal.is_(False))
                .options(joinedload(Message.author))
            ).one_or_none()
            if row is None:
                return  # a note, a deleted reply, or one this customer may not read
            message = render.CustomerMessage(row.author.name, row.body, Markup(row.body_html))  # noqa: S704 (sanitized)
        ticket = render.CustomerTicket(
            number=self.ticket.number,
            title=self.ticket.title,
            status=STATUS_LABELS[self.ticket.status],
            url=f"{self.settings.public_url.rstrip('/')}/tickets/{self.ticket.id}",
        )
        mail = render.render_customer(kind, name=customer.name, ticket=ticket, message=message)
        self._add(customer, kind, mail, message_id=message_id)

    def to_customer_merged(self, primary: Ticket) -> None:
        """This (secondary) ticket's customer hears that it was merged into `primary`. They are
        shown the primary only if they may read it; otherwise only that theirs was closed as a
        duplicate: the other customer's ticket is never named to them."""
        customer = self.ticket.customer
        if not self._eligible(customer, Kind.TICKET_MERGED):
            return
        actor = auth_service.actor_for(self.session, customer)
        readable = readable_tickets(actor).with_only_columns(Ticket.id)
        if self.session.scalar(readable.where(Ticket.id == self.ticket.id)) is None:
            return
        base = self.settings.public_url.rstrip("/")
        merged_into: render.CustomerTicket | None = None
        if self.session.scalar(readable.where(Ticket.id == primary.id)) is not None:
            merged_into = render.CustomerTicket(
                number=primary.number,
                title=primary.title,
                status=STATUS_LABELS[primary.status],
                url=f"{base}/tickets/{primary.id}",
            )
        ticket = render.CustomerTicket(
            number=self.ticket.number,
            title=self.ticket.title,
            status=STATUS_LABELS[self.ticket.status],
            url=f"{base}/tickets/{self.ticket.id}",
        )
        mail = render.render_customer(
            Kind.TICKET_MERGED, name=customer.name, ticket=ticket, merged_into=merged_into
        )
        self._add(customer, Kind.TICKET_MERGED, mail, message_id=None)

    # --- agents ------------------------------------------------------------------------------

    def to_agent(
        self, user: User | None, kind: Kind, *, message_id: int | None = None, change: str | None = None
    ) -> None:
        self.to_agents([] if user is None else [user], kind, message_id=message_id, change=change)

    def to_agents(
        self, users: Sequence[User], kind: Kind, *, message_id: int | None = None, change: str | None = None
    ) -> None:
        """Every eligible staff member among `users` who may still read the ticket (and the
        message), checked for all of them in one statement; the mail is rendered once."""
        eligible = [user for user in users if self._eligible(user, kind)]
        actors = staff_actors(self.session, eligible)
        readable = may_read(self.session, actors, ticket_id=self.ticket.id, message_id=message_id)
        recipients = [user for user in eligible if user.id in readable]
        if not recipients:
            return
        message: render.AgentMessage | None = None
        if message_id is not None:
            # The row every recipient above may read (`readable_messages` of each, in `may_read`).
            row = self.session.scalars(
                select(Message).where(Message.id == message_id).options(joinedload(Message.author))
            ).one()
            message = render.AgentMessage(row.author.name, row.is_internal, row.body, Markup(row.body_html))  # noqa: S704 (sanitized)
        ticket = render.AgentTicket(
            number=self.ticket.number,
            title=self.ticket.title,
            status=STATUS_LABELS[self.ticket.status],
            priority=self.ticket.priority.value.title(),
            department=self.ticket.department.name,
            customer=f"{self.ticket.customer.name} <{self.ticket.customer.email}>",
            assignee=self.ticket.assignee.name if self.ticket.assignee else None,
            url=f"{self.settings.public_url.rstrip('/')}/desk/tickets/{self.ticket.id}",
        )
        greeting = render.greet_agents(kind, ticket=ticket, message=message, change=change)
        for user in recipients:
            if user.id not in self.notified:  # a user listed twice
                self._add(user, kind, greeting.to(user.name), message_id=message_id)

    # --- the mail ----------------------------------------------------------------------------

    def _thread_root(self) -> str | None:
        """Read once per event; the event's own first mail is the root of a ticket without one."""
        if not self._root_read:
            self._root, self._root_read = thread_root(self.session, self.ticket.id), True
        if self._root is None and self.outbox.mails:
            self._root = str(self.outbox.mails[0].mail["Message-ID"])
        return self._root

    def _add(self, user: User, kind: Kind, mail: render.Rendered, *, message_id: int | None) -> None:
        settings = self.settings
        try:
            sender = compose.parse_from(settings.mail_from)
            recipient = compose.address(user.email, user.name)
        except compose.InvalidAddress as error:
            log.warning("notification.bad_address", user_id=user.id, kind=kind.value, error=str(error))
            return
        reply_to = compose.address(
            ids.reply_address(
                settings.secret_key, settings.mail_from, ticket_id=self.ticket.id, user_id=user.id
            ),
            sender.display_name,
        )
        root = self._thread_root()
        shared = self._shared.get((mail.subject, root))
        if shared is None:
            shared = self._shared[mail.subject, root] = compose.Shared(
                sender=sender, subject=mail.subject, in_reply_to=root, references=[root] if root else ()
            )
        try:
            composed = shared.build(
                to=[recipient],
                text=mail.text,
                html=mail.html,
                message_id=ids.message_id(
                    settings.secret_key,
                    ids.domain_of(settings.mail_from),
                    ticket_id=self.ticket.id,
                    message_id=message_id or 0,
                ),
                reply_to=reply_to,
            )
        except compose.UnsafeMail as error:
            # Refused by compose's own check: never sent, and no retry would build it otherwise.
            log.error("notification.unsafe_mail", user_id=user.id, kind=kind.value, error=str(error))
            return
        self.outbox.mails.append(
            outbound.Outgoing(composed, purpose=kind.value, ticket_id=self.ticket.id, user_id=user.id)
        )
        self.notified.add(user.id)
