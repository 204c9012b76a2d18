"""Merge, unmerge and split (issue 6 part 6): `/tickets/{id}/merge`, `/tickets/{id}/merges`,
`/merges/{id}/undo`, `/tickets/{id}/unmerge`, `/tickets/{id}/split`. Staff only."""

from __future__ import annotations

from fastapi import APIRouter

from ticketry.core.pagination import ListPage
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.threads import merge as merges
from ticketry.threads import split as splits
from ticketry.threads.schemas import MergeIn, MergeView, SplitIn
from ticketry.tickets import service as ticket_service
from ticketry.tickets.schemas import TicketStaffView

router = APIRouter(tags=["merge and split"])


@router.post("/tickets/{ticket_id}/merge", response_model=ListPage[MergeView], status_code=201)
def merge_into(
    ticket_id: PathId, body: MergeIn, session: DbSession, actor: CurrentActor
) -> ListPage[MergeView]:
    """Merge the tickets of `ticketIds` INTO this one: their messages move here, they close and
    point here. Their customers are told by mail when they differ from this ticket's; merging
    another customer's ticket needs `confirmDifferentCustomers` (409 `customers_differ`)."""
    done = merges.merge_tickets(
        session,
        actor,
        ticket_id,
        body.ticket_ids,
        confirm_different_customers=body.confirm_different_customers,
    )
    return ListPage[MergeView].of([MergeView.of(m) for m in done])


@router.get("/tickets/{ticket_id}/merges", response_model=ListPage[MergeView])
def list_merges(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> ListPage[MergeView]:
    """Merges this ticket took part in, as primary or as secondary, newest first."""
    return ListPage[MergeView].of([MergeView.of(m) for m in merges.list_merges(session, actor, ticket_id)])


@router.post("/merges/{merge_id}/undo", response_model=MergeView)
def undo_merge(merge_id: PathId, session: DbSession, actor: CurrentActor) -> MergeView:
    """Put both tickets back exactly as they were before the merge (409 if already undone, or if
    a merged message has moved again since)."""
    return MergeView.of(merges.unmerge(session, actor, merge_id))


@router.post("/tickets/{ticket_id}/unmerge", response_model=MergeView)
def unmerge_ticket(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> MergeView:
    """Undo the merge that closed this (secondary) ticket."""
    merge = merges.active_merge_of(session, actor, ticket_id)
    return MergeView.of(merges.unmerge(session, actor, merge.id))


@router.post("/tickets/{ticket_id}/split", response_model=TicketStaffView, status_code=201)
def split(ticket_id: PathId, body: SplitIn, session: DbSession, actor: CurrentActor) -> TicketStaffView:
    """Move the chosen messages to a new ticket (same customer, department, priority, category)."""
    ticket = splits.split_ticket(session, actor, ticket_id, body.message_ids, title=body.title)
    return TicketStaffView.of(ticket_service.load_for_view(session, ticket))
