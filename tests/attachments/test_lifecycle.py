"""Files go and come back with their ticket; housekeeping purges what was deleted long enough ago,
unsent uploads older than a day, and stored contents nothing has pointed at for an hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests import files
from tests.attachments.conftest import MakeClient
from tests.factories import Persona, make_admin, make_customer, make_message
from tests.files import reply_with_files, ticket_with_files, upload, upload_ids
from tests.servers import S3Bucket
from ticketry.app import _purge
from ticketry.attachments import service as attachment_service
from ticketry.attachments.intake import FileStore
from ticketry.attachments.models import Blob
from ticketry.attachments.service import Swept
from ticketry.core.clock import now, travel_to
from ticketry.core.db import Database


def sweep_at(client: TestClient, db: Database, moment: datetime, *, retention_days: int = 30) -> Swept:
    files_: FileStore = client.app.state.files  # type: ignore[attr-defined]
    with travel_to(moment):
        return attachment_service.sweep(db, files_.storage, retention_days=retention_days)


def status(client: TestClient, persona: Persona, attachment_id: int) -> tuple[int, int]:
    """(metadata, content) status codes of one file for one persona."""
    metadata = client.get(f"/api/v1/attachments/{attachment_id}", headers=persona.headers)
    content = client.get(f"/api/v1/attachments/{attachment_id}/content", headers=persona.headers)
    return metadata.status_code, content.status_code


def stored(root: Path, key: str) -> bool:
    return (root / key[:2] / key[2:4] / key).exists()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


def ticket_and_reply_files(client: TestClient, customer: Persona) -> tuple[Any, list[int]]:
    ticket = ticket_with_files(client, customer, ("description.txt", files.text_of(100, seed="d")))
    message = reply_with_files(client, customer, ticket["id"], ("reply.txt", files.text_of(100, seed="r")))
    return ticket, [ticket["attachments"][0]["id"], message["attachments"][0]["id"]]


class TestTicketDeletion:
    def test_a_deleted_tickets_files_are_gone_until_it_is_restored(
        self, client: TestClient, db: Database
    ) -> None:
        customer, admin = make_customer(db), make_admin(db)
        ticket, ids = ticket_and_reply_files(client, customer)

        deleted = client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)

        assert deleted.status_code in (200, 204), deleted.text
        for attachment_id in ids:
            assert status(client, customer, attachment_id) == (404, 404)
            assert status(client, admin, attachment_id) == (404, 404)

        restored = client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=admin.headers)

        assert restored.status_code == 200, restored.text
        assert [a["id"] for a in restored.json()["attachments"]] == ids[:1]
        for attachment_id in ids:
            assert status(client, customer, attachment_id) == (200, 200)

    def test_restoring_brings_back_exactly_the_files_that_went_with_the_ticket(
        self, client: TestClient, db: Database
    ) -> None:
        customer, admin = make_customer(db), make_admin(db)
        ticket, (description_file, reply_file) = ticket_and_reply_files(client, customer)
        message_id = client.get(f"/api/v1/attachments/{reply_file}", headers=customer.headers).json()[
            "messageId"
        ]
        with db.unit_of_work() as session:  # the message's files went earlier, with the message
            attachment_service.soft_delete(session, message_id=message_id, at=now() - timedelta(hours=1))

        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=admin.headers)

        assert status(client, customer, description_file) == (200, 200)
        assert status(client, customer, reply_file) == (404, 404)


class TestMessageDeletion:
    def test_a_deleted_messages_files_go_with_it_and_come_back_with_it(
        self, client: TestClient, db: Database
    ) -> None:
        customer, admin = make_customer(db), make_admin(db)
        ticket, (description_file, reply_file) = ticket_and_reply_files(client, customer)
        reply = client.get(f"/api/v1/attachments/{reply_file}", headers=customer.headers).json()
        url = f"/api/v1/tickets/{ticket['id']}/replies/{reply['messageId']}"

        deleted = client.delete(url, headers=admin.headers)

        assert deleted.status_code == 204, deleted.text
        assert status(client, customer, reply_file) == (404, 404)
        assert status(client, admin, reply_file) == (404, 404)
        assert status(client, customer, description_file) == (200, 200)
        listed = client.get(f"/api/v1/tickets/{ticket['id']}/attachments", headers=admin.headers).json()
        assert [a["id"] for a in listed["data"]] == [description_file]

        restored = client.post(f"{url}/restore", headers=admin.headers)

        assert restored.status_code == 200, restored.text
        assert [a["id"] for a in restored.json()["attachments"]] == [reply_file]
        assert status(client, customer, reply_file) == (200, 200)

    def test_a_deleted_messages_files_are_purged_after_the_retention(
        self, client: TestClient, db: Database
    ) -> None:
        customer, admin = make_customer(db), make_admin(db)
        ticket, (_, reply_file) = ticket_and_reply_files(client, customer)
        message_id = client.get(f"/api/v1/attachments/{reply_file}", headers=customer.headers).json()[
            "messageId"
        ]
        client.delete(f"/api/v1/tickets/{ticket['id']}/replies/{message_id}", headers=admin.headers)

        swept = sweep_at(client, db, now() + timedelta(days=30, minutes=1))

        assert (swept.purged, files.attachment_count(db)) == (1, 1)

    def test_only_admins_delete_messages_and_the_unseen_is_404(
        self, client: TestClient, db: Database
    ) -> None:
        customer, other, admin = make_customer(db), make_customer(db), make_admin(db)
        ticket, (_, reply_file) = ticket_and_reply_files(client, customer)
        message_id = client.get(f"/api/v1/attachments/{reply_file}", headers=customer.headers).json()[
            "messageId"
        ]
        url = f"/api/v1/tickets/{ticket['id']}/replies/{message_id}"

        assert client.delete(url, headers=customer.headers).status_code == 403
        assert client.delete(url, headers=other.headers).status_code == 404
        assert client.post(f"{url}/restore", headers=admin.headers).status_code == 409
        assert client.delete(f"{url}0", headers=admin.headers).status_code == 404
        assert status(client, customer, reply_file) == (200, 200)


class TestRetention:
    def test_files_of_tickets_deleted_longer_ago_are_purged(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer, admin = make_customer(db), make_admin(db)
        ticket, _ = ticket_and_reply_files(client, customer)
        keys = files.blob_keys(db)
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        deleted_at = now()

        early = sweep_at(client, db, deleted_at + timedelta(days=29))
        assert early == Swept(purged=0, orphans=0, blobs=0)
        assert files.attachment_count(db) == 2

        late = sweep_at(client, db, deleted_at + timedelta(days=30, minutes=1))

        assert late == Swept(purged=2, orphans=0, blobs=2)
        assert files.attachment_count(db) == 0
        assert files.blob_keys(db) == []
        assert [stored(root, key) for key in keys] == [False, False]
        restored = client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=admin.headers)
        assert restored.json()["attachments"] == []

    def test_live_tickets_keep_their_files_for_ever(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        _, ids = ticket_and_reply_files(client, customer)

        swept = sweep_at(client, db, now() + timedelta(days=3650))

        assert swept == Swept(purged=0, orphans=0, blobs=0)
        assert [status(client, customer, i) for i in ids] == [(200, 200), (200, 200)]

    def test_a_content_another_file_still_uses_is_kept(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        first, second, admin = make_customer(db), make_customer(db), make_admin(db)
        same = files.png(4, 4)
        doomed = ticket_with_files(client, first, ("shot.png", same))
        kept = ticket_with_files(client, second, ("copy.png", same))
        client.delete(f"/api/v1/tickets/{doomed['id']}", headers=admin.headers)

        swept = sweep_at(client, db, now() + timedelta(days=31))

        assert swept == Swept(purged=1, orphans=0, blobs=0)
        (key,) = files.blob_keys(db)
        assert stored(root, key)
        kept_file = kept["attachments"][0]["id"]
        content = client.get(f"/api/v1/attachments/{kept_file}/content", headers=second.headers)
        assert (content.status_code, content.content) == (200, same)

    def test_the_admins_retention_setting_drives_the_scheduled_purge(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer, admin = make_customer(db), make_admin(db)
        ticket, _ = ticket_and_reply_files(client, customer)
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        app_files: FileStore = client.app.state.files  # type: ignore[attr-defined]

        with travel_to(now() + timedelta(days=3)):
            _purge(db, app_files)
        assert files.attachment_count(db) == 2  # the default keeps them 30 days

        changed = client.patch(
            "/api/v1/admin/settings", json={"attachmentRetentionDays": 2}, headers=admin.headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["attachmentRetentionDays"] == 2
        with travel_to(now() + timedelta(days=3)):
            _purge(db, app_files)

        assert files.attachment_count(db) == 0
        assert files.stored_keys(root) == []

    @pytest.mark.parametrize("days", [-1, 36501])
    def test_the_retention_setting_is_bounded(self, client: TestClient, db: Database, days: int) -> None:
        admin = make_admin(db)

        response = client.patch(
            "/api/v1/admin/settings", json={"attachmentRetentionDays": days}, headers=admin.headers
        )

        assert response.status_code == 422


class TestOrphans:
    def test_unsent_uploads_older_than_a_day_are_removed(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("forgotten.txt", files.TEXT))
        (key,) = files.blob_keys(db)
        uploaded = now()

        assert sweep_at(client, db, uploaded + timedelta(hours=23)) == Swept(purged=0, orphans=0, blobs=0)
        assert status(client, customer, upload_id) == (200, 200)

        swept = sweep_at(client, db, uploaded + timedelta(hours=25))

        assert swept == Swept(purged=0, orphans=1, blobs=1)
        assert status(client, customer, upload_id) == (404, 404)
        assert not stored(root, key)

    def test_an_old_upload_sent_in_time_stays(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("sent.txt", files.TEXT))
        client.post(
            "/api/v1/tickets",
            json={"title": "t", "description": "d", "attachmentIds": [upload_id]},
            headers=customer.headers,
        )

        swept = sweep_at(client, db, now() + timedelta(days=2))

        assert swept == Swept(purged=0, orphans=0, blobs=0)
        assert status(client, customer, upload_id) == (200, 200)


class TestUnreferencedContents:
    def test_collected_only_after_the_grace_period(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        (upload_id,) = upload_ids(client, customer, ("discarded.txt", files.TEXT))
        (key,) = files.blob_keys(db)
        client.delete(f"/api/v1/attachments/{upload_id}", headers=customer.headers)
        discarded = now()

        within = sweep_at(client, db, discarded + timedelta(minutes=30))
        assert within == Swept(purged=0, orphans=0, blobs=0)
        assert stored(root, key)
        assert files.blob_keys(db) == [key]

        after = sweep_at(client, db, discarded + timedelta(minutes=61))

        assert after == Swept(purged=0, orphans=0, blobs=1)
        assert not stored(root, key)
        assert files.blob_keys(db) == []

    def test_uploading_the_content_again_keeps_it_another_hour(
        self, client: TestClient, db: Database, root: Path
    ) -> None:
        customer = make_customer(db)
        (first,) = upload_ids(client, customer, ("a.txt", files.TEXT))
        client.delete(f"/api/v1/attachments/{first}", headers=customer.headers)
        (key,) = files.blob_keys(db)
        with db.unit_of_work() as session:  # the first upload was two hours ago
            session.execute(update(Blob).values(last_seen_at=now() - timedelta(hours=2)))
        (second,) = upload_ids(client, customer, ("b.txt", files.TEXT))
        client.delete(f"/api/v1/attachments/{second}", headers=customer.headers)

        swept = sweep_at(client, db, now() + timedelta(minutes=30))

        assert swept.blobs == 0
        assert stored(root, key)

    def test_a_message_without_files_is_not_affected(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = ticket_with_files(client, customer, ("a.txt", files.TEXT))
        make_message(db, customer, ticket["id"], body="plain words")

        assert sweep_at(client, db, now() + timedelta(days=40)) == Swept(purged=0, orphans=0, blobs=0)


class TestSweepOnS3:
    def test_purged_contents_leave_the_bucket(
        self, make_client: MakeClient, s3_bucket: S3Bucket, db: Database
    ) -> None:
        client = make_client(
            storage_url=f"s3://{s3_bucket.name}/files",
            s3_endpoint_url=s3_bucket.endpoint,
            s3_access_key_id="test",
            s3_secret_access_key="test",
        )
        customer = make_customer(db)
        (item,) = upload(client, customer, ("gone.txt", files.TEXT))["data"]
        kept = ticket_with_files(client, customer, ("kept.png", files.png()))
        client.delete(f"/api/v1/attachments/{item['id']}", headers=customer.headers)
        assert len(s3_bucket.object_keys()) == 2

        swept = sweep_at(client, db, now() + timedelta(hours=2))

        kept_key = kept["attachments"][0]["sha256"]
        assert swept == Swept(purged=0, orphans=0, blobs=1)
        assert s3_bucket.object_keys() == [f"files/{kept_key[:2]}/{kept_key[2:4]}/{kept_key}"]
