"""Uploading through the API: standalone then referenced by id, or multipart with a new ticket or a
reply; limits that leave nothing behind; removing an unsent upload; dedupe of identical files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests import files
from tests.attachments.conftest import MakeClient
from tests.factories import Persona, api_ticket, make_agent, make_customer
from tests.files import error_code, reply_with_files, ticket_with_files, upload, upload_ids
from ticketry.attachments.intake import Intake
from ticketry.core.db import Database
from ticketry.tickets.models import Ticket

KIB = 1024


def ticket_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def nothing_left_behind(db: Database, root: Path) -> None:
    assert files.attachment_count(db) == 0
    assert files.blob_keys(db) == []
    assert files.stored_keys(root) == []
    assert files.staged_files(root) == []


def attachment(client: TestClient, persona: Persona, attachment_id: int) -> Any:
    return client.get(f"/api/v1/attachments/{attachment_id}", headers=persona.headers)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The storage directory of the `client` fixture's app."""
    return tmp_path / "files"


class TestUpload:
    def test_files_are_stored_pending_and_typed_by_their_content(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        data = files.png()

        response = client.post(
            "/api/v1/attachments",
            files=[
                ("file", ("shot.png", data, "text/html")),
                ("file", ("notes.txt", files.TEXT, "image/png")),
            ],
            headers=customer.headers,
        )

        assert response.status_code == 201, response.text
        shot, notes = response.json()["data"]
        assert response.json()["pagination"]["total"] == 2
        assert shot | {"id": 0, "createdAt": ""} == {
            "id": 0,
            "createdAt": "",
            "filename": "shot.png",
            "contentType": "image/png",
            "kind": "png",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "ticketId": None,
            "messageId": None,
            "url": f"/api/v1/attachments/{shot['id']}/content",
            "previewable": True,
        }
        assert (notes["contentType"], notes["previewable"]) == ("text/plain; charset=utf-8", False)
        key = shot["sha256"]
        assert f"{key[:2]}/{key[2:4]}/{key}" in files.stored_keys(root)
        assert files.staged_files(root) == []

    def test_the_uploader_reads_the_pending_upload(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("notes.txt", files.TEXT))

        metadata = attachment(client, customer, upload_id)
        content = client.get(f"/api/v1/attachments/{upload_id}/content", headers=customer.headers)

        assert metadata.status_code == 200
        assert metadata.json()["ticketId"] is None
        assert (content.status_code, content.content) == (200, files.TEXT)

    def test_names_are_sanitised(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)

        (saved,) = upload(client, customer, ("../../etc/in\u202evoice\u200b.txt", files.TEXT))["data"]

        assert saved["filename"] == "invoice.txt"

    def test_a_body_without_files_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)

        fields_only = client.post("/api/v1/attachments", data={"note": "no file"}, headers=customer.headers)
        empty_input = client.post(
            "/api/v1/attachments",
            files=[("file", ("", b"", "application/octet-stream"))],
            headers=customer.headers,
        )
        json_body = client.post("/api/v1/attachments", json={"file": "x"}, headers=customer.headers)

        assert [r.status_code for r in (fields_only, empty_input, json_body)] == [422, 422, 422]
        assert {error_code(r) for r in (fields_only, empty_input, json_body)} == {"malformed_upload"}
        assert files.attachment_count(db) == 0

    def test_at_most_twenty_files_per_request(self, client: TestClient, db: Database, root: Path) -> None:
        customer = make_customer(db)
        many = [("file", (f"{i}.txt", files.text_of(10, seed=str(i)), "text/plain")) for i in range(21)]

        response = client.post("/api/v1/attachments", files=many, headers=customer.headers)

        assert (response.status_code, error_code(response)) == (422, "malformed_upload")
        nothing_left_behind(db, root)

    def test_a_refused_file_refuses_the_whole_request(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)

        response = client.post(
            "/api/v1/attachments",
            files=[files.part("ok.txt", files.TEXT), files.part("page.html", files.HTML)],
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (415, "unsupported_file_type")
        assert response.json()["error"]["details"]["filename"] == "page.html"
        nothing_left_behind(db, root)

    def test_anonymous_uploads_are_refused(self, client: TestClient, db: Database, root: Path) -> None:
        response = client.post("/api/v1/attachments", files=[files.part("a.txt", files.TEXT)])

        assert response.status_code == 401
        nothing_left_behind(db, root)


class TestCreateTicketWithFiles:
    def test_multipart_with_files_and_repeated_fields(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        customer = make_customer(db)

        ticket = ticket_with_files(
            client,
            agent,
            ("screen.png", files.png()),
            ("log.txt", files.TEXT),
            title="Crash on start",
            customerId=str(customer.id),
            tags=["crash", "startup"],  # type: ignore[arg-type]
        )

        assert ticket["title"] == "Crash on start"
        assert sorted(tag["name"] for tag in ticket["tags"]) == ["crash", "startup"]
        assert [(a["filename"], a["ticketId"], a["messageId"]) for a in ticket["attachments"]] == [
            ("screen.png", ticket["id"], None),
            ("log.txt", ticket["id"], None),
        ]
        detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=customer.headers).json()
        assert [a["filename"] for a in detail["attachments"]] == ["screen.png", "log.txt"]
        listed = client.get(f"/api/v1/tickets/{ticket['id']}/attachments", headers=customer.headers).json()
        assert [a["id"] for a in listed["data"]] == [a["id"] for a in ticket["attachments"]]

    def test_invalid_fields_store_nothing(self, client: TestClient, db: Database, root: Path) -> None:
        customer = make_customer(db)

        response = client.post(
            "/api/v1/tickets",
            data={"description": "no title"},
            files=[files.part("log.txt", files.TEXT, field="files")],
            headers=customer.headers,
        )

        assert response.status_code == 422
        assert ticket_count(db) == 0
        nothing_left_behind(db, root)

    def test_pending_uploads_are_bound_by_id(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ids = upload_ids(client, customer, ("a.txt", files.text_of(50, seed="a")), ("b.png", files.png()))

        ticket: Any = api_ticket(client, customer, attachmentIds=[*ids, ids[0]])

        assert [a["id"] for a in ticket["attachments"]] == ids
        for upload_id in ids:
            bound = attachment(client, customer, upload_id).json()
            assert (bound["ticketId"], bound["messageId"]) == (ticket["id"], None)

    def test_someone_elses_upload_cannot_be_claimed(self, client: TestClient, db: Database) -> None:
        owner, thief = make_customer(db), make_customer(db)
        (upload_id,) = upload_ids(client, owner, ("secret.txt", files.TEXT))

        response = client.post(
            "/api/v1/tickets",
            json={"title": "Mine now", "description": "x", "attachmentIds": [upload_id]},
            headers=thief.headers,
        )

        assert (response.status_code, error_code(response)) == (422, "attachment_unavailable")
        assert response.json()["error"]["details"]["attachmentIds"] == [upload_id]
        assert ticket_count(db) == 0
        assert attachment(client, owner, upload_id).json()["ticketId"] is None

    def test_a_sent_upload_cannot_be_sent_again(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("once.txt", files.TEXT))
        first = api_ticket(client, customer, attachmentIds=[upload_id])

        again = client.post(
            "/api/v1/tickets",
            json={"title": "Again", "description": "x", "attachmentIds": [upload_id]},
            headers=customer.headers,
        )
        reply = client.post(
            f"/api/v1/tickets/{first['id']}/replies",
            json={"message": "and again", "attachmentIds": [upload_id]},
            headers=customer.headers,
        )

        assert (again.status_code, error_code(again)) == (422, "attachment_unavailable")
        assert (reply.status_code, error_code(reply)) == (422, "attachment_unavailable")
        assert attachment(client, customer, upload_id).json()["ticketId"] == first["id"]
        assert ticket_count(db) == 1

    def test_an_unknown_id_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)

        response = client.post(
            "/api/v1/tickets",
            json={"title": "x", "description": "x", "attachmentIds": [987654]},
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (422, "attachment_unavailable")
        assert ticket_count(db) == 0


class TestReplyWithFiles:
    def test_multipart_reply_with_files_only(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)

        message = reply_with_files(client, customer, int(str(ticket["id"])), ("trace.txt", files.TEXT))

        assert message["body"] == ""
        assert [(a["filename"], a["ticketId"], a["messageId"]) for a in message["attachments"]] == [
            ("trace.txt", ticket["id"], message["id"])
        ]
        replies = client.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=customer.headers).json()[
            "data"
        ]
        assert [a["filename"] for a in replies[-1]["attachments"]] == ["trace.txt"]
        detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=customer.headers).json()
        assert detail["attachments"] == []  # the description's files only

    def test_pending_uploads_are_bound_to_the_reply_by_id(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        (upload_id,) = upload_ids(client, customer, ("more.txt", files.TEXT))

        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies",
            json={"message": "Here you go", "attachmentIds": [upload_id]},
            headers=customer.headers,
        )

        assert response.status_code == 201, response.text
        message = response.json()
        assert [a["id"] for a in message["attachments"]] == [upload_id]
        assert attachment(client, customer, upload_id).json()["messageId"] == message["id"]

    def test_a_staff_note_with_files(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = api_ticket(client, customer, department="technical")

        note = reply_with_files(
            client,
            agent,
            int(str(ticket["id"])),
            ("internal.txt", files.TEXT),
            message="FYI",
            isInternal="true",
        )

        assert note["isInternal"] is True
        listed = client.get(f"/api/v1/tickets/{ticket['id']}/attachments", headers=agent.headers).json()[
            "data"
        ]
        assert [a["filename"] for a in listed] == ["internal.txt"]

    def test_an_empty_reply_without_files_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)

        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies", json={"message": " "}, headers=customer.headers
        )

        assert (response.status_code, error_code(response)) == (422, "empty_message")

    def test_a_ticket_you_cannot_read_is_404_before_any_byte_is_stored(
        self, client: TestClient, db: Database, root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        owner, stranger = make_customer(db), make_customer(db)
        ticket = api_ticket(client, owner)
        received: list[str] = []
        real_receive = Intake.receive

        def spy(self: Intake, raw_filename: str, *, used: int = 0) -> Any:
            received.append(raw_filename)
            return real_receive(self, raw_filename, used=used)

        monkeypatch.setattr(Intake, "receive", spy)

        # The file would be refused (415) if it were read at all.
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies",
            data={"message": "let me in"},
            files=[files.part("page.png", files.HTML, field="files")],
            headers=stranger.headers,
        )
        missing = client.post(
            "/api/v1/tickets/999999/replies",
            data={"message": "hello"},
            files=[files.part("a.txt", files.TEXT, field="files")],
            headers=stranger.headers,
        )

        assert (response.status_code, missing.status_code) == (404, 404)
        assert received == []
        nothing_left_behind(db, root)


