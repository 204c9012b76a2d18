"""Tickets and lists as PDF (docs/product.md §3), through WeasyPrint, the optional extra `ticketry[pdf]`.

The HTML is built here from escaped text and the messages' own sanitised HTML, and WeasyPrint
may fetch nothing while it lays it out (no file, no URL: a message's image cannot make the server
request anything). What goes in is what the reader may see: the ticket through `access_ticket`,
the conversation through `list_messages` (internal notes for staff only), the list through
`filtered_tickets`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from html import escape
from typing import Any

from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.core.errors import DomainError
from ticketry.exports.tables import COLUMNS, check_export, list_query
from ticketry.messages import service as messages
from ticketry.search.service import TicketFilters, TicketSort
from ticketry.tickets import service as tickets
from ticketry.tickets.models import STATUS_LABELS

LIST_LIMIT = 5000
LIST_COLUMNS = ("number", "title", "status", "priority", "department", "customer", "assignee", "updated_at")
MISSING = "PDF export needs the optional extra: pip install 'ticketry[pdf]' (and the system's Pango library)."

STYLE = """
@page { size: A4; margin: 16mm 14mm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 15pt; margin: 0 0 4pt; } .muted { color: #555; }
table { width: 100%; border-collapse: collapse; margin: 6pt 0 10pt; }
th, td { text-align: left; border-bottom: 0.5pt solid #ccc; padding: 3pt 4pt; vertical-align: top; }
th { background: #f2f2f2; } .message { border: 0.5pt solid #ccc; padding: 6pt 8pt; margin: 0 0 6pt; }
.note { background: #fff8db; } .head { font-size: 8.5pt; color: #444; margin-bottom: 3pt; }
"""


class PdfUnavailable(DomainError):
    code = "pdf_unavailable"
    status = 501


@functools.cache
def _weasyprint() -> Any:
    try:
        return importlib.import_module("weasyprint")
    except (ImportError, OSError):  # OSError: the package is there but Pango is not
        return None


def available() -> bool:
    return _weasyprint() is not None


def _refuse_fetch(url: str, *args: object, **kwargs: object) -> dict[str, Any]:
    raise ValueError(f"PDF export fetches nothing ({url[:60]})")


def render(html: str) -> bytes:
    weasyprint = _weasyprint()
    if weasyprint is None:
        raise PdfUnavailable(MISSING)
    document = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch, base_url=None)
    pdf: bytes = document.write_pdf()
    return pdf


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def ticket_pdf(session: Session, actor: Actor, ticket_id: int) -> bytes:
    """One ticket: its fields, description and the conversation the actor may read. A ticket
    the actor may not read is a 404 whether or not the PDF extra is installed."""
    ticket = tickets.get_ticket(session, actor, ticket_id)
    thread = messages.list_messages(session, actor, ticket_id)
    if not available():
        raise PdfUnavailable(MISSING)
    fields = [
        ("Status", STATUS_LABELS[ticket.status]),
        ("Priority", ticket.priority.value.capitalize()),
        ("Department", ticket.department.name),
        ("Customer", f"{ticket.customer.name} <{ticket.customer.email}>"),
        ("Opened", ticket.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if actor.is_staff:
        fields += [
            ("Assignee", ticket.assignee.name if ticket.assignee else "Unassigned"),
            ("Tags", ", ".join(t.name for t in ticket.tags) or "none"),
        ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in fields)
    parts = [
        f"<h1>{escape(ticket.number)} · {escape(ticket.title)}</h1>",
        f"<table>{rows}</table>",
        _message(ticket.customer.name, ticket.created_at, ticket.description_html, []),
    ]
    for message in thread:
        badge = "Internal note" if message.is_internal else ("Support" if message.is_staff_reply else "")
        parts.append(
            _message(
                message.author.name,
                message.created_at,
                message.body_html,
                [a.filename for a in message.attachments],
                badge=badge,
                note=message.is_internal,
            )
        )
    return render(_page(f"{ticket.number} {ticket.title}", "".join(parts)))


def _message(
    author: str, at: Any, body_html: str, files: Sequence[str], *, badge: str = "", note: bool = False
) -> str:
    attached = f"<p class='muted'>Files: {escape(', '.join(files))}</p>" if files else ""
    label = f" · {escape(badge)}" if badge else ""
    return (
        f"<div class='message{' note' if note else ''}'><div class='head'><strong>{escape(author)}</strong>"
        f"{label} · {at.strftime('%Y-%m-%d %H:%M UTC')}</div>{body_html}{attached}</div>"
    )


def list_pdf(session: Session, actor: Actor, filters: TicketFilters, sort: TicketSort, title: str) -> bytes:
    """The filtered list, at most LIST_LIMIT rows (the page says when there were more). Filters
    the list refuses are refused the same way, whether or not the PDF extra is installed."""
    check_export(actor)
    query = list_query(session, actor, filters, sort)
    if not available():
        raise PdfUnavailable(MISSING)
    chosen = [COLUMNS[name] for name in LIST_COLUMNS]
    body: list[str] = []
    shown = 0
    more = False
    for rows in session.execute(query).partitions():
        for row in rows:
            if shown == LIST_LIMIT:
                more = True
                break
            cells = "".join(f"<td>{escape(str(c.read(row)))}</td>" for c in chosen)
            body.append(f"<tr>{cells}</tr>")
            shown += 1
        if more:
            break
    head = "".join(f"<th>{escape(c.label)}</th>" for c in chosen)
    note = (
        f"<p class='muted'>The first {LIST_LIMIT:,} tickets; export CSV for all of them.</p>" if more else ""
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return render(
        _page(title, f"<h1>{escape(title)}</h1><p class='muted'>{shown:,} tickets</p>{note}{table}")
    )
