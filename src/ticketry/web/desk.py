"""The agent desk: views with live counts, the filterable ticket list with bulk actions, and the
ticket workspace (thread, composer, controls, history, customer)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import QueryParams

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission
from ticketry.core.errors import DomainError, ValidationFailed
from ticketry.core.pagination import PageRequest
from ticketry.core.schemas import Id
from ticketry.exports import pdf, tables
from ticketry.http.deps import BrowserSession, DbSession, PathId
from ticketry.http.uploads import new_files
from ticketry.messages import revisions
from ticketry.messages import service as message_service
from ticketry.reports import service as reports
from ticketry.search import query as list_query
from ticketry.search import service as search
from ticketry.search import views as saved_views
from ticketry.search.query import ListQuery, Params
from ticketry.search.service import DeskView, TicketFilters
from ticketry.tickets import lifecycle
from ticketry.tickets import links as link_service
from ticketry.tickets import participants as participant_service
from ticketry.tickets import service as ticket_service
from ticketry.tickets import tags as tag_service
from ticketry.tickets.choices import choices
from ticketry.tickets.models import Priority, Source, TicketStatus
from ticketry.tickets.views import record_view
from ticketry.web import desk_threads
from ticketry.web.forms import AttachmentIds
from ticketry.web.session import SignedIn
from ticketry.web.templating import is_htmx, is_live_refresh, render, set_flash

router = APIRouter(prefix="/desk", include_in_schema=False)

OTHER_TICKETS_CAP = 100  # the ticket page's "Other tickets (99+)"

VIEW_LABELS = {
    DeskView.QUEUE: "My queue",
    DeskView.MINE: "Assigned to me",
    DeskView.WATCHED: "Watched by me",
    DeskView.OPEN: "All open",
    DeskView.RECENT: "Recently updated",
    DeskView.ALL: "All tickets",
}


def _read_list(actor: Actor, query_string: str) -> tuple[ListQuery, Params, str | None]:
    """The list's filter, its parameters, and why it does not read, if it does not: then the list
    is its view alone (or the queue)."""
    try:
        params = list_query.params_of(query_string)
    except ValidationFailed as error:
        return list_query.parse_list_query(actor, {}, defaults=list_query.DESK), {}, error.message
    try:
        return list_query.parse_list_query(actor, params, defaults=list_query.DESK), params, None
    except ValidationFailed as error:
        try:
            view = {"view": params.get("view", [])}
            fallback = list_query.parse_list_query(actor, view, defaults=list_query.DESK)
        except ValidationFailed:
            fallback = list_query.parse_list_query(actor, {}, defaults=list_query.DESK)
        return fallback, params, error.message


def _staff_only(who: BrowserSession) -> Response | None:
    """Customers who wander into /desk go home; the desk itself is presentation, not a rule."""
    return None if who.actor.is_staff else RedirectResponse("/", status_code=303)


@router.get("")
def ticket_list(request: Request, session: DbSession, who: SignedIn) -> Response:
    """Filters and page come as the query string, read by `search.query` like everywhere else
    (the API, saved views, exports). A filter that does not read shows the view without it,
    says why, and keeps what was typed in the form to correct (422)."""
    if (away := _staff_only(who)) is not None:
        return away
    chosen, params, problem = _read_list(who.actor, request.url.query)
    block = "results" if is_htmx(request) and request.headers.get("hx-target") == "results" else None
    # The sidebar's counts cost more than the rest of the page (six capped counts, 70 ms at a
    # million tickets): a page load shows the views at once and fetches their counts after
    # (`GET /desk/views/counts`), a live refresh (live.js) comes with them, and a list alone
    # (htmx, for a filter or a page) has no sidebar.
    counted = is_live_refresh(request) and block is None
    saved = saved_views.sidebar(session, who.actor, counted=counted)
    saved_id = _int_or_none(request.query_params.get("saved", ""))
    current = next((c.view for c in saved if c.view.id == saved_id), None)
    result = search.find_tickets(
        session, who.actor, filters=chosen.filters, sort=chosen.sort, page=chosen.page
    )
    # The filter form and the page links get the list's parameters under their names (an older
    # spelling, in a bookmark or a saved view, shows in the right field) and the saved view.
    shown = list_query.spelled(params) + ([("saved", str(saved_id))] if saved_id else [])
    context = {
        "page": result,
        "view": chosen.view or list_query.DESK.view,
        "views": VIEW_LABELS,
        "counts": search.view_counts(session, who.actor) if counted else None,
        **choices(session)._asdict(),
        "params": QueryParams(shown),
        "list_query": list_query.canonical(params),
        "problem": problem,
        "export_columns": tables.COLUMNS,
        "default_columns": tables.DEFAULT_COLUMNS,
        "pdf_available": pdf.available(),
        "saved": saved,
        "views_counted": counted,
        "current_view": current,
        "view_changed": current is not None and not saved_views.shows(who.actor, current, chosen),
        "may_share_views": who.actor.can(Permission.ADMIN_VIEWS),
        "sort": chosen.sort.field,
        "order": "desc" if chosen.sort.descending else "asc",
        "filters_active": chosen.narrowed or problem is not None,
    }
    status = 422 if problem else 200
    return render(request, "desk/list.html", context, who=who, block=block, status=status)


@router.post("/bulk")
def bulk(
    session: DbSession,
    who: SignedIn,
    ticket_ids: Annotated[list[Id], Form(max_length=500)],
    status: Annotated[TicketStatus | Literal[""], Form()] = "",
    priority: Annotated[Priority | Literal[""], Form()] = "",
    assignee: Annotated[str, Form(max_length=10)] = "",
    department: Annotated[str, Form(max_length=50)] = "",
    add_tags: Annotated[str, Form(max_length=500)] = "",
    remove_tags: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/desk",
) -> Response:
    results = ticket_service.bulk_update(
        session,
        who.actor,
        ticket_ids,
        change=ticket_service.BulkChange(
            status=status or None,
            priority=priority or None,
            assignee_id=who.actor.user_id if assignee == "me" else _int_or_none(assignee),
            unassign=assignee == "none",
            department=department or None,
            add_tags=_names(add_tags),
            remove_tags=_names(remove_tags),
        ),
    )
    failed = [r for r in results if not r.ok]
    text = f"Updated {len(results) - len(failed)} of {len(results)} tickets."
    if failed:
        text += " Not changed: " + "; ".join(
            f"{_ticket_label(session, who, r.ticket_id)}: {r.error_message}" for r in failed[:10]
        )
    response = RedirectResponse(back if back.startswith("/desk") else "/desk", status_code=303)
    set_flash(response, text, kind="error" if failed else "success")
    return response


def _ticket_label(session: DbSession, who: BrowserSession, ticket_id: int) -> str:
    """The number people know a ticket by (TICK-2026-0042), if this user may see the ticket."""
    try:
        return ticket_service.get_ticket(session, who.actor, ticket_id, include_deleted=True).number
    except DomainError:
        return "A ticket you cannot see"


def _names(value: str) -> tuple[str, ...]:
    """Tag names typed comma-separated."""
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    if (away := _staff_only(who)) is not None:
        return away
    actor = who.actor
    ticket = ticket_service.get_ticket(session, actor, ticket_id, include_deleted=True)
    if not is_live_refresh(request):  # the page refreshing itself is no new view
        record_view(ticket.id, viewer_id=actor.user_id)
    # Whom the sidebar offers to assign, transfer to or add as a watcher, where it offers any; the
    # agents' workloads (desk/_assignee_select.html) come after a page load, with a live refresh.
    offers_agents = (
        actor.can(Permission.TICKETS_ASSIGN)
        or actor.can(Permission.TICKETS_WATCHERS)
        or ticket.assignee_id == actor.user_id
    )
    with_workload = is_live_refresh(request) and actor.can(Permission.TICKETS_ASSIGN)
    others = search.brief_tickets(
        session,
        actor,
        filters=TicketFilters(customer_id=ticket.customer_id),
        page=PageRequest(page=1, page_size=6),
        cap=OTHER_TICKETS_CAP,
    )
    context = {
        "ticket": ticket,
        "messages": revisions.desk_thread(session, actor, ticket_id),
        "events": ticket_service.timeline(session, actor, ticket_id),
        "allowed": lifecycle.allowed_targets(ticket.status),
        **choices(session, agents=offers_agents)._asdict(),
        "workload": reports.agent_workload(session, actor) if with_workload else None,
        "other_tickets": [t for t in others.items if t.id != ticket.id][:5],
        "other_total": others.total - 1,
        "other_capped": others.capped,
        "threads": desk_threads.panel(session, actor, ticket, retry=request.query_params.get("merge", "")),
        "links": link_service.list_links(session, actor, ticket_id),
        "participants": participant_service.list_participants(session, actor, ticket_id),
        "pdf_available": pdf.available(),
        "may_create_tags": tag_service.may_create(session, actor),
    }
    return render(request, "desk/ticket.html", context, who=who)


@router.get("/assignees")
def assignees(
    request: Request, session: DbSession, who: SignedIn, assignee: Annotated[str, Query(max_length=10)] = ""
) -> Response:
    """The ticket page's "Assign to" list with each agent's active tickets, fetched after the page
    loads; `assignee` is the choice on screen, kept."""
    if not who.actor.is_staff:
        return Response(status_code=403)
    context = {"workload": reports.agent_workload(session, who.actor), "chosen": _int_or_none(assignee)}
    return render(request, "desk/_assignee_select.html", context, who=who)


def _back_to(ticket_id: int, text: str) -> Response:
    response = RedirectResponse(f"/desk/tickets/{ticket_id}", status_code=303)
    set_flash(response, text)
    return response


@router.post("/tickets/{ticket_id}/reply")
def reply(
    request: Request,
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    body: Annotated[str, Form(min_length=1, max_length=100_000)],
    internal: Annotated[bool, Form()] = False,
    then_status: Annotated[TicketStatus | Literal[""], Form()] = "",
    attachment_ids: AttachmentIds = [],  # noqa: B006 - FastAPI copies defaults per request
) -> Response:
    message_service.post_reply(
        session,
        who.actor,
        ticket_id,
        body=body,
        is_internal=internal,
        source=Source.WEB,
        then_status=then_status or None,
        files=new_files(request, attachment_ids),
    )
    return _back_to(ticket_id, "Note added." if internal else "Reply sent.")


@router.post("/tickets/{ticket_id}/status")
def change_status(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    status: Annotated[TicketStatus, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    ticket_service.change_status(session, who.actor, ticket_id, status=status, reason=reason or None)
    return _back_to(ticket_id, f"Status changed to {status.value.replace('_', ' ')}.")


@router.post("/tickets/{ticket_id}/fields")
def change_fields(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    priority: Annotated[Priority, Form()],
    department: Annotated[str, Form(max_length=50)],
    category: Annotated[str, Form(max_length=10)] = "",
    version: Annotated[int | None, Form(ge=0, le=2**31 - 1)] = None,
) -> Response:
    edit = ticket_service.TicketEdit(
        provided=frozenset({"priority", "department", "category_id"}),
        priority=priority,
        department=department,
        category_id=_int_or_none(category),
    )
    before = (
        version if version is not None else ticket_service.get_ticket(session, who.actor, ticket_id).version
    )
    ticket = ticket_service.update_ticket(session, who.actor, ticket_id, edit=edit, expected_version=version)
    # An edit that changes something is a new version (tickets.models: version_id_col).
    if ticket.version == before:
        return _back_to(ticket_id, "Nothing to save: the ticket already has these details.")
    return _back_to(ticket_id, "Ticket updated.")


@router.post("/tickets/{ticket_id}/assign")
def assign(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    assignee: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if assignee in ("", "none"):
        ticket_service.unassign_ticket(session, who.actor, ticket_id)
        return _back_to(ticket_id, "Ticket unassigned.")
    target = who.actor.user_id if assignee == "me" else _int_or_none(assignee)
    if target is None:
        raise ValidationFailed("Choose an agent.")
    ticket_service.assign_ticket(session, who.actor, ticket_id, assignee_id=target)
    return _back_to(ticket_id, "Ticket assigned.")


@router.post("/tickets/{ticket_id}/transfer")
def transfer(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    to_agent: Annotated[int, Form(ge=1, le=2**31 - 1)],
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    ticket_service.transfer_ticket(session, who.actor, ticket_id, to_agent_id=to_agent, note=note or None)
    return _back_to(ticket_id, "Ticket transferred.")


@router.post("/tickets/{ticket_id}/delete")
def delete(session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    ticket_service.delete_ticket(session, who.actor, ticket_id)
    return _back_to(ticket_id, "Ticket deleted. You can restore it from this page.")


@router.post("/tickets/{ticket_id}/restore")
def restore(session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    ticket_service.restore_ticket(session, who.actor, ticket_id)
    return _back_to(ticket_id, "Ticket restored.")
