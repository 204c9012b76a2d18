"""Files are read exactly like what they are attached to (docs/product.md §5): another customer's file, an
internal note's file, another department's, a deleted one and someone's unsent upload are all
404, on every path, in the API and in the portal."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests import files
from tests.factories import (
    Persona,
    delete_message,
    delete_ticket,
    make_agent,
    make_customer,
    make_organization,
    web_session,
)
from tests.files import reply_with_files, ticket_with_files, upload_ids
from tests.leaks.scene import NOTE_WORD, Scene, markers_in, ok, worked_ticket
from ticketry.core.db import Database

NOTE_FILE = f"{NOTE_WORD}-plan.txt"
PUBLIC_FILE = "printer-guide.txt"


@dataclass(frozen=True)
class FileScene:
    scene: Scene
    claimed_file: int
    customer_file: int
    public_file: int
    note_file: int
    note_message: int
    scene_files: tuple[int, ...]  # the worked ticket's own: its note's file and its reply's file

    @property
    def customer(self) -> Persona:
        return self.scene.customer

    @property
    def ticket_id(self) -> int:
        return self.scene.ticket_id

    @property
    def readable_by_customer(self) -> list[int]:
        return [*self.scene_files[1:], self.claimed_file, self.customer_file, self.public_file]


def files_scene(client: TestClient, db: Database, customer: Persona | None = None) -> FileScene:
    """The worked ticket of tests/leaks/scene.py, with files: the customer's on two replies (one
    uploaded first and sent by id), the agent's on a public reply, and one on an internal note."""
    scene = worked_ticket(client, db, customer)
    scene_files = tuple(
        attachment["id"]
        for message in ok(
            client.get(f"/api/v1/tickets/{scene.ticket_id}/replies", headers=scene.admin.headers)
        )["data"]
        for attachment in message["attachments"]
    )
    (pending,) = upload_ids(client, scene.customer, ("log.txt", b"uploaded first, sent by id\n"))
    customer_reply = reply_with_files(
        client, scene.customer, scene.ticket_id, ("photo.png", files.png()), message="Photo attached."
    )
    public = reply_with_files(
        client, scene.agent, scene.ticket_id, (PUBLIC_FILE, b"public steps\n"), message="Follow the guide."
    )
    note = reply_with_files(
        client,
        scene.agent,
        scene.ticket_id,
        (NOTE_FILE, f"{NOTE_WORD}: do not show the customer\n".encode()),
        message=f"Internal: {NOTE_WORD}",
        isInternal="true",
    )
    described = ok(
        client.post(
            f"/api/v1/tickets/{scene.ticket_id}/replies",
            json={"message": "And the log.", "attachmentIds": [pending]},
            headers=scene.customer.headers,
        ),
        201,
    )
    return FileScene(
        scene=scene,
        claimed_file=described["attachments"][0]["id"],
        customer_file=customer_reply["attachments"][0]["id"],
        public_file=public["attachments"][0]["id"],
        note_file=note["attachments"][0]["id"],
        note_message=note["id"],
        scene_files=scene_files,
    )


def statuses(client: TestClient, persona: Persona, attachment_id: int) -> tuple[int, int, int]:
    """Metadata, content and HEAD of one file."""
    url = f"/api/v1/attachments/{attachment_id}"
    return (
        client.get(url, headers=persona.headers).status_code,
        client.get(f"{url}/content", headers=persona.headers).status_code,
        client.head(f"{url}/content", headers=persona.headers).status_code,
    )


def listed(client: TestClient, persona: Persona, ticket_id: int) -> list[int]:
    page = ok(client.get(f"/api/v1/tickets/{ticket_id}/attachments", headers=persona.headers))
    return [a["id"] for a in page["data"]]


def ids_in_replies(client: TestClient, persona: Persona, ticket_id: int) -> set[int]:
    replies = ok(client.get(f"/api/v1/tickets/{ticket_id}/replies", headers=persona.headers))["data"]
    return {a["id"] for m in replies for a in m["attachments"]}


