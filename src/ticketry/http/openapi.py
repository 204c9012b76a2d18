"""Request bodies the routes read themselves (streamed uploads), described in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Models referenced by hand-written request bodies; `app.py` adds them to the components.
EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {}
REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, by_alias=True)
    EXTRA_SCHEMAS.update(schema.pop("$defs", {}))
    EXTRA_SCHEMAS[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def json_or_multipart(model: type[BaseModel], *, files_field: str = "files") -> dict[str, Any]:
    """`openapi_extra` for a body sent as JSON, or as multipart with the same fields plus files."""
    form = model.model_json_schema(ref_template=REF, by_alias=True)
    EXTRA_SCHEMAS.update(form.pop("$defs", {}))
    properties = dict(form.get("properties", {}))
    properties[files_field] = {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": "Files to attach; every part with a filename counts.",
    }
    multipart = {"type": "object", "properties": properties, "required": form.get("required", [])}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _ref(model)},
                "multipart/form-data": {"schema": multipart},
            },
        }
    }


def files_only(field: str = "file") -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            field: {"type": "array", "items": {"type": "string", "format": "binary"}}
                        },
                        "required": [field],
                    }
                }
            },
        }
    }
