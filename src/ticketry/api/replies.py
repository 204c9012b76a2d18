"""`/tickets/{id}/replies`: the conversation and posting to it."""

from __future__ import annotations

from fastapi import APIRouter

from ticketry.api.views import MessageList, message_view, message_views
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.messages import service as message_service
from ticketry.messages.schemas import MessageCustomerView, MessageStaffView, ReplyCreate
from ticketry.tickets.models import Source

router = APIRouter(prefix="/tickets", tags=["replies"])

MessageView = MessageStaffView | MessageCustomerView


@router.get("/{ticket_id}/replies", response_model=MessageList)
def list_replies(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> MessageList:
    return message_views(actor, message_service.list_messages(session, actor, ticket_id))


@router.post("/{ticket_id}/replies", response_model=MessageView, status_code=201)
def post_reply(ticket_id: PathId, body: ReplyCreate, session: DbSession, actor: CurrentActor) -> MessageView:
    message = message_service.post_reply(
        session,
        actor,
        ticket_id,
        body=body.message,
        is_internal=body.is_internal,
        is_solution=body.is_solution,
        source=Source.API,
    )
    return message_view(actor, message_service.load_for_view(session, message))
