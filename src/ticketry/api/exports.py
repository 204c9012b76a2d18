"""`/tickets/export.csv`, `/tickets/export.pdf`, `/tickets/{id}/export.pdf`: the filtered list
(same filters as `GET /tickets`) and one ticket, for those with `tickets:export`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from ticketry.api.list_query import ListParams, documented
from ticketry.exports import pdf, tables
from ticketry.http.deps import CurrentActor, DbSession, PathId, database
from ticketry.http.downloads import export_headers

router = APIRouter(prefix="/tickets", tags=["exports"])

COLUMNS_HELP = f"Comma-separated or repeated, in order; default {','.join(tables.DEFAULT_COLUMNS)}. " + (
    f"Any of: {', '.join(tables.COLUMNS)}."
)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The list as CSV, streamed."}},
    openapi_extra=documented(paged=False),
)
def export_csv(
    request: Request,
    actor: CurrentActor,
    listed: ListParams,
    columns: Annotated[list[str] | None, Query(description=COLUMNS_HELP, max_length=50)] = None,
) -> StreamingResponse:
    """The tickets `GET /tickets` would list with these filters, all of them, in its order. Cells
    a spreadsheet would run as formulas start with an apostrophe."""
    chosen = tables.choose_columns(columns or [])
    tables.check_export(actor)
    stream = tables.csv_stream(database(request), actor, listed.filters, listed.sort, chosen)
    return StreamingResponse(
        stream, media_type="text/csv; charset=utf-8", headers=export_headers("tickets", "csv")
    )


@router.get(
    "/export.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        501: {"description": "The PDF extra is not installed."},
    },
    openapi_extra=documented(paged=False),
)
def export_list_pdf(session: DbSession, actor: CurrentActor, listed: ListParams) -> Response:
    """The list as PDF, at most 5,000 tickets."""
    body = pdf.list_pdf(session, actor, listed.filters, listed.sort, "Tickets")
    return Response(body, media_type="application/pdf", headers=export_headers("tickets", "pdf"))


@router.get(
    "/{ticket_id}/export.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        501: {"description": "The PDF extra is not installed."},
    },
)
def export_ticket_pdf(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    """One ticket with its conversation as you may read it (internal notes for staff only)."""
    tables.check_export(actor)
    body = pdf.ticket_pdf(session, actor, ticket_id)
    return Response(body, media_type="application/pdf", headers=export_headers(f"ticket-{ticket_id}", "pdf"))