class TestDiscard:
    def test_an_unsent_upload_is_removed(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("oops.txt", files.TEXT))

        response = client.delete(f"/api/v1/attachments/{upload_id}", headers=customer.headers)

        assert response.status_code == 204
        assert attachment(client, customer, upload_id).status_code == 404
        assert files.attachment_count(db) == 0
        again = client.delete(f"/api/v1/attachments/{upload_id}", headers=customer.headers)
        assert again.status_code == 404

    def test_a_sent_file_is_in_use(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("sent.txt", files.TEXT))
        api_ticket(client, customer, attachmentIds=[upload_id])

        response = client.delete(f"/api/v1/attachments/{upload_id}", headers=customer.headers)

        assert (response.status_code, error_code(response)) == (409, "attachment_in_use")
        assert attachment(client, customer, upload_id).status_code == 200

    def test_someone_elses_upload_is_not_found(self, client: TestClient, db: Database) -> None:
        owner, other = make_customer(db), make_customer(db)
        agent = make_agent(db)
        (upload_id,) = upload_ids(client, owner, ("mine.txt", files.TEXT))

        answers = [
            client.delete(f"/api/v1/attachments/{upload_id}", headers=p.headers) for p in (other, agent)
        ]

        assert [a.status_code for a in answers] == [404, 404]
        assert attachment(client, owner, upload_id).status_code == 200


