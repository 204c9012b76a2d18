"""Virus scanning against a real clamd (tests/servers.py) with our own EICAR signature."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from tests import files
from tests.attachments.conftest import MakeClient
from tests.factories import make_customer
from tests.files import error_code, upload
from tests.servers import EICAR, SIGNATURE, Clamd, closed_port
from ticketry.attachments.errors import ScannerUnavailable, VirusFound
from ticketry.attachments.scan import CHUNK, ClamdScanner
from ticketry.core.db import Database

FOUND = f"{SIGNATURE}.UNOFFICIAL"  # clamd's name for a signature outside its official databases


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung scanner)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def nothing_stored(db: Database, root: Path) -> None:
    assert files.attachment_count(db) == 0
    assert files.blob_keys(db) == []
    assert files.stored_keys(root) == []
    assert files.staged_files(root) == []


class TestScanner:
    def test_clamd_answers(self, clamd: Clamd) -> None:
        assert ClamdScanner(clamd.url, timeout=10).ping()

    def test_a_clean_file_has_no_verdict(self, clamd: Clamd, tmp_path: Path) -> None:
        assert ClamdScanner(clamd.url, timeout=10).verdict(write(tmp_path / "clean.txt", files.TEXT)) is None

    def test_the_test_virus_is_found(self, clamd: Clamd, tmp_path: Path) -> None:
        assert ClamdScanner(clamd.url, timeout=10).verdict(write(tmp_path / "eicar.txt", EICAR)) == FOUND

    def test_a_virus_across_two_stream_chunks_is_found(self, clamd: Clamd, tmp_path: Path) -> None:
        data = files.text_of(CHUNK - 30) + EICAR + files.text_of(1000)

        assert ClamdScanner(clamd.url, timeout=10).verdict(write(tmp_path / "big.txt", data)) == FOUND

    def test_an_infected_file_is_refused_and_logged(self, clamd: Clamd, tmp_path: Path) -> None:
        with capture_logs() as logs, pytest.raises(VirusFound) as refused:
            ClamdScanner(clamd.url, timeout=10).check(write(tmp_path / "e.txt", EICAR), "e.txt")

        assert refused.value.status == 422
        assert refused.value.details == {"signature": FOUND}
        assert {
            "event": "attachments.infected",
            "signature": FOUND,
            "filename": "e.txt",
            "log_level": "warning",
        } in logs

    def test_an_unreachable_scanner_is_logged(self, tmp_path: Path) -> None:
        url = f"tcp://127.0.0.1:{closed_port()}"
        path = write(tmp_path / "a.txt", files.TEXT)

        with capture_logs() as logs:
            with pytest.raises(ScannerUnavailable):
                ClamdScanner(url, timeout=2).check(path, "a.txt")
            ClamdScanner(url, timeout=2, required=False).check(path, "a.txt")

        assert [(e["event"], e["log_level"]) for e in logs] == [
            ("attachments.scanner_unavailable", "error"),
            ("attachments.stored_unscanned", "warning"),
        ]

    def test_a_hung_scanner_times_out(self, silent_port: int, tmp_path: Path) -> None:
        scanner = ClamdScanner(f"tcp://127.0.0.1:{silent_port}", timeout=0.5)

        with pytest.raises(ScannerUnavailable):
            scanner.check(write(tmp_path / "clean.txt", files.TEXT), "clean.txt")
        assert not scanner.ping()

    def test_a_malformed_url_is_unavailable(self, tmp_path: Path) -> None:
        with pytest.raises(ScannerUnavailable):
            ClamdScanner("http://127.0.0.1:3310", timeout=1).check(
                write(tmp_path / "a.txt", files.TEXT), "a.txt"
            )


class TestUploadsAreScanned:
    def test_a_clean_file_is_stored(self, make_client: MakeClient, clamd: Clamd, db: Database) -> None:
        client = make_client(clamav_url=clamd.url)
        customer = make_customer(db)

        (saved,) = upload(client, customer, ("clean.txt", files.TEXT))["data"]

        assert saved["filename"] == "clean.txt"
        assert len(files.blob_keys(db)) == 1

    def test_the_test_virus_is_refused_and_nothing_is_stored(
        self, make_client: MakeClient, clamd: Clamd, db: Database, tmp_path: Path
    ) -> None:
        client = make_client(clamav_url=clamd.url)
        customer = make_customer(db)

        response = client.post(
            "/api/v1/attachments",
            files=[files.part("clean.txt", files.TEXT), files.part("eicar.txt", EICAR)],
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (422, "virus_found")
        error = response.json()["error"]
        assert error["details"] == {"signature": FOUND}
        assert "eicar.txt" in error["message"] and "virus" in error["message"]
        nothing_stored(db, tmp_path / "files")

    def test_a_new_ticket_with_the_test_virus_is_not_created(
        self, make_client: MakeClient, clamd: Clamd, db: Database, tmp_path: Path
    ) -> None:
        client = make_client(clamav_url=clamd.url)
        customer = make_customer(db)

        response = files.ticket_with_files(client, customer, ("eicar.txt", EICAR), status=422)

        assert response["error"]["code"] == "virus_found"
        assert client.get("/api/v1/tickets", headers=customer.headers).json()["pagination"]["total"] == 0
        nothing_stored(db, tmp_path / "files")

    def test_an_unreachable_scanner_refuses_uploads_when_required(
        self, make_client: MakeClient, db: Database, tmp_path: Path
    ) -> None:
        client = make_client(clamav_url=f"tcp://127.0.0.1:{closed_port()}", clamav_timeout_seconds=2)
        customer = make_customer(db)

        response = client.post(
            "/api/v1/attachments", files=[files.part("a.txt", files.TEXT)], headers=customer.headers
        )

        assert (response.status_code, error_code(response)) == (503, "scanner_unavailable")
        nothing_stored(db, tmp_path / "files")

    def test_an_unreachable_scanner_is_skipped_when_not_required(
        self, make_client: MakeClient, db: Database
    ) -> None:
        client = make_client(
            clamav_url=f"tcp://127.0.0.1:{closed_port()}", clamav_timeout_seconds=2, clamav_required="false"
        )
        customer = make_customer(db)

        (saved,) = upload(client, customer, ("a.txt", files.TEXT))["data"]

        content = client.get(saved["url"], headers=customer.headers)
        assert (content.status_code, content.content) == (200, files.TEXT)

    @pytest.mark.parametrize("required", ["true", "false"])
    def test_a_file_above_the_scanners_limit_is_refused_never_stored_unscanned(
        self, make_client: MakeClient, clamd: Clamd, db: Database, tmp_path: Path, required: str
    ) -> None:
        """clamd (StreamMaxLength 2M here) answers "size limit exceeded": not a verdict, and not
        "scanner down" either, so TICKETRY_CLAMAV_REQUIRED=false must not let it through."""
        client = make_client(clamav_url=clamd.url, clamav_required=required)
        customer = make_customer(db)

        response = client.post(
            "/api/v1/attachments",
            files=[files.part("big.txt", EICAR + files.text_of(3 * 1024 * 1024))],
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (422, "file_not_scannable")
        nothing_stored(db, tmp_path / "files")

    def test_without_a_scanner_configured_nothing_is_scanned(self, client: TestClient, db: Database) -> None:
        """The default: no TICKETRY_CLAMAV_URL, so even the test virus is just a text file."""
        customer = make_customer(db)

        (saved,) = upload(client, customer, ("eicar.txt", EICAR))["data"]

        assert saved["kind"] == "text"
