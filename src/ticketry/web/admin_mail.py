"""The admin's mail pages (`/admin/mailboxes`, `/admin/mail`): support mailboxes, their
connection test and webhook, and the mail log. Plain forms that POST and redirect with a flash,
like the rest of `/admin`; the use cases require `admin:mail`, so refusals come from them.

Two answers are not redirects: a new webhook secret is shown on the page that answers the POST
(never in a flash cookie, never cached), and the connection test authenticates in a short read
of its own so that no transaction is open while the mail server takes its time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ticketry.auth.actor import require
from ticketry.auth.permissions import Permission
from ticketry.core.pagination import PageRequest
from ticketry.core.schemas import MAX_ID
from ticketry.http.deps import BrowserSession, DbSession, PathId, browser_session, database, sent_csrf
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.models import Mailbox, ProcessedAction
from ticketry.mail.log.models import Direction, MailStatus
from ticketry.mailparse import imap
from ticketry.mailparse.imap import ImapSecurity
from ticketry.threads import merge as merges
from ticketry.users import service as user_service
from ticketry.web.session import LoginRequired, SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(prefix="/admin", include_in_schema=False)

# Badge colours of the mail statuses, borrowed from the ticket statuses and priorities.
STATUS_TONES = {
    MailStatus.QUEUED: "status-open",
    MailStatus.RECEIVED: "status-open",
    MailStatus.RETRYING: "status-waiting_for_response",
    MailStatus.SENT: "status-resolved",
    MailStatus.CREATED_TICKET: "status-resolved",
    MailStatus.APPENDED: "status-resolved",
    MailStatus.FAILED: "priority-urgent",
    MailStatus.REJECTED: "priority-urgent",
    MailStatus.SPAM_HELD: "status-on_hold",
    MailStatus.LOOP: "status-on_hold",
    MailStatus.AUTO_REPLY: "status-on_hold",
    MailStatus.NOT_SENT: "status-closed",
    MailStatus.DUPLICATE: "status-closed",
    MailStatus.BOUNCE: "status-closed",
}
SECURITY_LABELS = {
    ImapSecurity.TLS: "TLS (usually port 993)",
    ImapSecurity.STARTTLS: "STARTTLS (usually port 143)",
    ImapSecurity.NONE: "None: password in clear text",
}


class MailboxForm(BaseModel):
    """The mailbox form as posted. Only sizes are checked here; the use case checks the values
    and its messages are the ones the admin sees."""

    name: str = Field(max_length=200)
    address: str = Field(max_length=320)
    department: int = Field(ge=1, le=MAX_ID)
    is_active: bool = False
    imap_host: str = Field(default="", max_length=300)
    imap_port: int = Field(default=993, ge=-MAX_ID, le=MAX_ID)
    imap_security: ImapSecurity = ImapSecurity.TLS
    imap_username: str = Field(default="", max_length=400)
    imap_password: str = Field(default="", max_length=1000)
    imap_folder: str = Field(default="INBOX", max_length=300)
    processed_action: ProcessedAction = ProcessedAction.MARK_SEEN
    processed_folder: str = Field(default="Processed", max_length=300)
    poll_interval_seconds: int = Field(default=60, ge=-MAX_ID, le=MAX_ID)

    def fields(self) -> mail_service.MailboxFields:
        """Every field is set (an empty password keeps the stored one)."""
        return mail_service.MailboxFields(
            name=self.name,
            address=self.address.strip(),
            department_id=self.department,
            is_active=self.is_active,
            imap_host=self.imap_host,
            imap_port=self.imap_port,
            imap_security=self.imap_security,
            imap_username=self.imap_username,
            imap_password=self.imap_password,
            imap_folder=self.imap_folder,
            processed_action=self.processed_action,
            processed_folder=self.processed_folder,
            poll_interval_seconds=self.poll_interval_seconds,
        )


MailboxFormData = Annotated[MailboxForm, Form()]


def signed_in_briefly(request: Request, csrf: Annotated[str, Depends(sent_csrf)]) -> BrowserSession:
    """Who is signed in, read in a short transaction of its own: `SignedIn` keeps the request's
    unit of work (on SQLite, the write lock) open until the route returns."""
    with database(request).unit_of_work(write=False) as session:
        who = browser_session(request, session, csrf)
    if who is None:
        raise LoginRequired("/")
    return who


def _done(target: str, text: str, *, kind: str = "success") -> Response:
    response = RedirectResponse(target, status_code=303)
    set_flash(response, text, kind=kind)
    return response


def _form_context(session: Session, mailbox: Mailbox | None) -> dict[str, object]:
    return {
        "mailbox": mailbox,
        "departments": user_service.list_departments(session, include_inactive=True),
        "securities": SECURITY_LABELS,
        "min_poll": mail_service.MIN_POLL_SECONDS,
        "max_poll": mail_service.MAX_POLL_SECONDS,
        "webhook_url": mail_service.webhook_url(),
        "section": "mailboxes",
    }


# --- mailboxes ----------------------------------------------------------------------------------


@router.get("/mailboxes")
def mailboxes_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    mailboxes = mail_service.list_mailboxes(session, who.actor)
    departments = user_service.list_departments(session, include_inactive=True)
    context = {
        "mailboxes": mailboxes,
        "department_names": {d.id: d.name for d in departments},
        "section": "mailboxes",
    }
    return render(request, "admin/mailboxes.html", context, who=who)


@router.get("/mailboxes/new")
def new_mailbox_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    require(who.actor, Permission.ADMIN_MAIL)
    return render(request, "admin/mailbox_form.html", _form_context(session, None), who=who)


@router.post("/mailboxes")
def create_mailbox(session: DbSession, who: SignedIn, form: MailboxFormData) -> Response:
    mailbox = mail_service.create_mailbox(session, who.actor, form.fields())
    return _done(f"/admin/mailboxes/{mailbox.id}", f"Mailbox {mailbox.name} ({mailbox.address}) was created.")


@router.get("/mailboxes/{mailbox_id}")
def mailbox_page(request: Request, session: DbSession, who: SignedIn, mailbox_id: PathId) -> Response:
    mailbox = mail_service.get_mailbox(session, who.actor, mailbox_id)
    return render(request, "admin/mailbox_form.html", _form_context(session, mailbox), who=who)


@router.post("/mailboxes/{mailbox_id}")
def update_mailbox(session: DbSession, who: SignedIn, mailbox_id: PathId, form: MailboxFormData) -> Response:
    mailbox = mail_service.update_mailbox(session, who.actor, mailbox_id, form.fields())
    return _done(f"/admin/mailboxes/{mailbox.id}", f"Mailbox {mailbox.name} was saved.")


@router.post("/mailboxes/{mailbox_id}/delete")
def delete_mailbox(session: DbSession, who: SignedIn, mailbox_id: PathId) -> Response:
    mail_service.delete_mailbox(session, who.actor, mailbox_id)
    return _done("/admin/mailboxes", "The mailbox was deleted; the mail it brought stays in the log.")


@router.post("/mailboxes/{mailbox_id}/test")
def connection_test(
    request: Request, who: Annotated[BrowserSession, Depends(signed_in_briefly)], mailbox_id: PathId
) -> Response:
    """The flash says one of the probe's fixed sentences, never what the server wrote."""
    if not imap.PROBES.take((who.actor.user_id, who.actor.email)):
        return _done(
            f"/admin/mailboxes/{mailbox_id}", f"Connection test: {imap.TOO_MANY_PROBES}", kind="error"
        )
    check = mail_service.check_connection(database(request), who.actor, mailbox_id)
    text = f"Connection test: {check.message}"
    return _done(f"/admin/mailboxes/{mailbox_id}", text, kind="success" if check.ok else "error")


