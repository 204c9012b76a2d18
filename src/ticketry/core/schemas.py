"""Schema base: camelCase JSON out, snake_case or camelCase accepted in (SPEC §4)."""

from __future__ import annotations

from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


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
    """Requests: either spelling accepted, unknown keys refused so typos are not silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        str_strip_whitespace=True,
    )
