"""The ticket list's filters in the API: `GET /tickets` and its exports read the query string with
`search.query` (the reader the desk and saved views use), and document it in OpenAPI from the
same table, since FastAPI does not see parameters a route reads itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ticketry.core.pagination import PageRequest
from ticketry.http.deps import CurrentActor
from ticketry.search import query
from ticketry.search.query import PARAMETERS, ListQuery, Parameter, Takes
from ticketry.search.service import TagMode


async def list_query(request: Request, actor: CurrentActor) -> ListQuery:  # no I/O: no thread hop
    return query.read_list_query(actor, request.url.query, defaults=query.API)


ListParams = Annotated[ListQuery, Depends(list_query)]

_DEFAULTS: dict[str, Any] = {
    "sort": query.API.sort.value,
    "order": query.Order.DESC.value,
    "tag_mode": TagMode.ALL.value,
    "watched": False,
    "deleted": False,
    "page": 1,
    "page_size": PageRequest.page_size,
}


def _schema(parameter: Parameter) -> dict[str, Any]:
    schema: dict[str, Any]
    match parameter.takes:
        case Takes.ONE_OF:
            schema = {"type": "string", "enum": list(parameter.choices)}
        case Takes.SOME_OF | Takes.TEXTS:
            items: dict[str, Any] = {"type": "string"}
            if parameter.max_length:
                items["maxLength"] = parameter.max_length
            schema = {"type": "array", "items": items, "maxItems": query.MAX_VALUES}
        case Takes.TEXT:
            schema = {"type": "string", "maxLength": parameter.max_length}
        case Takes.ID | Takes.NUMBER:
            schema = {"type": "integer", "minimum": parameter.low, "maximum": parameter.high}
        case Takes.AGENT:
            schema = {"type": "string"}
        case Takes.MOMENT:
            schema = {
                "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
            }
        case Takes.FLAG:
            schema = {"type": "boolean"}
    if parameter.name in _DEFAULTS:
        schema["default"] = _DEFAULTS[parameter.name]
    return schema


def _description(parameter: Parameter) -> str:
    if parameter.takes is Takes.SOME_OF:
        return f"{parameter.help} Repeat or comma-separate: {', '.join(parameter.choices)}."
    if parameter.takes is Takes.TEXTS:
        return f"{parameter.help} Repeat or comma-separate."
    return parameter.help


def documented(*, paged: bool) -> dict[str, Any]:
    """`openapi_extra` for a route that takes the list's filters (and, if `paged`, its page)."""
    return {
        "parameters": [
            {
                "name": parameter.name,
                "in": "query",
                "required": False,
                "description": _description(parameter),
                "schema": _schema(parameter),
            }
            for parameter in PARAMETERS
            if paged or parameter.kept
        ]
    }