UNSEEN = (404, 404, 404)
SEEN = (200, 200, 200)


class TestAnotherCustomersFiles:
    def test_every_path_is_404(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        stranger = make_customer(db)

        for attachment_id in [*scene.readable_by_customer, scene.note_file]:
            assert statuses(client, stranger, attachment_id) == UNSEEN
        listing = client.get(f"/api/v1/tickets/{scene.ticket_id}/attachments", headers=stranger.headers)
        assert listing.status_code == 404

    def test_a_descriptions_file_is_404(self, client: TestClient, db: Database) -> None:
        owner, stranger = make_customer(db), make_customer(db)
        ticket = ticket_with_files(client, owner, ("invoice.pdf", files.PDF))
        (attachment,) = ticket["attachments"]

        assert statuses(client, stranger, attachment["id"]) == UNSEEN
        assert statuses(client, owner, attachment["id"]) == SEEN

    def test_the_404_says_no_more_than_for_a_file_that_never_existed(
        self, client: TestClient, db: Database
    ) -> None:
        scene = files_scene(client, db)
        stranger = make_customer(db)

        real = client.get(f"/api/v1/attachments/{scene.customer_file}/content", headers=stranger.headers)
        never = client.get("/api/v1/attachments/999999/content", headers=stranger.headers)

        assert real.status_code == never.status_code == 404
        assert real.json()["error"]["code"] == never.json()["error"]["code"]
        assert "content-disposition" not in real.headers

    def test_the_owner_reads_them(self, client: TestClient, db: Database) -> None:
        """Control: the 404s above are the filter, not a broken download."""
        scene = files_scene(client, db)

        for attachment_id in scene.readable_by_customer:
            assert statuses(client, scene.customer, attachment_id) == SEEN

    @pytest.mark.parametrize(("shared", "expected"), [(True, SEEN), (False, UNSEEN)])
    def test_a_colleague_reads_them_only_in_a_shared_organization(
        self, client: TestClient, db: Database, shared: bool, expected: tuple[int, int, int]
    ) -> None:
        organization = make_organization(db, shared=shared)
        owner = make_customer(db, organization_id=organization)
        colleague = make_customer(db, organization_id=organization)
        ticket = ticket_with_files(client, owner, ("shared.txt", files.TEXT))

        assert statuses(client, colleague, ticket["attachments"][0]["id"]) == expected


class TestInternalNoteFiles:
    def test_the_customer_never_sees_them(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        customer = scene.customer

        assert statuses(client, customer, scene.note_file) == UNSEEN
        assert sorted(listed(client, customer, scene.ticket_id)) == sorted(scene.readable_by_customer)
        assert ids_in_replies(client, customer, scene.ticket_id) == set(scene.readable_by_customer)
        detail = client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=customer.headers)
        for response in (
            detail,
            client.get(f"/api/v1/tickets/{scene.ticket_id}/replies", headers=customer.headers),
            client.get(f"/api/v1/tickets/{scene.ticket_id}/attachments", headers=customer.headers),
        ):
            assert NOTE_WORD not in response.text
            assert f"/attachments/{scene.note_file}/" not in response.text

    def test_staff_see_them(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)

        for staff in (scene.scene.agent, scene.scene.assignee, scene.scene.admin):
            assert statuses(client, staff, scene.note_file) == SEEN
            assert scene.note_file in listed(client, staff, scene.ticket_id)
            assert scene.note_file in ids_in_replies(client, staff, scene.ticket_id)

    def test_the_customer_cannot_claim_a_notes_file(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)

        response = client.post(
            f"/api/v1/tickets/{scene.ticket_id}/replies",
            json={"message": "mine?", "attachmentIds": [scene.note_file]},
            headers=scene.customer.headers,
        )

        assert response.status_code == 422
        assert statuses(client, scene.customer, scene.note_file) == UNSEEN


class TestOtherDepartments:
    def test_an_agent_outside_the_department_gets_404(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        billing = make_agent(db, departments=("billing",))

        for attachment_id in [*scene.readable_by_customer, scene.note_file]:
            assert statuses(client, billing, attachment_id) == UNSEEN
        listing = client.get(f"/api/v1/tickets/{scene.ticket_id}/attachments", headers=billing.headers)
        assert listing.status_code == 404

    def test_an_agent_of_the_department_reads_them(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        colleague = make_agent(db, departments=("technical",))

        assert statuses(client, colleague, scene.note_file) == SEEN


class TestDeleted:
    def test_a_deleted_messages_files_are_404_for_everyone(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        delete_message(db, scene.scene.admin, scene.note_message)
        public_message = client.get(
            f"/api/v1/attachments/{scene.public_file}", headers=scene.customer.headers
        ).json()["messageId"]
        delete_message(db, scene.scene.admin, public_message)

        for persona in (scene.customer, scene.scene.agent, scene.scene.admin):
            assert statuses(client, persona, scene.public_file) == UNSEEN
            assert statuses(client, persona, scene.note_file) == UNSEEN
            assert scene.public_file not in listed(client, persona, scene.ticket_id)
        assert statuses(client, scene.customer, scene.customer_file) == SEEN

    def test_a_deleted_tickets_files_are_404_for_everyone(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        delete_ticket(db, scene.scene.admin, scene.ticket_id)

        for persona in (scene.customer, scene.scene.agent, scene.scene.admin):
            for attachment_id in [*scene.readable_by_customer, scene.note_file]:
                assert statuses(client, persona, attachment_id) == UNSEEN


class TestPendingUploads:
    def test_only_the_uploader_sees_an_unsent_upload(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        (pending,) = upload_ids(client, scene.customer, ("draft.txt", b"not sent yet\n"))
        (agents_pending,) = upload_ids(client, scene.scene.agent, ("agent-draft.txt", b"agent draft\n"))

        assert statuses(client, scene.customer, pending) == SEEN
        for other in (make_customer(db), scene.scene.agent, scene.scene.admin):
            assert statuses(client, other, pending) == UNSEEN
        assert statuses(client, scene.scene.agent, agents_pending) == SEEN
        for other in (scene.customer, scene.scene.assignee, scene.scene.admin):
            assert statuses(client, other, agents_pending) == UNSEEN
        for persona in (scene.customer, scene.scene.agent):
            assert pending not in listed(client, persona, scene.ticket_id)


class TestPortal:
    def _page(self, client: TestClient, db: Database, persona: Persona, path: str) -> str:
        cookie, _ = web_session(db, persona)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 200, page.text[:500]
        text: str = page.text
        return text

    def test_the_ticket_page_never_links_a_notes_file(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)

        page = self._page(client, db, scene.customer, f"/tickets/{scene.ticket_id}")

        assert PUBLIC_FILE in page
        assert f"/api/v1/attachments/{scene.public_file}/content" in page
        assert f"/api/v1/attachments/{scene.note_file}/" not in page
        assert NOTE_FILE not in page
        assert markers_in(page) == []

    def test_the_desk_page_does_link_it(self, client: TestClient, db: Database) -> None:
        """Control: the desk renders note files, so their absence from the portal is the filter."""
        scene = files_scene(client, db)

        page = self._page(client, db, scene.scene.agent, f"/desk/tickets/{scene.ticket_id}")

        assert f"/api/v1/attachments/{scene.note_file}/content" in page
        assert NOTE_FILE in page

    def test_a_signed_in_browser_downloads_like_the_api(self, client: TestClient, db: Database) -> None:
        scene = files_scene(client, db)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)

        public = client.get(f"/api/v1/attachments/{scene.public_file}/content")
        note = client.get(f"/api/v1/attachments/{scene.note_file}/content")

        assert (public.status_code, public.content) == (200, b"public steps\n")
        assert note.status_code == 404
