"""The control-character rule of `core.schemas` for what FastAPI reads from the URL and from
forms (issue 12, item 12): every path parameter and every query parameter (single-line: no line
break either) and every field of a form body (LF and CR allowed, as in a textarea).
Request bodies read into schemas are held to the same rule by `core.schemas.Input`.

Installed as a dependency of the two routers every route goes through (`api.router`, `web.router`),
so a route added later is covered without doing anything; the route walk
(tests/security/test_every_route.py) checks that it is there.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, params
from fastapi.exceptions import RequestValidationError

from ticketry.core.schemas import CONTROL_CHARACTER_ERROR, control_character, control_character_message


def _problem(where: str, name: str, character: str) -> dict[str, Any]:
    return {
        "type": CONTROL_CHARACTER_ERROR,
        "loc": (where, name),
        "msg": control_character_message(character),
        "input": None,
    }


def _reads_form(request: Request) -> bool:
    """Whether FastAPI parsed this request's body as a form (then it is cached on the request,
    and reading it again costs nothing; a body the route streams itself is never touched)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    return body_field is not None and isinstance(body_field.field_info, params.Form)


async def refuse_control_characters(request: Request) -> None:
    """A 422 naming each path parameter, query parameter or form field with a refused character."""
    problems: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        found = control_character(str(value), multiline=False)
        if found is not None:
            problems.append(_problem("path", name, found))
    for name, value in request.query_params.multi_items():
        found = control_character(name + value, multiline=False)
        if found is not None:
            problems.append(_problem("query", name, found))
    if _reads_form(request):
        form = await request.form()
        for name, field in form.multi_items():
            # A file's content is not text; its name is cleaned where it is stored.
            text = name if not isinstance(field, str) else name + field
            found = control_character(name, multiline=False) or control_character(text)
            if found is not None:
                problems.append(_problem("body", name, found))
    if problems:
        raise RequestValidationError(problems)
