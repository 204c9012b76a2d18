"""Request bodies that carry files: read as a stream, never whole into memory.

Route handlers run in a worker thread (they are plain `def`); `body_chunks` pulls the body
from the event loop in batches, and the multipart parser hands each file's bytes straight to
the intake, which hashes, counts and stages them. The first byte over a limit ends the request
with 413 and its staging file is removed.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.from_thread
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from ticketry.attachments import service as attachment_service
from ticketry.attachments.errors import FileTooLarge, MalformedUpload, TicketAttachmentsTooLarge
from ticketry.attachments.intake import FileStore, Intake, Receiver, StagedFile, human_size
from ticketry.attachments.service import MAX_PER_REQUEST, NewFiles
from ticketry.core.errors import DomainError
from ticketry.http.deps import database

BATCH_BYTES = 256 * 1024
MAX_FIELD_BYTES = 1024 * 1024  # every non-file field together
MAX_PARTS = 100
MAX_JSON_BYTES = 2 * 1024 * 1024
# A client that sends nothing for this long loses its upload (408), and its thread is freed.
IDLE_SECONDS = 30.0
# Uploads run in threads of their own: however many hang on slow clients, the threads that
# serve every other request stay free.
UPLOAD_THREADS = 8
# One limiter per event loop: a limiter belongs to the loop it was made in.
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class UploadStalled(DomainError):
    code = "upload_stalled"
    status = 408


class UploadCancelled(DomainError):
    code = "upload_cancelled"
    status = 400


async def in_upload_thread(work: Callable[[], T]) -> T:
    """Run a route's body-reading work in the upload thread pool."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(UPLOAD_THREADS)
    return await anyio.to_thread.run_sync(work, limiter=limiter)


def body_chunks(request: Request) -> Iterator[bytes]:
    """The request body in batches of about 256 KiB, pulled from the event loop by this thread."""
    stream = request.stream().__aiter__()

    async def pull() -> bytes:
        parts: list[bytes] = []
        size = 0
        while size < BATCH_BYTES:
            try:
                with anyio.fail_after(IDLE_SECONDS):
                    chunk = await stream.__anext__()
            except StopAsyncIteration:
                break
            if chunk:
                parts.append(chunk)
                size += len(chunk)
        return b"".join(parts)

    while True:
        try:
            batch = anyio.from_thread.run(pull)
        except TimeoutError as error:
            raise UploadStalled(
                f"Nothing arrived for {IDLE_SECONDS:.0f} seconds; the upload was dropped."
            ) from error
        except ClientDisconnect as error:
            raise UploadCancelled("The upload was cancelled.") from error
        if not batch:
            return
        yield batch


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def read_json(request: Request, model: type[M]) -> M:
    """A JSON body validated like FastAPI does, without FastAPI reading it for us."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type and not content_type.startswith("application/json") and "+json" not in content_type:
        raise MalformedUpload("Send JSON (application/json) or multipart/form-data.")
    data = bytearray()
    for chunk in body_chunks(request):
        data += chunk
        if len(data) > MAX_JSON_BYTES:
            raise FileTooLarge(f"The request body is larger than {human_size(MAX_JSON_BYTES)}.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, "The body is not UTF-8 text.") from error
    try:
        document = json.loads(text) if text else None
    except (ValueError, RecursionError) as error:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {}}]
        ) from error
    return validate(model, document)


def validate(model: type[M], document: Any) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error


@dataclass
class ReceivedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)

    def document(self, repeated: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Fields as a JSON-like document: one value each, lists for the `repeated` names."""
        return {name: values if name in repeated else values[-1] for name, values in self.fields.items()}


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    name: str = ""
    value: bytearray = field(default_factory=bytearray)
    receiver: Receiver | None = None
    skip: bool = False


