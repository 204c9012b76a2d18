"""Merge, unmerge and split in the desk (issue 6 part 6): the ticket sidebar's merge card, the
"merged into" banner, and the split page that picks messages for a new ticket."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission
from ticketry.core.errors import ValidationFailed
from ticketry.core.schemas import Id
from ticketry.http.deps import DbSession, PathId
from ticketry.messages import service as message_service
from ticketry.threads import merge as merges
from ticketry.threads import split as splits
from ticketry.threads.errors import CustomersDiffer
from ticketry.threads.schemas import MergeView
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(prefix="/desk", include_in_schema=False)


def panel(session: Session, actor: Actor, ticket: Ticket, *, retry: str = "") -> dict[str, Any]:
    """What the ticket page's merge card shows (`desk/_merge.html`). `retry`: the tickets of a
    merge refused because another customer's ticket was among them, asked again with the warning."""
    can_merge = actor.can(Permission.TICKETS_MERGE)
    done = merges.list_merges(session, actor, ticket.id) if can_merge else []
    moved_here = merges.moved_here(session, actor, ticket.id) if actor.is_staff else []
    return {
        "retry": retry[:500],
        "can_merge": can_merge,
        "merged_into": merges.merged_into(session, actor, ticket),
        "merges": [MergeView.of(m) for m in done],
        "moved_here": moved_here,
        # The thread's "from TICK-2026-0042" badges (docs/product.md §2: people know tickets by number).
        "moved_numbers": {source_id: number for source_id, number, _ in moved_here},
    }


def _back_to(ticket_id: int, text: str) -> Response:
    response = RedirectResponse(f"/desk/tickets/{ticket_id}", status_code=303)
    set_flash(response, text)
    return response


@router.post("/tickets/{ticket_id}/merge")
def merge(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    tickets: Annotated[str, Form(max_length=500)],
    confirm: Annotated[bool, Form()] = False,
    confirm_customers: Annotated[bool, Form()] = False,
) -> Response:
    """Merge the typed tickets (numbers or ids) into this one. Another customer's ticket needs a
    second, explicit confirmation: the form comes back with the warning and that box."""
    if not confirm:
        raise ValidationFailed("Tick the box to confirm the merge.")
    ids = merges.resolve_references(session, who.actor, tickets)
    try:
        done = merges.merge_tickets(
            session, who.actor, ticket_id, ids, confirm_different_customers=confirm_customers
        )
    except CustomersDiffer as refusal:
        response = RedirectResponse(
            f"/desk/tickets/{ticket_id}?{urlencode({'merge': tickets})}#merge-card", status_code=303
        )
        set_flash(response, refusal.message, kind="error")
        return response
    names = ", ".join(MergeView.of(m).secondary_number for m in done)
    return _back_to(ticket_id, f"Merged {names} into this ticket.")


@router.post("/merges/{merge_id}/undo")
def undo(session: DbSession, who: SignedIn, merge_id: PathId) -> Response:
    done = merges.unmerge(session, who.actor, merge_id)
    view = MergeView.of(done)
    return _back_to(view.secondary_id, f"Unmerged: {view.secondary_number} is back as it was.")


@router.get("/tickets/{ticket_id}/split")
def split_page(request: Request, session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    if not who.actor.is_staff:
        return RedirectResponse("/", status_code=303)
    ticket = ticket_service.get_ticket(session, who.actor, ticket_id)
    context = {"ticket": ticket, "messages": message_service.list_messages(session, who.actor, ticket_id)}
    return render(request, "desk/split.html", context, who=who)


@router.post("/tickets/{ticket_id}/split")
def split(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    message_ids: Annotated[list[Id], Form()] = [],  # noqa: B006 - FastAPI copies defaults per request
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not message_ids:
        raise ValidationFailed("Choose at least one message to split off.")
    ticket = splits.split_ticket(session, who.actor, ticket_id, message_ids, title=title or None)
    return _back_to(ticket.id, f"Split into {ticket.number}.")
