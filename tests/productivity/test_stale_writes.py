"""A change that loses a race answers 409 and writes nothing (issue 14 B.1).

Every writer of a ticket begins and finishes through `tickets.changes`. When someone else's
change commits between the moment a request read the ticket and the moment it locks it to write,
the request's copy is stale: the write is refused with 409 `stale_ticket`, showing the current
state, and none of it is kept. Split and message edits used to flush without any guard (a 500);
the others' guard read the ticket again after the failed flush, which raised instead of a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.factories import Persona, make_admin, make_agent, make_customer, make_message, make_ticket
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.jobs.models import Job
from ticketry.messages import held, revisions
from ticketry.messages import service as message_service
from ticketry.messages.models import Message, MessageRevision
from ticketry.threads import merge as merges
from ticketry.threads import split as splits
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import lifecycle
from ticketry.tickets import service as ticket_service
from ticketry.tickets.errors import StaleTicket
from ticketry.tickets.models import Ticket, TicketMerge, TicketStatus

MEANWHILE = "Changed by someone else meanwhile"


def changed_meanwhile(db: Database, session: Session, ticket_id: int) -> None:
    """Someone else's change of the ticket commits after `session` read it. On PostgreSQL that is
    a second transaction. SQLite takes one writer at a time (BEGIN IMMEDIATE), so no second one
    can commit meanwhile: there the row moves on under the session's feet, on its own connection,
    the way the second transaction would have moved it."""
    moved = update(Ticket).where(Ticket.id == ticket_id).values(title=MEANWHILE, version=Ticket.version + 1)
    if db.dialect == "postgresql":
        with db.unit_of_work() as other:
            other.execute(moved)
    else:
        session.execute(moved.execution_options(synchronize_session=False))


def written(db: Database) -> dict[str, Any]:
    """What a refused write must leave as it was."""
    with db.unit_of_work(write=False) as session:
        count = {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Ticket, MessageRevision, TicketEvent, Job, TicketMerge)
        }
        messages = session.execute(
            select(Message.id, Message.ticket_id, Message.body, Message.is_internal, Message.held_reason)
        ).all()
        tickets = session.execute(select(Ticket.id, Ticket.status, Ticket.merged_into_id)).all()
    return {**count, "messages": sorted(messages), "tickets": sorted(tickets)}


Write = Callable[[Session], object]


def refused_as_stale(db: Database, ticket_id: int, write: Write) -> None:
    """Read the ticket as a page or an earlier step of the request does, let someone else change
    it, then write: 409 `stale_ticket`, and nothing of the write is kept."""
    before = written(db)
    with pytest.raises(StaleTicket) as refused, db.unit_of_work() as session:
        seen = session.get_one(Ticket, ticket_id)  # held: the session keeps only what is referenced
        changed_meanwhile(db, session, ticket_id)
        write(session)
        assert seen is not None
    assert (refused.value.status, refused.value.code) == (409, "stale_ticket")
    assert refused.value.details["current"]["title"] == MEANWHILE
    assert refused.value.details["currentVersion"] == refused.value.details["current"]["version"]
    assert written(db) == before
    if db.dialect == "postgresql":
        with db.unit_of_work(write=False) as session:
            assert session.get_one(Ticket, ticket_id).title == MEANWHILE, "the other change is kept"


def people(db: Database) -> tuple[Persona, Persona, Persona]:
    return make_customer(db), make_agent(db), make_admin(db)


class TestStaleWrites:
    def test_a_split_is_refused(self, db: Database) -> None:
        customer, agent, _ = people(db)
        ticket = make_ticket(db, customer)
        message = make_message(db, customer, ticket.id, body="A second problem")
        refused_as_stale(
            db, ticket.id, lambda session: splits.split_ticket(session, agent.actor, ticket.id, [message.id])
        )

    def test_a_message_edit_is_refused(self, db: Database) -> None:
        customer, agent, _ = people(db)
        ticket = make_ticket(db, customer)
        reply = make_message(db, agent, ticket.id, body="Try restarting it")
        refused_as_stale(
            db,
            ticket.id,
            lambda session: revisions.edit_message(
                session, agent.actor, ticket.id, reply.id, body="Try restarting it twice"
            ),
        )

    def test_accepting_held_mail_is_refused(self, db: Database) -> None:
        customer, agent, _ = people(db)
        stranger = make_customer(db)
        ticket = make_ticket(db, customer)
        with db.unit_of_work() as session:
            mail = message_service.post_mail_reply(
                session,
                stranger.actor,
                ticket.id,
                body="Me too",
                is_internal=False,
                mail_text="Me too",
                mail_html=None,
                held_reason="The sender does not take part in this ticket.",
            )
        refused_as_stale(
            db, ticket.id, lambda session: held.accept_held(session, agent.actor, ticket.id, mail.id)
        )

    def test_a_reply_is_refused(self, db: Database) -> None:
        customer, agent, _ = people(db)
        ticket = make_ticket(db, customer)
        refused_as_stale(
            db,
            ticket.id,
            lambda session: message_service.post_reply(session, agent.actor, ticket.id, body="On it"),
        )

    def test_deleting_a_message_is_refused(self, db: Database) -> None:
        customer, _, admin = people(db)
        ticket = make_ticket(db, customer)
        message = make_message(db, customer, ticket.id)
        refused_as_stale(
            db,
            ticket.id,
            lambda session: message_service.delete_message(session, admin.actor, ticket.id, message.id),
        )

    def test_a_merge_is_refused(self, db: Database) -> None:
        customer, agent, _ = people(db)
        primary, secondary = make_ticket(db, customer), make_ticket(db, customer)
        make_message(db, customer, secondary.id)
        refused_as_stale(
            db,
            secondary.id,
            lambda session: merges.merge_tickets(session, agent.actor, primary.id, [secondary.id]),
        )

    def test_a_status_change_without_a_version_is_refused(self, db: Database) -> None:
        """The client sent no version, so only the flush can tell."""
        customer, agent, _ = people(db)
        ticket = make_ticket(db, customer)
        refused_as_stale(
            db,
            ticket.id,
            lambda session: ticket_service.change_status(
                session, agent.actor, ticket.id, status=TicketStatus.ON_HOLD
            ),
        )

    def test_a_version_moved_after_the_lock_is_a_409_at_the_flush(self, db: Database) -> None:
        """The backstop behind the lock: whatever moves the version under a change in progress,
        its flush answers 409 rather than a 500."""
        customer, agent, _ = people(db)
        ticket = make_ticket(db, customer)
        before = written(db)
        with pytest.raises(StaleTicket) as refused, db.unit_of_work() as session:
            locked = ticket_changes.begin(session, agent.actor, ticket.id)
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket.id)
                .values(version=Ticket.version + 1)
                .execution_options(synchronize_session=False)
            )
            recorded = lifecycle.change_status(locked, TicketStatus.ON_HOLD, locked.updated_at)
            ticket_changes.finish(session, agent.actor, locked, recorded)
        assert refused.value.details == {"ticketId": ticket.id}
        assert written(db) == before

    def test_without_a_race_the_same_writes_go_through(self, db: Database) -> None:
        """What the tests above refuse is the race, not the write."""
        customer, agent, _ = people(db)
        ticket = make_ticket(db, customer)
        message = make_message(db, customer, ticket.id, body="A second problem")
        reply = make_message(db, agent, ticket.id, body="Try restarting it")
        with db.unit_of_work() as session:
            seen = session.get_one(Ticket, ticket.id)
            revisions.edit_message(session, agent.actor, ticket.id, reply.id, body="Try it twice")
            new_id = splits.split_ticket(session, agent.actor, ticket.id, [message.id]).id
            assert seen.title == ticket.title
        with db.unit_of_work(write=False) as session:
            assert session.get_one(Message, message.id).ticket_id == new_id
            assert session.get_one(Message, reply.id).body == "Try it twice"
