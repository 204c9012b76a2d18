"""Merge and unmerge (issue 6 part 6): what moves, what closes, what is refused, and an unmerge
that puts both tickets back exactly as they were."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import delete_ticket, make_admin, make_agent, make_customer, make_ticket, set_status
from tests.productivity.threads_scene import ok, state, worked_pair
from ticketry.attachments.models import Attachment
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.jobs.models import Job
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket, TicketMerge


def merge(
    client: TestClient, headers: dict[str, str], primary: int, *secondaries: int, confirm: bool = True
) -> httpx.Response:
    """A merge as the desk sends it once the agent confirmed; `confirm=False` leaves out the
    confirmation another customer's ticket needs."""
    body = {"ticketIds": list(secondaries), "confirmDifferentCustomers": confirm}
    return client.post(f"/api/v1/tickets/{primary}/merge", json=body, headers=headers)


class TestMerge:
    def test_messages_files_tags_and_watchers_move_and_the_secondary_closes(
        self, client: TestClient, db: Database
    ) -> None:
        pair = worked_pair(client, db)
        before = state(db, pair.secondary_id)
        moved_ids = set(before["messages"])
        result = ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)
        [view] = result["data"]
        assert view["primaryId"] == pair.primary_id and view["secondaryId"] == pair.secondary_id
        assert view["movedMessages"] == len(moved_ids)
        with db.unit_of_work(write=False) as session:
            secondary = session.get(Ticket, pair.secondary_id)
            assert secondary is not None
            assert secondary.status.value == "closed" and secondary.closed_at is not None
            assert secondary.merged_into_id == pair.primary_id
            primary = session.get(Ticket, pair.primary_id)
            assert primary is not None
            assert secondary.status_reason == f"Merged into {primary.number}"
            moved = list(session.scalars(select(Message).where(Message.id.in_(moved_ids))))
            assert {m.ticket_id for m in moved} == {pair.primary_id}
            assert {m.moved_from_ticket_id for m in moved} == {pair.secondary_id}
            assert session.scalars(select(Message).where(Message.ticket_id == pair.secondary_id)).all() == []
            files = session.scalars(select(Attachment).where(Attachment.ticket_id == pair.secondary_id)).all()
            assert files == [], "every file of the secondary went along"
            # The description became a message on the primary, by the secondary's customer, with its file.
            merge_row = session.scalars(select(TicketMerge)).one()
            description = session.get(Message, merge_row.snapshot["description_message_id"])
            assert description is not None and description.ticket_id == pair.primary_id
            assert description.author_id == pair.secondary_customer.id and not description.is_internal
            assert description.body.startswith(f"Merged from {secondary.number}: VPN broken")
            assert "Since today." in description.body
            names = session.scalars(
                select(Attachment.filename).where(Attachment.message_id == description.id)
            )
            assert list(names) == ["screenshot.txt"]
            note = session.get(Message, pair.secondary_note_id)
            assert note is not None and note.is_internal, "a note stays a note"
        after = state(db, pair.primary_id)
        tag_ids = {tag for _, tag in after["tags"]}
        assert len(tag_ids) == 3, "vpn, network and duplicate-candidate"
        assert len(after["watchers"]) == 2, "the agent (once) and the secondary's other watcher"

    def test_history_on_both_tickets_and_one_job(self, client: TestClient, db: Database) -> None:
        pair = worked_pair(client, db)
        ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)
        with db.unit_of_work(write=False) as session:
            fields = {
                (e.ticket_id, e.field)
                for e in session.scalars(select(TicketEvent).where(TicketEvent.field.like("merged%")))
            }
            jobs = session.scalars(select(Job).where(Job.name == "tickets.merged")).all()
        assert fields == {(pair.secondary_id, "merged_into"), (pair.primary_id, "merged_from")}
        assert len(jobs) == 1 and jobs[0].payload["secondary_id"] == pair.secondary_id
        history = ok(client.get(f"/api/v1/tickets/{pair.primary_id}/history", headers=pair.agent.headers))
        assert any(e["field"] == "merged_from" for e in history["data"])

    def test_staff_view_points_at_the_primary(self, client: TestClient, db: Database) -> None:
        pair = worked_pair(client, db)
        ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)
        view = ok(client.get(f"/api/v1/tickets/{pair.secondary_id}", headers=pair.agent.headers))
        assert view["mergedIntoId"] == pair.primary_id
        merges = ok(client.get(f"/api/v1/tickets/{pair.primary_id}/merges", headers=pair.agent.headers))
        assert [m["secondaryId"] for m in merges["data"]] == [pair.secondary_id]

    def test_several_at_once(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        primary, one, two = (make_ticket(db, customer, title=f"T{i}") for i in range(3))
        result = ok(merge(client, agent.headers, primary.id, one.id, two.id), 201)
        assert [m["secondaryId"] for m in result["data"]] == [one.id, two.id]

    def test_a_merged_ticket_cannot_be_reopened_or_answered(self, client: TestClient, db: Database) -> None:
        pair = worked_pair(client, db)
        ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)
        base = f"/api/v1/tickets/{pair.secondary_id}"
        reopen = client.post(f"{base}/reopen", headers=pair.secondary_customer.headers)
        assert reopen.status_code == 409, reopen.text
        reply = client.post(
            f"{base}/replies", json={"message": "hello?"}, headers=pair.secondary_customer.headers
        )
        assert reply.status_code == 409 and reply.json()["error"]["code"] == "ticket_closed"
        assert client.post(f"{base}/reopen", headers=pair.agent.headers).status_code == 409