@router.post("/mailboxes/{mailbox_id}/poll")
def poll_mailbox(session: DbSession, who: SignedIn, mailbox_id: PathId) -> Response:
    mailbox = mail_service.poll_now(session, who.actor, mailbox_id)
    if not mailbox.imap_host:
        return _done(
            f"/admin/mailboxes/{mailbox.id}", "This mailbox has no IMAP server to poll.", kind="info"
        )
    if not mailbox.is_active:
        return _done(
            f"/admin/mailboxes/{mailbox.id}", "This mailbox is inactive; activate it first.", kind="info"
        )
    return _done(f"/admin/mailboxes/{mailbox.id}", f"{mailbox.name} will be polled within a few seconds.")


@router.post("/mailboxes/{mailbox_id}/webhook-secret")
def create_webhook_secret(
    request: Request, session: DbSession, who: SignedIn, mailbox_id: PathId
) -> Response:
    """The secret is on this answer only: not in a flash cookie, not in any cache."""
    secret = mail_service.rotate_webhook_secret(session, who.actor, mailbox_id)
    mailbox = mail_service.get_mailbox(session, who.actor, mailbox_id)
    context = {**_form_context(session, mailbox), "new_secret": secret}
    response = render(request, "admin/mailbox_form.html", context, who=who)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/mailboxes/{mailbox_id}/webhook-secret/delete")
