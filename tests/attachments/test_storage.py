"""Both storage backends behind one interface: a local directory and S3 (a real moto server)."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.files import STORED_KEY, text_of
from tests.servers import S3Bucket
from ticketry.attachments.storage import (
    CHUNK,
    ContentMissing,
    LocalStorage,
    S3Storage,
    Storage,
    storage_from_url,
)
from ticketry.core.config import Settings

Stage = Callable[[bytes], tuple[Path, str]]
BIG = 2 * CHUNK + 12_345  # more than two read chunks


@pytest.fixture
def stage(storage: Storage) -> Iterator[Stage]:
    """Write content as intake does, to a private file in the staging directory: (path, key)."""
    made: list[Path] = []

    def write(data: bytes) -> tuple[Path, str]:
        fd, name = tempfile.mkstemp(dir=storage.staging_dir, prefix="upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        made.append(Path(name))
        return Path(name), hashlib.sha256(data).hexdigest()

    yield write
    for path in made:
        path.unlink(missing_ok=True)


def read(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(storage.open(key, start, end))


def stored_objects(storage: Storage) -> list[str]:
    """What the backend holds, as `ab/cd/<sha256>` paths (staging and prefix left out)."""
    if isinstance(storage, LocalStorage):
        return sorted(
            str(p.relative_to(storage.root))
            for p in storage.root.rglob("*")
            if p.is_file() and ".staging" not in p.parts
        )
    assert isinstance(storage, S3Storage)
    listing = storage.client.list_objects_v2(Bucket=storage.bucket)
    return sorted(item["Key"].removeprefix(f"{storage.prefix}/") for item in listing.get("Contents", []))


class TestPutAndRead:
    def test_stored_content_exists_and_reads_back_whole(self, storage: Storage, stage: Stage) -> None:
        data = text_of(BIG)
        staged, key = stage(data)
        assert not storage.exists(key)

        storage.put(staged, key)

        assert storage.exists(key)
        assert read(storage, key) == data
        assert stored_objects(storage) == [f"{key[:2]}/{key[2:4]}/{key}"]

    def test_content_is_read_in_chunks_not_whole(self, storage: Storage, stage: Stage) -> None:
        data = text_of(BIG)
        staged, key = stage(data)
        storage.put(staged, key)

        chunks = list(storage.open(key))

        assert len(chunks) >= 3
        assert max(len(c) for c in chunks) <= CHUNK

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (0, 0),
            (0, 9),
            (10, 19),
            (CHUNK - 5, CHUNK + 5),  # across a chunk boundary
            (BIG - 1, BIG - 1),
            (100, None),
            (0, BIG - 1),
        ],
    )
    def test_ranges_read_exactly_those_bytes(
        self, storage: Storage, stage: Stage, start: int, end: int | None
    ) -> None:
        data = os.urandom(BIG)
        staged, key = stage(data)
        storage.put(staged, key)

        got = read(storage, key, start, end)

        assert got == data[start : None if end is None else end + 1]

    def test_unknown_content_does_not_exist(self, storage: Storage) -> None:
        assert not storage.exists("0" * 64)

    def test_delete_removes_the_content_and_may_be_repeated(self, storage: Storage, stage: Stage) -> None:
        staged, key = stage(b"to be removed\n")
        storage.put(staged, key)

        storage.delete(key)
        storage.delete(key)

        assert not storage.exists(key)
        assert stored_objects(storage) == []

    def test_deleting_one_content_keeps_the_others(self, storage: Storage, stage: Stage) -> None:
        first, first_key = stage(b"first\n")
        second, second_key = stage(b"second\n")
        storage.put(first, first_key)
        storage.put(second, second_key)

        storage.delete(first_key)

        assert not storage.exists(first_key)
        assert read(storage, second_key) == b"second\n"


class TestDedupe:
    def test_the_same_content_is_stored_once(self, storage: Storage, stage: Stage) -> None:
        data = b"identical bytes\n"
        first, key = stage(data)
        second, same_key = stage(data)

        storage.put(first, key)
        storage.put(second, same_key)

        assert key == same_key
        assert stored_objects(storage) == [f"{key[:2]}/{key[2:4]}/{key}"]
        assert read(storage, key) == data

    def test_a_stored_content_is_never_rewritten(self, storage: Storage, stage: Stage) -> None:
        """A key names one content for good: a second put under it leaves the first bytes."""
        original, key = stage(b"the original\n")
        storage.put(original, key)
        other, _ = stage(b"something else\n")

        storage.put(other, key)

        assert read(storage, key) == b"the original\n"


class TestKeys:
    @pytest.mark.parametrize(
        "key",
        ["../../etc/passwd", "report.pdf", "A" * 64, "0" * 63, "0" * 65, "/" + "0" * 63, "0" * 62 + "/x"],
    )
    def test_only_sha256_hex_keys_are_accepted(self, storage: Storage, stage: Stage, key: str) -> None:
        staged, _ = stage(b"whatever\n")

        for attempt in (
            lambda: storage.put(staged, key),
            lambda: storage.exists(key),
            lambda: list(storage.open(key)),
            lambda: storage.delete(key),
        ):
            with pytest.raises(ValueError, match="not a storage key"):
                attempt()
        assert stored_objects(storage) == []

    def test_where_a_file_is_stored_depends_on_its_content_only(self, storage: Storage, stage: Stage) -> None:
        staged, key = stage(b"content\n")

        storage.put(staged, key)

        (stored,) = stored_objects(storage)
        assert STORED_KEY.match(stored)
        assert stored.endswith(hashlib.sha256(b"content\n").hexdigest())


class TestLocalAtomicWrite:
    @pytest.fixture
    def storage(self, tmp_path: Path) -> LocalStorage:  # only the local backend
        return LocalStorage(tmp_path / "files")

    def test_the_file_appears_whole_in_one_rename(
        self, storage: LocalStorage, stage: Stage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = text_of(BIG)
        staged, key = stage(data)
        target = storage.path(key)
        seen: list[tuple[bool, bytes]] = []
        real_replace = os.replace

        def replace(source: str | Path, destination: str | Path) -> None:
            seen.append((target.exists(), Path(source).read_bytes()))
            real_replace(source, destination)

        monkeypatch.setattr(os, "replace", replace)

        storage.put(staged, key)

        assert seen == [(False, data)]  # nothing at the target until the complete file is renamed
        assert sorted(p.name for p in target.parent.iterdir()) == [key]  # no temporary left over

    def test_a_failed_write_leaves_no_file_and_no_temporary(
        self, storage: LocalStorage, stage: Stage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        staged, key = stage(b"half written\n")

        def replace(source: str | Path, destination: str | Path) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", replace)

        with pytest.raises(OSError, match="No space"):
            storage.put(staged, key)

        assert not storage.exists(key)
        assert [p.name for p in storage.path(key).parent.iterdir()] == []

    def test_the_staged_file_stays_for_its_owner_to_discard(
        self, storage: LocalStorage, stage: Stage
    ) -> None:
        staged, key = stage(b"staged\n")

        storage.put(staged, key)

        assert staged.read_bytes() == b"staged\n"
        assert storage.path(key).read_bytes() == b"staged\n"

    def test_a_file_from_elsewhere_is_copied_in(self, storage: LocalStorage, tmp_path: Path) -> None:
        elsewhere = tmp_path / "elsewhere.bin"
        elsewhere.write_bytes(b"from another backend\n")
        key = hashlib.sha256(b"from another backend\n").hexdigest()

        storage.put(elsewhere, key)

        assert elsewhere.exists()
        assert storage.path(key).read_bytes() == b"from another backend\n"
        assert sorted(p.name for p in storage.path(key).parent.iterdir()) == [key]


class TestLocalPermissions:
    def test_files_are_0600_and_every_directory_0700(self, tmp_path: Path) -> None:
        storage = LocalStorage(tmp_path / "data" / "files")
        elsewhere = tmp_path / "upload.bin"
        elsewhere.write_bytes(b"private\n")
        elsewhere.chmod(0o644)
        staged_key = hashlib.sha256(b"private\n").hexdigest()
        fd, name = tempfile.mkstemp(dir=storage.staging_dir)
        os.write(fd, b"also private\n")
        os.close(fd)
        other_key = hashlib.sha256(b"also private\n").hexdigest()

        storage.put(elsewhere, staged_key)
        storage.put(Path(name), other_key)

        created = tmp_path / "data"
        directories = [created, *(p for p in created.rglob("*") if p.is_dir())]
        assert storage.staging_dir in directories
        assert storage.path(staged_key).parent.parent in directories
        modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in directories}
        assert set(modes.values()) == {"0o700"}, modes
        stored = [storage.path(staged_key), storage.path(other_key)]
        assert [stat.S_IMODE(p.stat().st_mode) for p in stored] == [0o600, 0o600]


class TestStorageFromUrl:
    def test_a_directory_is_local_storage(self, tmp_path: Path) -> None:
        storage = storage_from_url(str(tmp_path / "files"), Settings())
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path / "files"

    def test_a_file_url_is_local_storage(self, tmp_path: Path) -> None:
        storage = storage_from_url(f"file://{tmp_path}/files", Settings())
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path / "files"

    def test_an_s3_url_names_bucket_and_prefix(self, s3_bucket: S3Bucket, tmp_path: Path) -> None:
        settings = Settings(
            s3_endpoint_url=s3_bucket.endpoint, s3_access_key_id="test", s3_secret_access_key="test"
        )
        storage = storage_from_url(f"s3://{s3_bucket.name}/tenant/files/", settings)
        staged = tmp_path / "upload.bin"
        staged.write_bytes(b"to the bucket\n")
        key = hashlib.sha256(b"to the bucket\n").hexdigest()

        storage.put(staged, key)

        assert isinstance(storage, S3Storage)
        assert s3_bucket.object_keys() == [f"tenant/files/{key[:2]}/{key[2:4]}/{key}"]
        assert read(storage, key) == b"to the bucket\n"

    @pytest.mark.parametrize("url", ["s3:///prefix", "ftp://example.com/files"])
    def test_unusable_urls_are_refused(self, url: str) -> None:
        with pytest.raises(ValueError, match="s3://bucket"):
            storage_from_url(url, Settings())


class TestStaging:
    def test_every_backend_stages_in_a_directory_only_this_process_can_enter(self, storage: Storage) -> None:
        staging = storage.staging_dir

        assert staging.is_dir()
        assert stat.S_IMODE(staging.stat().st_mode) == 0o700
        assert staging.stat().st_uid == os.getuid()

    def test_s3_staging_is_never_a_fixed_shared_path(self, s3_bucket: S3Bucket) -> None:
        first, second = (s3_bucket.storage().staging_dir for _ in range(2))

        assert first != second  # mkdtemp, not /tmp/ticketry-staging that anyone could create first


class TestMissingContent:
    def test_reading_a_missing_content_says_so(self, storage: Storage) -> None:
        with pytest.raises(ContentMissing):
            next(storage.open("0" * 64))