class _MultipartReader:
    """python-multipart's callbacks: text fields into the form, file parts into the intake."""

    def __init__(self, intake: Intake, staged: list[StagedFile], used: int) -> None:
        self.intake = intake
        self.staged = staged
        self.used = used
        self.form = ReceivedForm()
        self.part = _Part()
        self.parts = 0
        self.field_bytes = 0

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise MalformedUpload(f"At most {MAX_PARTS} parts in one request.")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        part = self.part
        part.headers[part.header_field.decode("latin-1").lower()] = bytes(part.header_value)
        part.header_field.clear()
        part.header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.part.headers.get("content-disposition", b""))
        self.part.name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if filename is None:
            return
        if not filename:  # a file input left empty
            self.part.skip = True
            return
        if len(self.staged) >= MAX_PER_REQUEST:
            raise MalformedUpload(f"At most {MAX_PER_REQUEST} files in one request.")
        already = self.used + sum(f.size for f in self.staged)
        self.part.receiver = self.intake.receive(filename.decode("utf-8", "replace"), used=already)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.receiver is not None:
            self.part.receiver.write(memoryview(data)[start:end])  # no copy of the slice
        elif not self.part.skip:
            self.field_bytes += end - start
            if self.field_bytes > MAX_FIELD_BYTES:
                raise FileTooLarge(f"The form fields are larger than {human_size(MAX_FIELD_BYTES)}.")
            self.part.value += data[start:end]

    def on_part_end(self) -> None:
        part = self.part
        if part.receiver is not None:
            receiver, part.receiver = part.receiver, None
            self.staged.append(receiver.finish())
        elif not part.skip:
            try:
                text = part.value.decode("utf-8")
            except UnicodeDecodeError as error:
                raise MalformedUpload(f"The field {part.name!r} is not UTF-8 text.") from error
            self.form.fields.setdefault(part.name, []).append(text)


def receive_multipart(
    request: Request, intake: Intake, staged: list[StagedFile], *, used: int = 0
) -> ReceivedForm:
    """Parse a multipart body: text fields into the form, every part with a filename through the
    intake into `staged` (the caller removes staged files when the request is done)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise MalformedUpload("Send multipart/form-data with a boundary.")
    declared = request.headers.get("content-length", "")
    room = intake.limits.max_ticket - used
    if declared.isdigit() and int(declared) > room + MAX_FIELD_BYTES + 64 * 1024:
        refusal = TicketAttachmentsTooLarge if used else FileTooLarge
        raise refusal(
            f"The upload is larger than the {human_size(room)} still allowed.",
            details={"limit": intake.limits.max_ticket},
        )
    reader = _MultipartReader(intake, staged, used)
    ceiling = room + MAX_FIELD_BYTES + 1024 * 1024  # parts, headers and boundaries on top
    received = 0
    try:
        parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
        for chunk in body_chunks(request):
            received += len(chunk)
            if received > ceiling:  # skipped parts and trailing bytes count too
                raise FileTooLarge("The upload is larger than the limit.", details={"limit": room})
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise MalformedUpload(f"The multipart body is malformed: {error}") from error
    finally:
        if reader.part.receiver is not None:
            reader.part.receiver.abort()
    if reader.part.receiver is not None or reader.parts == 0:
        raise MalformedUpload("The multipart body ended early.")
    return reader.form


def file_store(request: Request) -> FileStore:
    store: FileStore = request.app.state.files
    return store


def receive_body(
    request: Request,
    model: type[M],
    staged: list[StagedFile],
    *,
    repeated: frozenset[str] = frozenset(),
    used: int = 0,
) -> M:
    """The body of a route that takes JSON, or multipart with the same fields plus files. Files
    end up checked, in `staged` and in storage, ready for the use case to record."""
    files = file_store(request)
    if is_multipart(request):
        form = receive_multipart(request, files.intake, staged, used=used)
        body = validate(model, form.document(repeated))
    else:
        body = read_json(request, model)
    attachment_service.store(database(request), files.storage, staged)
    return body


def new_files(request: Request, ids: Sequence[int] = (), staged: Sequence[StagedFile] = ()) -> NewFiles:
    """What goes with a new ticket or message, under this process's per-ticket limit."""
    return NewFiles(max_ticket=file_store(request).intake.limits.max_ticket, ids=ids, staged=staged)
