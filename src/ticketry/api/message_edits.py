"""`/tickets/{id}/replies/{message_id}`: editing a reply or note, and reading its earlier texts
(docs/product.md §2 "Messages"; the rules are in `messages.revisions`)."""

from __future__ import annotations

from fastapi import APIRouter

from ticketry.api.views import message_view
from ticketry.core.pagination import ListPage
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.messages import revisions
from ticketry.messages import service as message_service
from ticketry.messages.schemas import MessageCustomerView, MessageEdit, MessageRevisionView, MessageStaffView

router = APIRouter(prefix="/tickets", tags=["replies"])

MessageView = MessageStaffView | MessageCustomerView


@router.get("/{ticket_id}/replies/{message_id}", response_model=MessageView)
def get_reply(ticket_id: PathId, message_id: PathId, session: DbSession, actor: CurrentActor) -> MessageView:
    """One reply or note, as the conversation shows it to you."""
    return message_view(actor, revisions.get_message(session, actor, ticket_id, message_id))


@router.patch("/{ticket_id}/replies/{message_id}", response_model=MessageView)
def edit_reply(
    ticket_id: PathId, message_id: PathId, body: MessageEdit, session: DbSession, actor: CurrentActor
) -> MessageView:
    """The author (or an admin) replaces the text; the old text is kept as a revision. The same
    text again changes nothing. 403 for someone else's message, 409 on a deleted message, a
    customer's message on a closed ticket, or `expectedRevisions` that no longer holds."""
    message = revisions.edit_message(
        session, actor, ticket_id, message_id, body=body.body, expected_revisions=body.expected_revisions
    )
    return message_view(actor, message_service.load_for_view(session, message))


@router.get("/{ticket_id}/replies/{message_id}/revisions", response_model=ListPage[MessageRevisionView])
def list_revisions(
    ticket_id: PathId, message_id: PathId, session: DbSession, actor: CurrentActor
) -> ListPage[MessageRevisionView]:
    """The message's earlier texts, newest first (the current text is the message itself).
    Whoever cannot read the message gets 404 here too."""
    found = revisions.list_revisions(session, actor, ticket_id, message_id)
    return ListPage[MessageRevisionView].of([MessageRevisionView.of(r) for r in found])
