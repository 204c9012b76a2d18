"""`/attachments`: upload ahead of sending, read, download, remove an unsent upload."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ticketry.attachments import service as attachment_service
from ticketry.attachments.errors import MalformedUpload
from ticketry.attachments.intake import staged_batch
from ticketry.attachments.schemas import AttachmentView
from ticketry.auth.actor import Actor
from ticketry.core.pagination import ListPage
from ticketry.http.deps import CurrentActor, DbSession, PathId, StreamingActor, database
from ticketry.http.downloads import file_response
from ticketry.http.openapi import files_only
from ticketry.http.uploads import file_store, in_upload_thread, receive_multipart
from ticketry.messages import attachments as readable

router = APIRouter(tags=["attachments"])


@router.post(
    "/attachments", response_model=ListPage[AttachmentView], status_code=201, openapi_extra=files_only()
)
async def upload(request: Request, actor: StreamingActor) -> ListPage[AttachmentView]:
    """Upload files now, send them later: pass the ids as `attachmentIds` when creating a ticket
    or replying. Unsent uploads are visible only to you and removed after a day."""
    return await in_upload_thread(partial(_upload, request, actor))


def _upload(request: Request, actor: Actor) -> ListPage[AttachmentView]:
    files = file_store(request)
    db = database(request)
    with db.unit_of_work(write=False) as session:
        # Unsent uploads may hold one ticket's worth at most (the sweep removes them after a day).
        used = attachment_service.pending_bytes(session, actor)
    with staged_batch() as staged:
        receive_multipart(request, files.intake, staged, used=used)
        if not staged:
            raise MalformedUpload("No file in the upload: send parts named 'file' with a filename.")
        attachment_service.store(database(request), files.storage, staged)
        with database(request).unit_of_work() as session:
            saved = attachment_service.record(session, actor, staged)
            return ListPage[AttachmentView].of([AttachmentView.model_validate(a) for a in saved])


@router.get("/attachments/{attachment_id}", response_model=AttachmentView)
def get_attachment(attachment_id: PathId, session: DbSession, actor: CurrentActor) -> AttachmentView:
    return AttachmentView.model_validate(readable.get_attachment(session, actor, attachment_id))


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=Response,
    responses={200: {"description": "The file.", "content": {"application/octet-stream": {}}}},
)
@router.head("/attachments/{attachment_id}/content", response_class=Response, include_in_schema=False)
def download(
    request: Request,
    attachment_id: PathId,
    session: DbSession,
    actor: CurrentActor,
    inline: Annotated[bool, Query(description="Show a raster image in the page instead.")] = False,
) -> Response:
    attachment = readable.get_attachment(session, actor, attachment_id)
    return file_response(request, file_store(request).storage, attachment, inline=inline)


@router.delete("/attachments/{attachment_id}", status_code=204)
def discard(attachment_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    """Remove one of your uploads that was not sent yet."""
    attachment_service.discard_pending(session, actor, attachment_id)
    return Response(status_code=204)


@router.get("/tickets/{ticket_id}/attachments", response_model=ListPage[AttachmentView])
def ticket_attachments(
    ticket_id: PathId, session: DbSession, actor: CurrentActor
) -> ListPage[AttachmentView]:
    """Every file of the ticket you may read, the description's and the messages'."""
    found = readable.ticket_attachments(session, actor, ticket_id)
    return ListPage[AttachmentView].of([AttachmentView.model_validate(a) for a in found])