class TestLimits:
    """1 KiB per file, 2 KiB per ticket: every refusal is 413 and leaves nothing behind."""

    @pytest.fixture
    def small(self, make_client: MakeClient) -> TestClient:
        return make_client(attachment_max_file_size="1KiB", attachment_max_ticket_size="2KiB")

    def test_a_file_of_exactly_the_limit_is_accepted(self, small: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (saved,) = upload(small, customer, ("exact.txt", files.text_of(KIB)))["data"]
        assert saved["size"] == KIB

    def test_a_file_over_the_limit(self, small: TestClient, db: Database, root: Path) -> None:
        customer = make_customer(db)

        response = small.post(
            "/api/v1/attachments",
            files=[files.part("big.txt", files.text_of(KIB + 1))],
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (413, "file_too_large")
        assert response.json()["error"]["details"] == {"limit": KIB, "filename": "big.txt"}
        assert "'big.txt' is larger than the limit of 1.0 KB" in response.json()["error"]["message"]
        nothing_left_behind(db, root)

    def test_a_new_ticket_over_the_ticket_limit(self, small: TestClient, db: Database, root: Path) -> None:
        customer = make_customer(db)
        three = [(f"{i}.txt", files.text_of(800, seed=str(i))) for i in range(3)]

        response = ticket_with_files(small, customer, *three, status=413)

        assert response["error"]["code"] == "ticket_attachments_too_large"
        assert response["error"]["details"] == {"limit": 2 * KIB, "filename": "2.txt"}
        assert ticket_count(db) == 0
        nothing_left_behind(db, root)

    def test_a_reply_counts_the_files_the_ticket_has(
        self, small: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        ticket = ticket_with_files(small, customer, ("a.txt", files.text_of(1000, seed="a")))
        reply_with_files(small, customer, ticket["id"], ("b.txt", files.text_of(1000, seed="b")))
        keys_before = files.stored_keys(root)

        refused = reply_with_files(
            small, customer, ticket["id"], ("c.txt", files.text_of(100, seed="c")), status=413
        )

        assert refused["error"]["code"] == "ticket_attachments_too_large"
        assert files.attachment_count(db) == 2
        assert files.stored_keys(root) == keys_before
        assert files.staged_files(root) == []
        replies = small.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=customer.headers).json()
        assert len(replies["data"]) == 1

    def test_pending_uploads_claimed_over_the_ticket_limit(self, small: TestClient, db: Database) -> None:
        customer = make_customer(db)

        def pending(name: str) -> int:
            return upload_ids(small, customer, (name, files.text_of(1000, seed=name)))[0]

        first, second = pending("1.txt"), pending("2.txt")
        ticket = small.post(
            "/api/v1/tickets",
            json={"title": "Files", "description": "x", "attachmentIds": [first]},
            headers=customer.headers,
        )
        assert ticket.status_code == 201, ticket.text
        third = pending("3.txt")

        response = small.post(
            f"/api/v1/tickets/{ticket.json()['id']}/replies",
            json={"message": "two more", "attachmentIds": [second, third]},
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (413, "ticket_attachments_too_large")
        assert [attachment(small, customer, i).json()["ticketId"] for i in (second, third)] == [None, None]

    def test_unsent_uploads_may_hold_one_tickets_worth(self, small: TestClient, db: Database) -> None:
        customer = make_customer(db)
        for name in ("1.txt", "2.txt"):
            upload_ids(small, customer, (name, files.text_of(1000, seed=name)))

        response = small.post(
            "/api/v1/attachments",
            files=[("file", ("3.txt", files.text_of(1000, seed="3"), "text/plain"))],
            headers=customer.headers,
        )

        assert (response.status_code, error_code(response)) == (413, "ticket_attachments_too_large")

    def test_a_declared_body_over_the_limit_is_refused_before_reading(
        self, small: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        body = b"--b\r\nContent-Disposition: form-data; name=file; filename=x.txt\r\n\r\n" + b"a" * 80 * KIB
        body += b"\r\n--b--\r\n"

        response = small.post(
            "/api/v1/attachments",
            content=body,
            headers={**customer.headers, "Content-Type": "multipart/form-data; boundary=b"},
        )

        assert (response.status_code, error_code(response)) == (413, "file_too_large")
        nothing_left_behind(db, root)


class TestDedupe:
    def test_the_same_content_uploaded_twice_is_stored_once(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        first, second = make_customer(db), make_customer(db)
        data = files.png(2, 2)

        (a,) = upload(client, first, ("mine.png", data))["data"]
        (b,) = upload(client, second, ("also-mine.png", data))["data"]

        assert a["id"] != b["id"]
        assert a["sha256"] == b["sha256"] == hashlib.sha256(data).hexdigest()
        assert files.blob_keys(db) == [a["sha256"]]
        assert len(files.stored_keys(root)) == 1
        assert files.attachment_count(db) == 2
        assert attachment(client, second, a["id"]).status_code == 404  # one content, two owners' files


class TestS3Storage:
    def test_the_whole_flow_against_s3(
        self, make_client: MakeClient, s3_bucket: Any, db: Database, tmp_path: Path
    ) -> None:
        client = make_client(
            storage_url=f"s3://{s3_bucket.name}/tickets",
            s3_endpoint_url=s3_bucket.endpoint,
            s3_access_key_id="test",
            s3_secret_access_key="test",
        )
        customer, agent = make_customer(db), make_agent(db)
        shot, log = files.png(3, 3), files.text_of(5000, seed="s3")

        (pending,) = upload_ids(client, customer, ("shot.png", shot))
        ticket = ticket_with_files(client, customer, ("log.txt", log), department="technical")
        bound = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies",
            json={"message": "and a screenshot", "attachmentIds": [pending]},
            headers=customer.headers,
        )
        note = reply_with_files(client, agent, ticket["id"], ("note.txt", b"staff only\n"), isInternal="true")

        assert bound.status_code == 201, bound.text
        keys = {hashlib.sha256(d).hexdigest() for d in (shot, log, b"staff only\n")}
        assert s3_bucket.object_keys() == sorted(f"tickets/{k[:2]}/{k[2:4]}/{k}" for k in keys)
        assert not (tmp_path / "files").exists()  # nothing written locally
        log_id = ticket["attachments"][0]["id"]
        whole = client.get(f"/api/v1/attachments/{log_id}/content", headers=customer.headers)
        part = client.get(
            f"/api/v1/attachments/{log_id}/content", headers={**customer.headers, "Range": "bytes=100-199"}
        )
        assert (whole.status_code, whole.content) == (200, log)
        assert (part.status_code, part.content, part.headers["content-range"]) == (
            206,
            log[100:200],
            "bytes 100-199/5000",
        )
        note_file = note["attachments"][0]["id"]
        assert (
            client.get(f"/api/v1/attachments/{note_file}/content", headers=customer.headers).status_code
            == 404
        )
        assert (
            client.get(f"/api/v1/attachments/{note_file}/content", headers=agent.headers).content
            == b"staff only\n"
        )
