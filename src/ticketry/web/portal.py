"""The customer portal: my tickets, a new ticket, a ticket's public conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ticketry.core.pagination import PageRequest
from ticketry.core.text import render_markdown
from ticketry.http.deps import DbSession, PathId
from ticketry.http.uploads import new_files
from ticketry.messages import service as message_service
from ticketry.search import service as search
from ticketry.search.service import TicketFilters
from ticketry.threads import merge as merges
from ticketry.tickets import service as ticket_service
from ticketry.tickets.lifecycle import ACTIVE_STATUSES
from ticketry.tickets.models import Priority, Source, TicketStatus
from ticketry.users import service as user_service
from ticketry.web.forms import AttachmentIds
from ticketry.web.session import MaybeSignedIn, SignedIn, login_url
from ticketry.web.templating import is_htmx, render, set_flash

router = APIRouter(include_in_schema=False)

TABS = {
    "open": sorted(ACTIVE_STATUSES),
    "resolved": [TicketStatus.RESOLVED],
    "closed": [TicketStatus.CLOSED],
    "all": [],
}


@router.get("/")
def my_tickets(
    request: Request,
    session: DbSession,
    who: MaybeSignedIn,
    tab: Annotated[str, Query(pattern="^(open|resolved|closed|all)$")] = "open",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if who is None:
        return RedirectResponse(login_url("/"), status_code=303)
    if who.actor.is_staff:
        return RedirectResponse("/desk", status_code=303)
    filters = TicketFilters(statuses=TABS[tab], q=q or None, customer_id=None)
    result = search.customer_rows(
        session, who.actor, filters=filters, page=PageRequest(page=page, page_size=20)
    )
    context = {"page": result, "tab": tab, "q": q, "tabs": list(TABS)}
    # Only the search box and the pager ask for the list alone; a boosted link wants the page.
    block = "results" if is_htmx(request) and request.headers.get("hx-target") == "results" else None
    return render(request, "portal/list.html", context, who=who, block=block)


@router.get("/tickets/new")
def new_ticket_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    departments = user_service.list_departments(session)
    return render(request, "portal/new.html", {"departments": departments}, who=who)


@router.post("/tickets/new")
def create_ticket(
    request: Request,
    session: DbSession,
    who: SignedIn,
    title: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(min_length=1, max_length=100_000)],
    department: Annotated[str, Form(max_length=50)] = "general",
    priority: Annotated[Priority, Form()] = Priority.MEDIUM,
    attachment_ids: AttachmentIds = [],  # noqa: B006 - FastAPI copies defaults per request
) -> Response:
    ticket = ticket_service.create_ticket(
        session,
        who.actor,
        title=" ".join(title.split()),
        description=description,
        department=department,
        priority=priority,
        source=Source.WEB,
        files=new_files(request, attachment_ids),
    )
    response = RedirectResponse(f"/tickets/{ticket.id}", status_code=303)
    set_flash(response, f"Ticket {ticket.number} is open. We will get back to you soon.")
    return response


@router.post("/preview")
def preview(who: SignedIn, description: Annotated[str, Form(max_length=100_000)] = "") -> HTMLResponse:
    """Markdown preview for the composer (sanitized exactly as when saved)."""
    return HTMLResponse(render_markdown(description) or "<p class='muted'>Nothing to preview yet.</p>")


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    if who.actor.is_staff:
        return RedirectResponse(f"/desk/tickets/{ticket_id}", status_code=303)
    ticket = ticket_service.get_ticket(session, who.actor, ticket_id)
    messages = message_service.list_messages(session, who.actor, ticket_id)
    context = {
        "ticket": ticket,
        "messages": messages,
        "is_requester": ticket.customer_id == who.actor.user_id,
        "merged_into": merges.merged_into(session, who.actor, ticket),
    }
    return render(request, "portal/ticket.html", context, who=who)


@router.post("/tickets/{ticket_id}/reply")
def reply(
    request: Request,
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    body: Annotated[str, Form(min_length=1, max_length=100_000)],
    attachment_ids: AttachmentIds = [],  # noqa: B006 - FastAPI copies defaults per request
) -> Response:
    message_service.post_reply(
        session, who.actor, ticket_id, body=body, source=Source.WEB, files=new_files(request, attachment_ids)
    )
    response = RedirectResponse(f"/tickets/{ticket_id}#latest", status_code=303)
    set_flash(response, "Your reply was sent.")
    return response


@router.post("/tickets/{ticket_id}/edit")
def edit(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    title: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(min_length=1, max_length=100_000)],
    version: Annotated[int | None, Form(ge=0, le=2**31 - 1)] = None,
) -> Response:
    """docs/product.md §1: the requester may fix the title and description until staff answers."""
    edit = ticket_service.TicketEdit(
        provided=frozenset({"title", "description"}), title=" ".join(title.split()), description=description
    )
    ticket_service.update_ticket(session, who.actor, ticket_id, edit=edit, expected_version=version)
    response = RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
    set_flash(response, "Your changes are saved.")
    return response


@router.post("/tickets/{ticket_id}/close")
def close(session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    ticket_service.close_ticket(session, who.actor, ticket_id)
    response = RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
    set_flash(response, "The ticket is closed. You can reopen it any time.")
    return response


@router.post("/tickets/{ticket_id}/reopen")
def reopen(session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    ticket_service.reopen_ticket(session, who.actor, ticket_id)
    response = RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
    set_flash(response, "The ticket is open again.")
    return response
