"""`/mailboxes`, `/mail/log` (admins, `admin:mail`) and the inbound webhook `/mail/inbound`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.core.errors import TooManyRequests
from ticketry.core.pagination import ListPage, PaginationView, pagination_view
from ticketry.core.schemas import MAX_ID, Schema
from ticketry.http.deps import (
    CurrentActor,
    DbSession,
    Paging,
    PathId,
    StreamingActor,
    bearer_secret,
    database,
)
from ticketry.http.downloads import SANDBOX_CSP
from ticketry.http.uploads import IDLE_SECONDS, UploadCancelled, UploadStalled
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.errors import InboundMailTooLarge
from ticketry.mail.inbound.schemas import (
    ConnectionTestView,
    InboundReceived,
    MailboxCreate,
    MailboxUpdate,
    MailboxView,
    MailLogItem,
    MailLogView,
    WebhookSecretView,
)
from ticketry.mail.log.models import Direction, MailStatus
from ticketry.mailparse import imap

router = APIRouter(tags=["mail"])

# What a mail provider or an MTA pipe may call a raw RFC 5322 message.
RAW_MAIL_TYPES = ("message/rfc822", "application/octet-stream", "text/plain")


class MailLogPage(Schema):
    data: list[MailLogItem]
    pagination: PaginationView


# --- mailboxes ----------------------------------------------------------------------------------


@router.get("/mailboxes", response_model=ListPage[MailboxView])
def list_mailboxes(session: DbSession, actor: CurrentActor) -> ListPage[MailboxView]:
    mailboxes = mail_service.list_mailboxes(session, actor)
    return ListPage[MailboxView].of([MailboxView.of(m) for m in mailboxes])


@router.post("/mailboxes", response_model=MailboxView, status_code=201)
def create_mailbox(body: MailboxCreate, session: DbSession, actor: CurrentActor) -> MailboxView:
    return MailboxView.of(mail_service.create_mailbox(session, actor, body.fields()))


@router.get("/mailboxes/{mailbox_id}", response_model=MailboxView)
def get_mailbox(mailbox_id: PathId, session: DbSession, actor: CurrentActor) -> MailboxView:
    return MailboxView.of(mail_service.get_mailbox(session, actor, mailbox_id))


@router.patch("/mailboxes/{mailbox_id}", response_model=MailboxView)
def update_mailbox(
    mailbox_id: PathId, body: MailboxUpdate, session: DbSession, actor: CurrentActor
) -> MailboxView:
    """A change of server, user or folder starts reading that folder from its beginning."""
    return MailboxView.of(mail_service.update_mailbox(session, actor, mailbox_id, body.fields()))


@router.delete("/mailboxes/{mailbox_id}", status_code=204)
def delete_mailbox(mailbox_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    """The mail it brought stays in the log and on its tickets."""
    mail_service.delete_mailbox(session, actor, mailbox_id)
    return Response(status_code=204)


@router.post("/mailboxes/{mailbox_id}/test", response_model=ConnectionTestView)
def probe_mailbox(request: Request, mailbox_id: PathId, actor: StreamingActor) -> ConnectionTestView:
    """Log in with the saved settings and open the folder. Always `200` once the mailbox is
    found: `ok` says whether it worked, `message` how many messages the folder holds or, in one
    of a few fixed sentences, what went wrong (cannot connect, TLS failed, not an IMAP server,
    login refused, folder missing, too many tests). Nothing the server wrote is passed on; the
    test gives up after 10 s; an admin's seventh test within a minute is a `429`
    (docs/configuration.md)."""
    if not imap.PROBES.take((actor.user_id, actor.email)):
        raise TooManyRequests(imap.TOO_MANY_PROBES, retry_after=60)
    check = mail_service.check_connection(database(request), actor, mailbox_id)
    return ConnectionTestView(ok=check.ok, message=check.message)


@router.post("/mailboxes/{mailbox_id}/poll", response_model=MailboxView, status_code=202)
def poll_mailbox(mailbox_id: PathId, session: DbSession, actor: CurrentActor) -> MailboxView:
    """Poll within seconds instead of at the next interval (active IMAP mailboxes)."""
    return MailboxView.of(mail_service.poll_now(session, actor, mailbox_id))


@router.post("/mailboxes/{mailbox_id}/webhook-secret", response_model=WebhookSecretView, status_code=201)
def create_webhook_secret(
    mailbox_id: PathId, session: DbSession, actor: CurrentActor, response: Response
) -> WebhookSecretView:
    """A new secret for `POST /mail/inbound`, shown this once; the previous one stops working."""
    secret = mail_service.rotate_webhook_secret(session, actor, mailbox_id)
    response.headers["Cache-Control"] = "no-store"
    return WebhookSecretView(secret=secret, url=mail_service.webhook_url())


@router.delete("/mailboxes/{mailbox_id}/webhook-secret", status_code=204)
def disable_webhook(mailbox_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    mail_service.disable_webhook(session, actor, mailbox_id)
    return Response(status_code=204)


# --- the mail log -------------------------------------------------------------------------------


@router.get("/mail/log", response_model=MailLogPage)
def list_mail(
    session: DbSession,
    actor: CurrentActor,
    paging: Paging,
    direction: Direction | None = None,
    status: MailStatus | None = None,
    mailbox_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[str, Query(max_length=200, description="In sender, recipients, subject, Message-ID.")] = "",
    since: Annotated[datetime | None, Query(description="Only mail logged at or after this time.")] = None,
) -> MailLogPage:
    filters = mail_service.MailLogFilter(
        direction=direction, status=status, mailbox_id=mailbox_id, query=q, since=since
    )
    page = mail_service.list_mail(session, actor, filters, paging)
    return MailLogPage(
        data=[MailLogItem.model_validate(entry) for entry in page.items], pagination=pagination_view(page)
    )


@router.get("/mail/log/{mail_id}", response_model=MailLogView)
def get_mail(mail_id: PathId, session: DbSession, actor: CurrentActor) -> MailLogView:
    return MailLogView.of(mail_service.get_mail(session, actor, mail_id))


@router.get(
    "/mail/log/{mail_id}/raw",
    response_class=Response,
    responses={200: {"description": "The mail as received or sent.", "content": {"message/rfc822": {}}}},
)
def raw_mail(mail_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    """The `.eml` file; `404 mail_not_found` when its content is not kept (delivered account mail)."""
    raw = mail_service.raw_mail(session, actor, mail_id)
    headers = {
        "Content-Disposition": f'attachment; filename="mail-{mail_id}.eml"',
        "Content-Security-Policy": SANDBOX_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return Response(raw, media_type="message/rfc822", headers=headers)


@router.post("/mail/log/{mail_id}/reprocess", response_model=MailLogView, status_code=202)
def reprocess(mail_id: PathId, session: DbSession, actor: CurrentActor) -> MailLogView:
    """Held, refused or failed inbound mail goes through ingestion again (held mail is released:
    not held again for the same reason); failed outbound mail is sent again."""
    return MailLogView.of(mail_service.reprocess(session, actor, mail_id))


# --- the inbound webhook ------------------------------------------------------------------------


@router.post(
    "/mail/inbound",
    response_model=InboundReceived,
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in RAW_MAIL_TYPES},
        }
    },
)
async def receive_mail(request: Request) -> InboundReceived:
    """Push one raw mail (RFC 5322, as received) to a mailbox. Authenticated only by
    `Authorization: Bearer <the mailbox's webhook secret>`. The mail is stored and queued
    before the answer, then ingested in the background like polled mail: `202` with its id in
    the mail log. `401` for a missing or wrong secret or an inactive mailbox, `413` over
    `TICKETRY_MAIL_MAX_MESSAGE_SIZE`, `415` for another content type, `422` for an empty body."""
    secret = bearer_secret(request) or ""
    db = database(request)
    # Refused before a byte of the body is read; checked again when storing, in case the
    # mailbox was turned off or its secret changed meanwhile.
    await run_in_threadpool(_authenticate, db, secret)
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in RAW_MAIL_TYPES:
        raise HTTPException(415, f"Send the raw mail as {RAW_MAIL_TYPES[0]}.")
    raw = await _read_mail(request, int(get_settings().mail_max_message_size))
    entry_id = await run_in_threadpool(_store, db, secret, raw)
    return InboundReceived(id=entry_id, status=MailStatus.RECEIVED)


def _authenticate(db: Database, secret: str) -> None:
    with db.unit_of_work(write=False) as session:
        mail_service.webhook_mailbox(session, secret)


def _store(db: Database, secret: str, raw: bytes) -> int:
    with db.unit_of_work() as session:
        mailbox = mail_service.webhook_mailbox(session, secret)
        return mail_service.receive_webhook(session, mailbox, raw).id


async def _read_mail(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is longer than `limit`; never more than
    `limit + 1` bytes are kept."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    stream = request.stream().__aiter__()
    while True:
        try:
            with anyio.fail_after(IDLE_SECONDS):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            return bytes(body)
        except TimeoutError as error:
            raise UploadStalled(
                f"Nothing arrived for {IDLE_SECONDS:.0f} seconds; the mail was dropped."
            ) from error
        except ClientDisconnect as error:
            raise UploadCancelled("The client went away before the mail was complete.") from error
        body += chunk[: limit + 1 - len(body)]
        if len(body) > limit:
            raise _too_large(limit)


def _too_large(limit: int) -> InboundMailTooLarge:
    return InboundMailTooLarge(
        "The mail is larger than TICKETRY_MAIL_MAX_MESSAGE_SIZE.", details={"limit": limit}
    )
