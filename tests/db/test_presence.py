"""Presence heartbeats (the collision warning): a tab's first beats can arrive at once, from the
page load and the first keystroke; both are answered, and one row stands for the agent."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.factories import make_agent, make_customer, make_ticket

from ticketry.core.db import Database
from ticketry.realtime import presence
from ticketry.realtime.models import Presence, PresenceState


def beat(session: Session, ticket_id: int, user_id: int, state: PresenceState) -> None:
    presence.beat(session, ticket_id=ticket_id, user_id=user_id, user_name="Agent", state=state)


def test_two_first_beats_at_once_both_succeed(db: Database) -> None:
    agent = make_agent(db)
    ticket = make_ticket(db, make_customer(db))
    failures: list[BaseException] = []

    def second_beat() -> None:
        try:
            with db.unit_of_work() as session:
                beat(session, ticket.id, agent.id, PresenceState.TYPING)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    with db.unit_of_work() as first:
        beat(first, ticket.id, agent.id, PresenceState.VIEWING)
        later = threading.Thread(target=second_beat)
        later.start()  # on PostgreSQL it reads no row yet, then waits on ours; on SQLite on the lock
        time.sleep(0.3)
    later.join(timeout=10)

    assert not failures, failures
    with db.unit_of_work(write=False) as session:
        rows = session.scalars(select(Presence).where(Presence.ticket_id == ticket.id)).all()
        assert [(row.user_id, row.state) for row in rows] == [(agent.id, PresenceState.TYPING)]
        assert session.scalar(select(func.count()).select_from(Presence)) == 1


def test_a_beat_after_leaving_comes_back(db: Database) -> None:
    agent = make_agent(db)
    ticket = make_ticket(db, make_customer(db))
    with db.unit_of_work() as session:
        beat(session, ticket.id, agent.id, PresenceState.TYPING)
    with db.unit_of_work() as session:
        presence.leave(session, ticket_id=ticket.id, user_id=agent.id)
    with db.unit_of_work() as session:
        beat(session, ticket.id, agent.id, PresenceState.VIEWING)
    with db.unit_of_work(write=False) as session:
        others = presence.others(session, ticket_id=ticket.id, user_id=0)
        assert [(p.user_id, p.state) for p in others] == [(agent.id, PresenceState.VIEWING)]
