"""One request straight through the ASGI app, for tests that must see the answer's head even when
its body never ends (the live event stream): the client hangs up once the head has arrived."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.types import ASGIApp, Message


@dataclass
class Answer:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def call(
    app: ASGIApp, method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> Answer:
    """`method url` with these headers and body. An event stream is cut off after its head; any
    other answer is read to its end. An exception before any head is a 500, as a server sends."""
    path, _, query = url.partition("?")
    sent = {"host": "testserver", **(headers or {})}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    head: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def run() -> None:
        finished = anyio.Event()
        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                head.update(message)
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"text/event-stream"):
                    finished.set()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        await app(scope, receive, send)

    try:
        # In a thread of its own: Playwright's sync API (the browser tests, earlier in the same
        # run) leaves an event loop running in the main thread, where anyio.run() refuses to start.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(anyio.run, run).result()
    except Exception as error:  # the server's own 500 went out first, if it could
        if not head:
            return Answer(500, body=repr(error).encode())
    answer = Answer(head["status"], body=b"".join(chunks))
    for name, value in head.get("headers", []):
        answer.headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return answer
