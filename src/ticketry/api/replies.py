"""`/tickets/{id}/replies`: the conversation and posting to it."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response

from ticketry.api.views import MessageList, message_view, message_views
from ticketry.attachments.intake import staged_batch
from ticketry.auth.actor import Actor
from ticketry.http.deps import CurrentActor, DbSession, PathId, StreamingActor, database
from ticketry.http.openapi import json_or_multipart
from ticketry.http.uploads import in_upload_thread, is_multipart, new_files, receive_body
from ticketry.messages import held
from ticketry.messages import service as message_service
from ticketry.messages.attachments import readable_bytes
from ticketry.messages.schemas import MessageCustomerView, MessageStaffView, ReplyCreate
from ticketry.tickets.access import access_ticket
from ticketry.tickets.models import Source

router = APIRouter(prefix="/tickets", tags=["replies"])

MessageView = MessageStaffView | MessageCustomerView
_REPEATED_FIELDS = frozenset({"attachment_ids", "attachmentIds"})


@router.get("/{ticket_id}/replies", response_model=MessageList)
def list_replies(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> MessageList:
    return message_views(actor, message_service.list_messages(session, actor, ticket_id))


@router.post(
    "/{ticket_id}/replies",
    response_model=MessageView,
    status_code=201,
    openapi_extra=json_or_multipart(ReplyCreate),
)
async def post_reply(request: Request, ticket_id: PathId, actor: StreamingActor) -> MessageView:
    """JSON, or multipart/form-data with the same fields and the files in parts of their own."""
    return await in_upload_thread(partial(_post_reply, request, ticket_id, actor))


def _post_reply(request: Request, ticket_id: int, actor: Actor) -> MessageView:
    db = database(request)
    # Who may not see the ticket learns nothing, and uploads nothing, before the 404.
    with db.unit_of_work(write=False) as session:
        access_ticket(session, actor, ticket_id, include_deleted=True)
        # The room left for files matters only to a body that carries them.
        used = readable_bytes(session, actor, ticket_id) if is_multipart(request) else 0
    with staged_batch() as staged:
        body = receive_body(request, ReplyCreate, staged, repeated=_REPEATED_FIELDS, used=used)
        with db.unit_of_work() as session:
            message = message_service.post_reply(
                session,
                actor,
                ticket_id,
                body=body.message,
                is_internal=body.is_internal,
                is_solution=body.is_solution,
                source=Source.API,
                files=new_files(request, body.attachment_ids, staged),
            )
            return message_view(actor, message)


@router.delete("/{ticket_id}/replies/{message_id}", status_code=204)
def delete_reply(ticket_id: PathId, message_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    """Admins: soft-delete a reply or note; its files go with it."""
    message_service.delete_message(session, actor, ticket_id, message_id)
    return Response(status_code=204)


@router.post("/{ticket_id}/replies/{message_id}/restore", response_model=MessageView)
def restore_reply(
    ticket_id: PathId, message_id: PathId, session: DbSession, actor: CurrentActor
) -> MessageView:
    """Admins: bring back a deleted reply or note, with its files."""
    message = message_service.restore_message(session, actor, ticket_id, message_id)
    return message_view(actor, message_service.load_for_view(session, message))


@router.post("/{ticket_id}/replies/{message_id}/accept", response_model=MessageStaffView)
def accept_held_reply(
    ticket_id: PathId, message_id: PathId, session: DbSession, actor: CurrentActor
) -> MessageStaffView:
    """Staff: accept mail held for review (`heldReason` set) into the conversation: the customer
    sees it from now on, and its author becomes a participant whose later mail joins as it comes."""
    message = held.accept_held(session, actor, ticket_id, message_id)
    return MessageStaffView.model_validate(message_service.load_for_view(session, message))