class TestMergeRefused:
    def test_into_itself(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        response = merge(client, agent.headers, ticket.id, ticket.id)
        assert response.status_code == 422 and response.json()["error"]["code"] == "merge_into_self"

    def test_a_ticket_the_agent_cannot_see_is_404(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db, departments=("technical",))
        mine = make_ticket(db, customer)
        billing = make_ticket(db, customer, department="billing")
        assert merge(client, agent.headers, mine.id, billing.id).status_code == 404
        assert merge(client, agent.headers, billing.id, mine.id).status_code == 404
        assert merge(client, agent.headers, mine.id, 999_999).status_code == 404
        with db.unit_of_work(write=False) as session:
            assert session.scalars(select(TicketMerge)).all() == []

    def test_customers_cannot_merge(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        one, two = make_ticket(db, customer), make_ticket(db, customer)
        assert merge(client, customer.headers, one.id, two.id).status_code == 403
        other = make_customer(db)
        assert merge(client, other.headers, one.id, two.id).status_code == 404

    def test_deleted(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        boss = make_admin(db)
        one, two = make_ticket(db, customer), make_ticket(db, customer)
        delete_ticket(db, boss, two.id)
        response = merge(client, boss.headers, one.id, two.id)
        assert response.status_code == 409 and response.json()["error"]["code"] == "ticket_deleted"
        assert merge(client, agent.headers, one.id, two.id).status_code == 404, "agents do not see deleted"

    def test_already_merged(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        one, two, three = (make_ticket(db, customer) for _ in range(3))
        ok(merge(client, agent.headers, one.id, two.id), 201)
        response = merge(client, agent.headers, three.id, two.id)
        assert response.status_code == 409 and response.json()["error"]["code"] == "already_merged"
        assert one.number in response.json()["error"]["message"]

    def test_chains_are_refused(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        one, two, three = (make_ticket(db, customer) for _ in range(3))
        ok(merge(client, agent.headers, one.id, two.id), 201)
        into_merged = merge(client, agent.headers, two.id, three.id)
        assert into_merged.status_code == 409 and into_merged.json()["error"]["code"] == "merge_chain"
        assert f"merge into {one.number} instead" in into_merged.json()["error"]["message"]
        primary_merged_away = merge(client, agent.headers, three.id, one.id)
        assert primary_merged_away.status_code == 409
        assert primary_merged_away.json()["error"]["code"] == "merge_chain"

    def test_into_a_closed_ticket(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        one, two = make_ticket(db, customer), make_ticket(db, customer)
        set_status(db, agent, one.id, "closed")
        response = merge(client, agent.headers, one.id, two.id)
        assert response.status_code == 409 and response.json()["error"]["code"] == "merge_target_closed"

    def test_bad_input_is_422(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        for body in ({"ticketIds": []}, {"ticketIds": [0]}, {}, {"ticketIds": ["x"]}):
            response = client.post(f"/api/v1/tickets/{ticket.id}/merge", json=body, headers=agent.headers)
            assert response.status_code == 422, body


class TestUnmerge:
    def test_round_trip_restores_the_exact_prior_state(self, client: TestClient, db: Database) -> None:
        pair = worked_pair(client, db)
        before = state(db, pair.primary_id, pair.secondary_id)
        merged = ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)["data"][0]
        assert state(db, pair.primary_id, pair.secondary_id) != before
        with db.unit_of_work(write=False) as session:
            description_id = session.scalars(select(TicketMerge)).one().snapshot["description_message_id"]
        later = ok(
            client.post(
                f"/api/v1/tickets/{pair.primary_id}/replies",
                json={"message": "Posted after the merge."},
                headers=pair.agent.headers,
            ),
            201,
        )
        undone = ok(client.post(f"/api/v1/merges/{merged['id']}/undo", headers=pair.agent.headers))
        assert undone["unmergedAt"] is not None and undone["unmergedById"] == pair.agent.id
        after = state(db, pair.primary_id, pair.secondary_id, skip_messages=frozenset({later["id"]}))
        assert after == before
        with db.unit_of_work(write=False) as session:
            kept = session.get(Message, later["id"])
            assert kept is not None and kept.ticket_id == pair.primary_id, (
                "later messages stay on the primary"
            )
            assert session.get(Message, description_id) is None, "the synthetic description message is gone"
            fields = [
                (e.ticket_id, e.field, e.old_value is None)
                for e in session.scalars(select(TicketEvent).where(TicketEvent.field.like("merged%")))
            ]
        assert (pair.secondary_id, "merged_into", False) in fields and (
            pair.primary_id,
            "merged_from",
            False,
        ) in fields

    def test_round_trip_of_a_ticket_made_by_a_split(self, client: TestClient, db: Database) -> None:
        """Its messages already remember a ticket they came from; the undo must give that back."""
        pair = worked_pair(client, db)
        split = ok(
            client.post(
                f"/api/v1/tickets/{pair.secondary_id}/split",
                json={"messageIds": [pair.secondary_reply_id, pair.secondary_note_id]},
                headers=pair.agent.headers,
            ),
            201,
        )
        before = state(db, pair.primary_id, split["id"])
        assert {
            m["moved_from_ticket_id"] for m in before["messages"].values() if m["ticket_id"] == split["id"]
        } == {pair.secondary_id}
        merged = ok(merge(client, pair.agent.headers, pair.primary_id, split["id"]), 201)["data"][0]
        ok(client.post(f"/api/v1/merges/{merged['id']}/undo", headers=pair.agent.headers))
        assert state(db, pair.primary_id, split["id"]) == before

    def test_a_merged_ticket_can_be_merged_again_after_undo(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        one, two = make_ticket(db, customer), make_ticket(db, customer)
        first = ok(merge(client, agent.headers, one.id, two.id), 201)["data"][0]
        ok(client.post(f"/api/v1/tickets/{two.id}/unmerge", headers=agent.headers))
        second = ok(merge(client, agent.headers, one.id, two.id), 201)["data"][0]
        assert second["id"] != first["id"]

    def test_twice_is_refused(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        one, two = make_ticket(db, customer), make_ticket(db, customer)
        merged = ok(merge(client, agent.headers, one.id, two.id), 201)["data"][0]
        ok(client.post(f"/api/v1/merges/{merged['id']}/undo", headers=agent.headers))
        again = client.post(f"/api/v1/merges/{merged['id']}/undo", headers=agent.headers)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_unmerged"
        not_merged = client.post(f"/api/v1/tickets/{two.id}/unmerge", headers=agent.headers)
        assert not_merged.status_code == 404

    def test_refused_when_a_moved_message_was_split_off_since(self, client: TestClient, db: Database) -> None:
        pair = worked_pair(client, db)
        merged = ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)["data"][0]
        ok(
            client.post(
                f"/api/v1/tickets/{pair.primary_id}/split",
                json={"messageIds": [pair.secondary_reply_id]},
                headers=pair.agent.headers,
            ),
            201,
        )
        response = client.post(f"/api/v1/merges/{merged['id']}/undo", headers=pair.agent.headers)
        assert response.status_code == 409 and response.json()["error"]["code"] == "moved_since_merge"

    def test_only_staff_who_see_both_tickets(self, client: TestClient, db: Database) -> None:
        pair = worked_pair(client, db)
        merged = ok(merge(client, pair.agent.headers, pair.primary_id, pair.secondary_id), 201)["data"][0]
        billing_agent = make_agent(db, departments=("billing",))
        url = f"/api/v1/merges/{merged['id']}/undo"
        assert client.post(url, headers=billing_agent.headers).status_code == 404
        assert client.post(url, headers=pair.secondary_customer.headers).status_code == 404
        assert client.post(url, headers=pair.primary_customer.headers).status_code == 404
        assert (
            client.get(
                f"/api/v1/tickets/{pair.primary_id}/merges", headers=pair.primary_customer.headers
            ).status_code
            == 403
        )
