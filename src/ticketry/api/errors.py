"""One error envelope for everything: `{"error": {"code", "message", "details"}}` (docs/product.md §4)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketry.core.errors import DomainError, TooManyRequests

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": jsonable_encoder(details or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
    if error.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(error.status, error.code, error.message, error.details, headers)


def validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(part) for part in item.get("loc", ()) if part != "body"),
            "message": item.get("msg", ""),
            "type": item.get("type", ""),
        }
        for item in error.errors()
    ]
    return error_response(422, "validation_error", "The request is not valid.", {"errors": problems})


def http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, "error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    return error_response(error.status_code, code, message, headers=getattr(error, "headers", None))


def _integrity(_: Request, error: Exception) -> JSONResponse:
    """A constraint the services did not foresee (e.g. a concurrent duplicate): a 409, never a 500."""
    log.warning("integrity_error", error=str(error).splitlines()[0])
    return error_response(409, "conflict", "The change conflicts with existing data. Reload and try again.")


def _data(_: Request, error: Exception) -> JSONResponse:
    """A value the database cannot hold (out of range, bad encoding) that validation let through."""
    log.warning("data_error", error=str(error).splitlines()[0])
    return error_response(422, "validation_error", "A value in the request is out of range or malformed.")


def _operational(_: Request, error: Exception) -> JSONResponse:
    log.error("database_unavailable", error=str(error).splitlines()[0])
    return error_response(
        503,
        "unavailable",
        "The database is busy or unreachable. Try again shortly.",
        headers={"Retry-After": "5"},
    )


def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled_error", exc_info=error)
    return error_response(500, "internal_error", "Something went wrong on our side. It has been logged.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(OperationalError, _operational)
    app.add_exception_handler(Exception, _unexpected)