def disable_webhook(session: DbSession, who: SignedIn, mailbox_id: PathId) -> Response:
    mailbox = mail_service.disable_webhook(session, who.actor, mailbox_id)
    return _done(f"/admin/mailboxes/{mailbox.id}", "The webhook is off: its secret no longer works.")


# --- the mail log -------------------------------------------------------------------------------


@router.get("/mail")
def mail_log_page(
    request: Request,
    session: DbSession,
    who: SignedIn,
    direction: Annotated[Direction | Literal[""], Query()] = "",
    status: Annotated[MailStatus | Literal[""], Query()] = "",
    mailbox: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    mailbox_id = (
        int(mailbox) if mailbox.isascii() and mailbox.isdigit() and 0 < int(mailbox) <= MAX_ID else None
    )
    filters = mail_service.MailLogFilter(
        direction=direction or None, status=status or None, mailbox_id=mailbox_id, query=q
    )
    found = mail_service.list_mail(session, who.actor, filters, PageRequest(page=page, page_size=50))
    tickets = [e.ticket_id for e in found.items if e.ticket_id is not None]
    mailboxes = mail_service.list_mailboxes(session, who.actor)
    context = {
        "page": found,
        "filters": filters,
        "filtered": bool(direction or status or mailbox_id or q.strip()),
        "mailboxes": mailboxes,
        "mailbox_names": {m.id: m.name for m in mailboxes},
        "directions": list(Direction),
        "mail_statuses": list(MailStatus),
        "tones": STATUS_TONES,
        "params": request.query_params,
        "ticket_numbers": merges.numbers(session, tickets),  # admins see every ticket
        "section": "mail",
    }
    return render(request, "admin/mail_log.html", context, who=who)


@router.get("/mail/{mail_id}")
def mail_entry_page(request: Request, session: DbSession, who: SignedIn, mail_id: PathId) -> Response:
    entry = mail_service.get_mail(session, who.actor, mail_id)
    mailbox = (
        mail_service.get_mailbox(session, who.actor, entry.mailbox_id)
        if entry.mailbox_id is not None
        else None
    )
    senderless = mail_service.senderless(entry)
    context = {
        "entry": entry,
        "mailbox": mailbox,
        "has_raw": entry.raw is not None,
        "senderless": senderless,
        "no_sender": mail_service.NO_SENDER,
        "reprocessable": not senderless and mail_service.reprocessable(entry),
        "tones": STATUS_TONES,
        "ticket_numbers": merges.numbers(session, [entry.ticket_id] if entry.ticket_id else []),
        "section": "mail",
    }
    return render(request, "admin/mail_entry.html", context, who=who)


@router.post("/mail/{mail_id}/reprocess")
def reprocess(session: DbSession, who: SignedIn, mail_id: PathId) -> Response:
    entry = mail_service.reprocess(session, who.actor, mail_id)
    action = "sent again" if entry.direction is Direction.OUTBOUND else "queued to be processed again"
    return _done(f"/admin/mail/{entry.id}", f"The mail was {action}.")
