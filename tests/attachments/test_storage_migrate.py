"""`ticketry storage migrate --from URL --to URL`: every stored file to the other backend, verified,
resumable; the app then serves the same files from the new place by configuration alone."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from tests import files
from tests.attachments.conftest import MakeClient
from tests.factories import Persona, make_customer
from tests.files import upload
from tests.servers import S3Bucket
from ticketry.attachments.storage import LocalStorage
from ticketry.cli import app
from ticketry.core.config import get_settings
from ticketry.core.db import Database

CONTENTS = [files.text_of(3000, seed=str(i)) for i in range(3)] + [files.png(5, 5)]
NAMES = ["a.txt", "b.txt", "c.txt", "d.png"]

Migrate = Callable[..., Result]


def key_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def in_bucket(bucket: S3Bucket, prefix: str, contents: list[bytes]) -> list[str]:
    return sorted(f"{prefix}/{k[:2]}/{k[2:4]}/{k}" for k in map(key_of, contents))


@pytest.fixture
def migrate(database_url: str, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> Iterator[Migrate]:
    """Run the command as an operator would: the database and S3 settings in the environment."""
    monkeypatch.setenv("TICKETRY_DATABASE_URL", database_url)
    monkeypatch.setenv("TICKETRY_S3_ENDPOINT_URL", s3_bucket.endpoint)
    monkeypatch.setenv("TICKETRY_S3_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("TICKETRY_S3_SECRET_ACCESS_KEY", "test")

    def run(*args: str) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(app, ["storage", "migrate", *args])

    yield run
    get_settings.cache_clear()


@dataclass(frozen=True)
class Uploaded:
    customer: Persona
    saved: list[dict[str, Any]]


@pytest.fixture
def local(client: TestClient, db: Database, tmp_path: Path) -> Uploaded:
    """Files uploaded through the app into local storage (tmp_path/files)."""
    customer = make_customer(db)
    saved = upload(client, customer, *zip(NAMES, CONTENTS, strict=True))["data"]
    assert len(files.stored_keys(tmp_path / "files")) == len(CONTENTS)
    return Uploaded(customer, saved)


class TestLocalToS3AndBack:
    def test_every_file_is_copied_to_s3(
        self, migrate: Migrate, local: Uploaded, s3_bucket: S3Bucket, tmp_path: Path
    ) -> None:
        result = migrate("--from", str(tmp_path / "files"), "--to", f"s3://{s3_bucket.name}/moved")

        assert result.exit_code == 0, result.output
        assert "4 copied, 0 already there, 0 missing, 0 corrupt" in result.output
        assert s3_bucket.object_keys() == in_bucket(s3_bucket, "moved", CONTENTS)
        assert len(files.stored_keys(tmp_path / "files")) == 4  # the source is left as it is

    def test_an_interrupted_run_resumes_where_it_stopped(
        self, migrate: Migrate, local: Uploaded, s3_bucket: S3Bucket, tmp_path: Path
    ) -> None:
        source = LocalStorage(tmp_path / "files")
        target = s3_bucket.storage("moved")
        for data in CONTENTS[:2]:  # what a first, interrupted run had copied
            key = key_of(data)
            target.put(source.path(key), key)

        result = migrate("--from", str(tmp_path / "files"), "--to", f"s3://{s3_bucket.name}/moved")
        again = migrate("--from", str(tmp_path / "files"), "--to", f"s3://{s3_bucket.name}/moved")

        assert result.exit_code == 0, result.output
        assert "2 copied, 2 already there" in result.output
        assert "0 copied, 4 already there" in again.output
        assert s3_bucket.object_keys() == in_bucket(s3_bucket, "moved", CONTENTS)

    def test_back_from_s3_and_the_app_serves_the_files_from_either(
        self,
        migrate: Migrate,
        local: Uploaded,
        s3_bucket: S3Bucket,
        make_client: MakeClient,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        bucket_url = f"s3://{s3_bucket.name}/moved"
        assert migrate("--from", str(tmp_path / "files"), "--to", bucket_url).exit_code == 0
        back = tmp_path / "back"
        monkeypatch.setenv("TICKETRY_STORAGE_URL", str(back))

        result = migrate("--from", bucket_url)  # --to defaults to TICKETRY_STORAGE_URL

        assert result.exit_code == 0, result.output
        assert "4 copied" in result.output
        moved = LocalStorage(back)
        assert [moved.path(key_of(d)).read_bytes() for d in CONTENTS] == CONTENTS
        for storage_url in (bucket_url, str(back)):  # switching is configuration only
            served = make_client(storage_url=storage_url)
            for item, data in zip(local.saved, CONTENTS, strict=True):
                response = served.get(item["url"], headers=local.customer.headers)
                assert (response.status_code, response.content) == (200, data)


class TestProblems:
    def test_a_missing_file_is_reported_and_the_rest_copied(
        self, migrate: Migrate, local: Uploaded, s3_bucket: S3Bucket, tmp_path: Path
    ) -> None:
        gone = key_of(CONTENTS[0])
        LocalStorage(tmp_path / "files").delete(gone)

        result = migrate("--from", str(tmp_path / "files"), "--to", f"s3://{s3_bucket.name}/moved")

        assert result.exit_code == 1
        assert f"missing: {gone}" in result.output
        assert "3 copied, 0 already there, 1 missing, 0 corrupt" in result.output
        assert s3_bucket.object_keys() == in_bucket(s3_bucket, "moved", CONTENTS[1:])

    def test_a_corrupted_file_is_not_copied(
        self, migrate: Migrate, local: Uploaded, s3_bucket: S3Bucket, tmp_path: Path
    ) -> None:
        damaged = key_of(CONTENTS[1])
        path = LocalStorage(tmp_path / "files").path(damaged)
        path.write_bytes(b"bit rot")

        result = migrate("--from", str(tmp_path / "files"), "--to", f"s3://{s3_bucket.name}/moved")

        assert result.exit_code == 1
        assert f"corrupt: {damaged}" in result.output
        assert in_bucket(s3_bucket, "moved", [CONTENTS[1]])[0] not in s3_bucket.object_keys()

    def test_the_same_storage_on_both_sides_is_refused(self, migrate: Migrate, tmp_path: Path) -> None:
        result = migrate("--from", str(tmp_path / "files"), "--to", str(tmp_path / "files"))

        assert result.exit_code == 2
        assert "same storage" in result.output

    def test_an_unknown_url_is_refused(self, migrate: Migrate, tmp_path: Path) -> None:
        result = migrate("--from", "ftp://example.com/files", "--to", str(tmp_path / "files"))

        assert result.exit_code == 2
        assert "Unknown storage URL" in result.output
