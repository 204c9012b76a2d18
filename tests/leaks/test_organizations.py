"""Organizations: members of a *shared* organization read each other's tickets, never the notes on
them; members of a non-shared one see only their own (docs/product.md §1)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import make_customer, make_organization, staff_keys_in
from tests.leaks.scene import NOTE_WORD, PUBLIC_WORD, markers_in, ok, worked_ticket
from ticketry.core.db import Database


def _ids(client: TestClient, path: str, headers: dict[str, str]) -> list[int]:
    return [t["id"] for t in ok(client.get(path, headers=headers))["data"]]


class TestSharedOrganization:
    def test_colleague_reads_the_ticket_but_not_its_notes(self, client: TestClient, db: Database) -> None:
        organization = make_organization(db, shared=True)
        requester = make_customer(db, organization_id=organization)
        colleague = make_customer(db, organization_id=organization)
        scene = worked_ticket(client, db, customer=requester)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"

        detail = client.get(ticket, headers=colleague.headers)
        replies = client.get(f"{ticket}/replies", headers=colleague.headers)
        history = client.get(f"{ticket}/history", headers=colleague.headers)

        assert [r.status_code for r in (detail, replies, history)] == [200, 200, 200]
        assert [m["id"] for m in replies.json()["data"]] == [scene.reply_id]
        for response in (detail, replies, history):
            assert markers_in(response.text) == []
            assert staff_keys_in(response.json()) == set()

    def test_colleague_lists_it_but_never_finds_it_by_a_note_word(
        self, client: TestClient, db: Database
    ) -> None:
        organization = make_organization(db, shared=True)
        requester = make_customer(db, organization_id=organization)
        colleague = make_customer(db, organization_id=organization)
        scene = worked_ticket(client, db, customer=requester)

        assert _ids(client, "/api/v1/tickets", colleague.headers) == [scene.ticket_id]
        assert _ids(client, f"/api/v1/tickets?q={PUBLIC_WORD}", colleague.headers) == [scene.ticket_id]
        assert _ids(client, f"/api/v1/tickets?q={NOTE_WORD}", colleague.headers) == []
        # "My tickets" stays the colleague's own.
        assert _ids(client, "/api/v1/tickets/my-tickets", colleague.headers) == []

    def test_colleague_cannot_act_on_it(self, client: TestClient, db: Database) -> None:
        organization = make_organization(db, shared=True)
        requester = make_customer(db, organization_id=organization)
        colleague = make_customer(db, organization_id=organization)
        scene = worked_ticket(client, db, customer=requester)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"

        assert (
            client.post(
                f"{ticket}/replies", json={"message": "Me too"}, headers=colleague.headers
            ).status_code
            == 403
        )
        assert client.post(f"{ticket}/close", headers=colleague.headers).status_code == 403
        assert client.patch(ticket, json={"title": "Mine now"}, headers=colleague.headers).status_code == 403


class TestNonSharedOrganization:
    def test_members_see_only_their_own_tickets(self, client: TestClient, db: Database) -> None:
        organization = make_organization(db, shared=False)
        requester = make_customer(db, organization_id=organization)
        member = make_customer(db, organization_id=organization)
        scene = worked_ticket(client, db, customer=requester)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"

        for path in (ticket, f"{ticket}/replies", f"{ticket}/history"):
            response = client.get(path, headers=member.headers)
            assert response.status_code == 404, path
            assert markers_in(response.text) == []
        assert _ids(client, "/api/v1/tickets", member.headers) == []
        assert _ids(client, f"/api/v1/tickets?q={PUBLIC_WORD}", member.headers) == []
        assert _ids(client, f"/api/v1/tickets?organization_id={organization}", member.headers) == []

    def test_customer_without_organization_sees_no_one_elses(self, client: TestClient, db: Database) -> None:
        stranger = make_customer(db)
        scene = worked_ticket(client, db)
        assert client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=stranger.headers).status_code == 404
        assert _ids(client, f"/api/v1/tickets?customer_id={scene.customer.id}", stranger.headers) == []

    def test_unsharing_an_organization_ends_the_colleagues_view(
        self, client: TestClient, db: Database
    ) -> None:
        organization = make_organization(db, shared=True)
        requester = make_customer(db, organization_id=organization)
        colleague = make_customer(db, organization_id=organization)
        scene = worked_ticket(client, db, customer=requester)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"
        assert client.get(ticket, headers=colleague.headers).status_code == 200

        ok(
            client.patch(
                f"/api/v1/organizations/{organization}", json={"shared": False}, headers=scene.admin.headers
            )
        )

        assert client.get(ticket, headers=colleague.headers).status_code == 404
        assert client.get(ticket, headers=requester.headers).status_code == 200
