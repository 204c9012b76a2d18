"""Presence use cases (the collision warning): which agents have a ticket open, who is typing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.realtime import presence
from ticketry.realtime.models import Presence, PresenceState
from ticketry.tickets.access import access_ticket


def track_presence(session: Session, actor: Actor, ticket_id: int, *, state: PresenceState) -> list[Presence]:
    """Note that this agent has the ticket open (or is typing); return who else does."""
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    access_ticket(session, actor, ticket_id)
    presence.beat(session, ticket_id=ticket_id, user_id=actor.user_id, user_name=actor.name, state=state)
    return presence.others(session, ticket_id=ticket_id, user_id=actor.user_id)


def leave_ticket(session: Session, actor: Actor, ticket_id: int) -> None:
    """The agent closed the page: only their own row goes, and only for a ticket they may see."""
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    access_ticket(session, actor, ticket_id)
    presence.leave(session, ticket_id=ticket_id, user_id=actor.user_id)
