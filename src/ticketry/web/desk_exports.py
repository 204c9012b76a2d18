"""Exports from the desk: the list on screen as CSV or PDF, a ticket as PDF. The filter arrives
as the list's own query string (`list`), read by `search.query` like the list itself, so the
file holds exactly the tickets the list showed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from ticketry.exports import pdf, tables
from ticketry.http.deps import DbSession, PathId, database
from ticketry.http.downloads import export_headers
from ticketry.search import query as list_query
from ticketry.web.session import SignedIn

router = APIRouter(prefix="/desk", include_in_schema=False)

ListString = Annotated[str, Query(alias="list", max_length=list_query.MAX_QUERY_LENGTH)]


@router.get("/export.csv")
def export_csv(
    request: Request,
    who: SignedIn,
    list_string: ListString = "",
    columns: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> Response:
    chosen = tables.choose_columns(columns or [])
    tables.check_export(who.actor)
    read = list_query.read_list_query(who.actor, list_string, defaults=list_query.DESK)
    stream = tables.csv_stream(database(request), who.actor, read.filters, read.sort, chosen)
    return StreamingResponse(
        stream, media_type="text/csv; charset=utf-8", headers=export_headers("tickets", "csv")
    )


@router.get("/export.pdf")
def export_pdf(session: DbSession, who: SignedIn, list_string: ListString = "") -> Response:
    tables.check_export(who.actor)
    read = list_query.read_list_query(who.actor, list_string, defaults=list_query.DESK)
    body = pdf.list_pdf(session, who.actor, read.filters, read.sort, "Tickets")
    return Response(body, media_type="application/pdf", headers=export_headers("tickets", "pdf"))


@router.get("/tickets/{ticket_id}/export.pdf")
def export_ticket(session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    tables.check_export(who.actor)
    body = pdf.ticket_pdf(session, who.actor, ticket_id)
    return Response(body, media_type="application/pdf", headers=export_headers(f"ticket-{ticket_id}", "pdf"))
