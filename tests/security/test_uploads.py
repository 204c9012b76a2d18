"""Hostile uploads: markup that a browser would run, polyglots, traversal names, header injection
through file names. One test per attack."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
import uvicorn
from fastapi.testclient import TestClient
from httpx import Headers, Response
from sqlalchemy import update

from tests import files
from tests.conftest import MakeClient
from tests.factories import Persona, make_agent, make_customer
from tests.files import STORED_KEY, error_code, upload
from tests.servers import free_port
from ticketry.app import create_app
from ticketry.attachments.models import Attachment
from ticketry.core.config import Settings
from ticketry.core.db import Database
from ticketry.http import uploads

DISPOSITION = re.compile(
    r"^(?P<type>attachment|inline); filename=\"(?P<fallback>[\x20\x21\x23-\x24\x26-\x5b\x5d-\x7e]*)\"; "
    r"filename\*=UTF-8''(?P<encoded>[A-Za-z0-9%._~-]*)$"
)


def raw_upload(client: TestClient, persona: Persona, filename: bytes, data: bytes) -> Response:
    """A multipart body written by hand, so the file name's bytes reach the server as they are."""
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--XyZ--\r\n"
    )
    response: Response = client.post(
        "/api/v1/attachments",
        content=body,
        headers={**persona.headers, "Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    return response


def download(client: TestClient, persona: Persona, attachment_id: int, query: str = "") -> Response:
    response: Response = client.get(
        f"/api/v1/attachments/{attachment_id}/content{query}", headers=persona.headers
    )
    return response


def assert_never_rendered(headers: Headers) -> None:
    """The headers that keep a browser from treating a download as a page."""
    assert headers["x-content-type-options"] == "nosniff"
    csp = headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


class TestMarkupIsRefused:
    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("page.html", files.HTML),
            ("page.htm", files.HTML),
            ("page.xhtml", b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>'),
            ("logo.svg", files.SVG),
            ("logo.png", files.SVG),  # `<svg` content under an image's name
            ("logo.txt", files.SVG),
            ("logo.svg", files.png()),  # a real image under the SVG name: still never an .svg
            ("page.html", files.TEXT),  # plain text under a page's name
            ("page.txt", b"\xef\xbb\xbf\n  <script>alert(1)</script>"),
            ("feed.xml", files.XML),
            ("shot.png", b"<html><img src=x onerror=alert(1)></html>"),
        ],
    )
    def test_refused_with_415_and_nothing_stored(
        self, client: TestClient, db: Database, root: Path, name: str, data: bytes
    ) -> None:
        customer = make_customer(db)

        response = client.post(
            "/api/v1/attachments",
            files=[files.part(name, data, content_type="image/png")],
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (415, "unsupported_file_type")
        assert files.attachment_count(db) == 0
        assert files.stored_keys(root) == []


class TestPolyglot:
    def test_a_gif_with_html_inside_is_served_as_an_image_download(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        (saved,) = upload(client, customer, ("funny.gif", files.POLYGLOT_GIF))["data"]

        response = download(client, customer, saved["id"])

        assert response.status_code == 200
        headers = response.headers
        assert headers["content-type"] == "image/gif"
        assert headers["content-disposition"].startswith("attachment;")
        assert_never_rendered(headers)

    def test_its_preview_is_still_an_image_that_runs_nothing(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (saved,) = upload(client, customer, ("funny.gif", files.POLYGLOT_GIF))["data"]

        response = download(client, customer, saved["id"], "?inline=1")

        headers = response.headers
        assert headers["content-type"] == "image/gif"
        assert headers["content-disposition"].startswith("inline;")
        assert_never_rendered(headers)

    def test_under_an_html_name_it_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post(
            "/api/v1/attachments",
            files=[files.part("funny.html", files.POLYGLOT_GIF)],
            headers=customer.headers,
        )
        assert response.status_code == 415

    def test_the_uploaders_content_type_is_ignored(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post(
            "/api/v1/attachments",
            files=[files.part("funny.gif", files.POLYGLOT_GIF, content_type="text/html")],
            headers=customer.headers,
        )
        (saved,) = response.json()["data"]

        assert download(client, customer, saved["id"]).headers["content-type"] == "image/gif"


class TestInline:
    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("notes.txt", files.TEXT),
            ("invoice.pdf", files.PDF),
            ("letter.docx", files.DOCX),
            ("logs.zip", files.ZIP),
        ],
    )
    def test_inline_on_a_non_image_still_downloads(
        self, client: TestClient, db: Database, name: str, data: bytes
    ) -> None:
        customer = make_customer(db)
        (saved,) = upload(client, customer, (name, data))["data"]

        response = download(client, customer, saved["id"], "?inline=1")

        assert response.headers["content-disposition"].startswith("attachment;")
        assert_never_rendered(response.headers)

    @pytest.mark.parametrize(
        ("kind", "content_type"), [("svg", "image/svg+xml"), ("html", "text/html"), ("bmp", "image/bmp")]
    )
    def test_a_stored_file_of_a_kind_without_preview_is_never_inline(
        self, client: TestClient, db: Database, kind: str, content_type: str
    ) -> None:
        """Even a row that claims to be an SVG (an older version, a hand edit) is not shown inline."""
        customer = make_customer(db)
        (saved,) = upload(client, customer, ("shot.png", files.png()))["data"]
        with db.unit_of_work() as session:
            row = session.get(Attachment, saved["id"])
            assert row is not None
            row.kind, row.content_type, row.filename = kind, content_type, f"x.{kind}"

        response = download(client, customer, saved["id"], "?inline=1")

        assert response.headers["content-disposition"].startswith("attachment;")
        assert_never_rendered(response.headers)


class TestTraversalNames:
    @pytest.mark.parametrize(
        ("raw", "shown"),
        [
            (b"../../x.txt", "x.txt"),
            (b"..\\\\..\\\\x.txt", "x.txt"),  # backslashes escaped in the quoted string
            (b"/etc/x.txt", "x.txt"),
            (b"C:\\\\Windows\\\\x.txt", "x.txt"),
            (b"\\\\\\\\server\\\\share\\\\x.txt", "x.txt"),
            (b"....//....//x.txt", "x.txt"),
            (b"..", "file"),
            (b"%2e%2e%2fx.txt", "%2e%2e%2fx.txt"),  # not decoded: just odd characters in a name
        ],
    )
    def test_a_name_never_becomes_a_path(
        self, client: TestClient, db: Database, tmp_path: Path, raw: bytes, shown: str
    ) -> None:
        customer = make_customer(db)

        response = raw_upload(client, customer, raw, files.TEXT)

        assert response.status_code == 201, response.text
        assert response.json()["data"][0]["filename"] == shown
        root = tmp_path / "files"
        stored = files.stored_keys(root)
        assert stored and all(STORED_KEY.match(path) for path in stored)
        assert files.staged_files(root) == []
        outside = [p for p in tmp_path.rglob("*") if p.name in ("x.txt", "%2e%2e%2fx.txt")]
        assert outside == []
        assert not Path("/etc/x.txt").exists()


class TestHeaderInjectionThroughNames:
    @pytest.mark.parametrize(
        "raw",
        [
            b'a\\"; filename=\\"evil.html\\".txt',  # escaped quotes inside the quoted name
            b"semi;colon=1;.txt",
            b"quote'single.txt",
            b"tab\there.txt",
            b"esc\x1b[31mred.txt",
            b"del\x7f.txt",
            b"100%25 sure %0d%0aSet-Cookie: x=1.txt",
            'Grüße aus Köln; "quoted".txt'.encode(),
            "日本語のファイル.txt".encode(),
            "\u202etxt.exe".encode() + b".txt",
        ],
    )
    def test_one_well_formed_content_disposition(self, client: TestClient, db: Database, raw: bytes) -> None:
        customer = make_customer(db)
        response = raw_upload(client, customer, raw, files.TEXT)
        assert response.status_code == 201, response.text
        (saved,) = response.json()["data"]

        answer = download(client, customer, saved["id"])

        headers = answer.headers
        (disposition,) = headers.get_list("content-disposition")
        match = DISPOSITION.match(disposition)
        assert match, disposition
        assert match["type"] == "attachment"
        assert unquote(match["encoded"], errors="strict") == saved["filename"]
        assert "set-cookie" not in headers
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert not re.search(r"[\x00-\x1f\x7f\u202e]", saved["filename"])

    def test_crlf_in_a_name_cannot_add_a_header(self, client: TestClient, db: Database) -> None:
        """A CR or LF cannot travel in a multipart header, but a name stored by any other path
        (an import, a hand edit) must still produce one header line."""
        customer = make_customer(db)
        (saved,) = upload(client, customer, ("a.txt", files.TEXT))["data"]
        with db.unit_of_work() as session:  # by SQL: the ORM would store the breaks as spaces
            session.execute(
                update(Attachment)
                .where(Attachment.id == saved["id"])
                .values(filename='x.txt"\r\nSet-Cookie: session=stolen\r\nX-Evil: "1')
            )

        answer = download(client, customer, saved["id"])

        headers = answer.headers
        assert "set-cookie" not in headers and "x-evil" not in headers
        (disposition,) = headers.get_list("content-disposition")
        assert DISPOSITION.match(disposition), disposition


class TestHostileBodies:
    """Inputs that once answered 500 (the review of the attachments change)."""

    def test_a_range_with_thousands_of_digits_is_ignored(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (item,) = upload(client, customer, ("a.txt", files.TEXT))["data"]

        for header in ("bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000, "bytes=0-" + "9" * 5000):
            response = client.get(item["url"], headers={**customer.headers, "Range": header})
            assert (response.status_code, response.content) == (200, files.TEXT)

    def test_deeply_nested_json_is_422(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)

        response = client.post(
            "/api/v1/tickets",
            content=b"[" * 100_000,
            headers={**customer.headers, "Content-Type": "application/json"},
        )

        assert response.status_code == 422

    def test_an_overlong_multipart_boundary_is_422(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        boundary = "a" * 300

        response = client.post(
            "/api/v1/attachments",
            content=f"--{boundary}--\r\n".encode(),
            headers={**customer.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

        assert response.status_code == 422

    def test_markup_behind_any_leading_space_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)

        for lead in ("\v", "\u00a0", "\ufeff \u2003"):
            response = client.post(
                "/api/v1/attachments",
                files=[("file", ("a.txt", f"{lead}<html><script>alert(1)</script>".encode(), "text/plain"))],
                headers=customer.headers,
            )
            assert response.status_code == 415, lead


class TestNoteFilesDoNotShowInTheRoomLeft:
    def test_a_customers_room_ignores_internal_note_files(
        self, make_client: MakeClient, db: Database
    ) -> None:
        """The per-ticket limit a customer meets counts only the files they can read: an internal
        note's file neither shrinks their room nor changes the answer they get."""
        client = make_client(attachment_max_ticket_size="4KiB", attachment_max_file_size="4KiB")
        customer, agent = make_customer(db), make_agent(db, departments=("general",))
        ticket = client.post(
            "/api/v1/tickets", json={"title": "Room", "description": "x"}, headers=customer.headers
        ).json()
        url = f"/api/v1/tickets/{ticket['id']}/replies"
        probe = {
            **customer.headers,
            "Content-Type": "multipart/form-data; boundary=B",
            "Content-Length": "9999999",
        }
        before = client.post(url, content=b"", headers=probe)

        note = client.post(
            url,
            data={"message": "internal", "isInternal": "true"},
            files=[("files", ("note.txt", b"n" * 3000, "text/plain"))],
            headers=agent.headers,
        )
        assert note.status_code == 201, note.text
        after = client.post(url, content=b"", headers=probe)
        fits = client.post(
            url,
            data={"message": "mine"},
            files=[("files", ("mine.txt", b"m" * 3500, "text/plain"))],
            headers=customer.headers,
        )

        assert before.json() == after.json()
        assert fits.status_code == 201, fits.text


class TestSlowClients:
    def test_a_stalled_upload_is_dropped_with_408(
        self, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A client that stops sending mid-body loses the upload instead of holding a thread."""
        monkeypatch.setattr(uploads, "IDLE_SECONDS", 1.0)
        customer = make_customer(db)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, db=db, background=False),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="off",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            for _ in range(100):
                if server.started:
                    break
                time.sleep(0.05)
            head = (
                "POST /api/v1/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {customer.headers['Authorization']}\r\n"
                "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 1000000\r\n\r\n"
                '--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'
            )
            with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                sock.sendall(head.encode())
                started = time.monotonic()
                reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
            assert time.monotonic() - started < 10
            assert files.attachment_count(db) == 0
        finally:
            server.should_exit = True
            thread.join(timeout=10)
