"""Templates, their filters, and the one way pages are rendered."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request, Response
from jinja2_fragments.fastapi import Jinja2Blocks

from ticketry.attachments.intake import human_size
from ticketry.attachments.kinds import KINDS
from ticketry.attachments.service import MAX_PER_REQUEST
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.http.deps import BrowserSession
from ticketry.mail.outbound.smtp import SmtpServer
from ticketry.messages.revisions import may_edit as may_edit_message
from ticketry.search.service import VIEW_COUNT_CAP
from ticketry.tickets.lifecycle import ACTIVE_STATUSES
from ticketry.tickets.models import STATUS_LABELS, Priority, TicketStatus

HERE = Path(__file__).parent
FLASH_COOKIE = "ticketry_flash"

templates = Jinja2Blocks(directory=HERE / "templates")
# Templates are part of the installed code: read once per process, not checked on disk (a stat of
# every file a page extends or includes) on every render. A changed template needs a restart.
templates.env.auto_reload = False


def _label(value: Any) -> str:
    if isinstance(value, TicketStatus):
        return STATUS_LABELS[value]
    if isinstance(value, Priority):
        return value.value.title()
    return str(value).replace("_", " ").capitalize()


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = int((now() - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def _badge(count: int) -> str:
    """Sidebar counts are capped (search.VIEW_COUNT_CAP); the cap reads as "10k+"."""
    return f"{count // 1000}k+" if count >= VIEW_COUNT_CAP else str(count)


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _file_kind(kind: str) -> str:
    """What people call a stored file's kind: "PNG image", "PDF document"."""
    known = KINDS.get(kind)
    return known.label if known else kind


def _attachment_limits() -> dict[str, int]:
    """For the uploader: it refuses what the server would, before sending the bytes."""
    return {"files": MAX_PER_REQUEST, "file_size": int(get_settings().attachment_max_file_size)}


def _outgoing_mail_configured() -> bool:
    """Whether mail would be sent: the sender reads the same settings (mail.outbound.send)."""
    return SmtpServer.from_settings(get_settings()) is not None


def query_with(params: Any, **changes: Any) -> str:
    """The current query string with some keys replaced (pagination and sort links)."""
    pairs = [(k, v) for k, v in params.multi_items() if k not in changes]
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlencode(pairs)


templates.env.filters.update(
    badge=_badge,
    label=_label,
    ago=_ago,
    stamp=_stamp,
    duration=_duration,
    file_kind=_file_kind,
    file_size=human_size,
)
templates.env.globals.update(
    statuses=list(TicketStatus),
    priorities=list(Priority),
    query_with=query_with,
    attachment_limits=_attachment_limits,
    may_edit_message=may_edit_message,
    active_statuses=sorted(ACTIVE_STATUSES, key=list(TicketStatus).index),
    outgoing_mail_configured=_outgoing_mail_configured,
)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def is_live_refresh(request: Request) -> bool:
    """The page fetching itself to update its live regions (static/live.js)."""
    return "x-live-refresh" in request.headers


def _shows_flash(request: Request, template: str, block: str | None) -> bool:
    return block is None and not is_live_refresh(request) and not template.rpartition("/")[2].startswith("_")


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    who: BrowserSession | None,
    status: int = 200,
    block: str | None = None,
) -> Response:
    """Render a page (or one block of it, for htmx) with what every page needs.

    Only a whole page takes the one-time message, the one place that shows it (base.html). A
    live refresh, a block for htmx and a fragment a page fetches after it loads (`_name.html`)
    leave it alone: one they consumed would be lost to the page the person is going to (a
    reply's own event refreshing the old page, or the old page's "Assign to" list arriving, while
    the browser follows the reply's redirect)."""
    flash = read_flash(request) if _shows_flash(request, template, block) else None
    full = {
        "request": request,
        "me": who.actor if who else None,
        "csrf": who.csrf_token if who else "",
        "flash": flash,
        **context,
    }
    response = templates.TemplateResponse(request, template, full, status_code=status, block_name=block)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def set_flash(response: Response, text: str, *, kind: str = "success") -> None:
    """A one-time message shown on the next page (after a redirect)."""
    response.set_cookie(
        FLASH_COOKIE,
        quote(json.dumps({"kind": kind, "text": text[:500]})),
        max_age=60,
        httponly=True,
        samesite="lax",
        path="/",
    )


def read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("kind") not in ("success", "error", "info"):
        return None
    return {"kind": str(data["kind"]), "text": str(data.get("text", ""))}
