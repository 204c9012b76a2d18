"""Schema base: camelCase JSON out, snake_case or camelCase accepted in (docs/product.md §4).

Also the one rule for control characters in text a client sends (issue 12, item 12): Unicode's
control characters (category Cc: C0, DEL and C1) are refused everywhere, except tab, and line
feed and carriage return in text that may span lines. Single-line places (a query string, a
path) refuse line breaks too; single-line *columns* (titles, names) turn line breaks into spaces
when they are stored (`core.db`): a body does not say which of its fields are single-line, the
column does. PostgreSQL cannot store NUL at all and SQLite would keep it, so without this rule
the same request was a 422 on one backend and stored on the other.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# Every control character (Unicode category Cc) but tab (pasted into a search box, it is text).
_CONTROL_IN_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# The same less line feed and carriage return, which multi-line text is made of.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_CHARACTER_ERROR = "control_character"


def control_character(value: str, *, multiline: bool = True) -> str | None:
    """The first character of `value` the rule refuses, or None. `multiline` allows LF and CR."""
    found = (_CONTROL_IN_TEXT if multiline else _CONTROL_IN_LINE).search(value)
    return found.group() if found else None


def control_character_message(character: str) -> str:
    return f"Control characters are not allowed (found U+{ord(character):04X})."


def first_control_character(value: object, *, multiline: bool = True) -> str | None:
    """The first refused character in any text of a decoded document (strings, list items,
    mapping keys and values, at any depth), or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found = control_character(item, multiline=multiline)
            if found is not None:
                return found
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
    return None


# The rule as a JSON Schema pattern (ECMA-262 and Python read it alike), on every text field of a
# request body in the OpenAPI document, so clients (and the fuzzer) know it before they send.
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"


def _document_the_rule(schema: dict[str, Any]) -> None:
    pending: list[Any] = list(schema.get("properties", {}).values())
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            continue
        if item.get("type") == "string" and not {"pattern", "enum", "const"} & item.keys():
            item["pattern"] = TEXT_PATTERN
        pending.extend(item.get("anyOf", []) + item.get("oneOf", []) + item.get("allOf", []))
        pending.extend(value for key in ("items", "additionalProperties") if (value := item.get(key)))


def _email(value: str) -> str:
    """A syntactically valid address, normalised. Single-label intranet domains and `.test` are
    accepted (a self-hosted helpdesk often serves a private network); nothing is looked up in DNS."""
    try:
        checked = validate_email(
            value, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except EmailNotValidError as error:
        raise ValueError(f"not a valid e-mail address: {error}") from error
    return checked.normalized


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]

MAX_ID = 2**31 - 1
# Any id a client sends: positive and within a 32-bit column, so no database ever overflows.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=0, le=MAX_ID)]


class Schema(BaseModel):
    """Responses: read from ORM objects, serialised with camelCase keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        serialize_by_alias=True,
    )


class Input(BaseModel):
    """Requests: either spelling accepted, unknown keys refused so typos are not silently dropped.
    Every field, of every request body (JSON or multipart), is held to the control-character rule
    before anything else reads it."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=_document_the_rule,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_control_characters(cls, value: Any) -> Any:
        found = first_control_character(value)
        if found is not None:
            raise PydanticCustomError(CONTROL_CHARACTER_ERROR, control_character_message(found))
        return value
