"""Schema base: camelCase JSON out, snake_case or camelCase accepted in (SPEC §4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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
