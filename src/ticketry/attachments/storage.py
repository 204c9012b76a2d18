"""Where file contents live: a local directory or S3-compatible object storage (docs/architecture.md §4).

Both are content-addressed: the key is the content's SHA-256, so storing the same content
twice stores it once, and no user-chosen name ever becomes a path. Uploads are first written
to a private staging file (hashed on the way); `put` then moves or copies that file in.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ticketry.core.config import Settings

CHUNK = 256 * 1024
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class Storage(Protocol):
    """The one interface both backends implement."""

    @property
    def staging_dir(self) -> Path: ...

    @property
    def description(self) -> str: ...

    def put(self, staged: Path, key: str) -> None:
        """Store the staged file under `key` unless that content is already stored."""

    def exists(self, key: str) -> bool: ...

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The content (or bytes `start`..`end` inclusive) in chunks; `ContentMissing` at the
        first chunk when it is not there."""

    def delete(self, key: str) -> None:
        """Remove the content; removing what is not there is not an error."""


class ContentMissing(Exception):
    """A recorded content is not in this storage (deleted by hand, or a migration not finished)."""


class StorageUnavailable(Exception):
    """The storage did not answer (S3 endpoint down, a disk error)."""


def _check(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def _private_dir(path: Path) -> Path:
    """`path`, with itself and every missing parent made 0700 (`mkdir(parents=True)` would make
    the parents 0755, leaving the content hashes listable by anyone)."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    return path


@dataclass(frozen=True)
class LocalStorage:
    """Files under `root/ab/cd/<sha256>`, 0600 in 0700 directories, written by atomic rename."""

    root: Path

    @property
    def staging_dir(self) -> Path:
        # Inside the root, so that `put` is a rename on one file system.
        return _private_dir(self.root / ".staging")

    @property
    def description(self) -> str:
        return f"local directory {self.root}"

    def path(self, key: str) -> Path:
        _check(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, staged: Path, key: str) -> None:
        target = self.path(key)
        if target.exists():
            return
        _private_dir(target.parent)
        os.chmod(staged, 0o600)
        if staged.parent == self.staging_dir:
            # A hard link keeps the staged file for its owner to discard; the rename below is
            # atomic, so a reader sees no file or the whole file, never a partial one.
            temp = target.with_name(f".{key}.{secrets.token_hex(8)}.tmp")
            os.link(staged, temp)
        else:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{key}.")
            os.close(fd)
            temp = Path(name)
        try:
            if staged.parent != self.staging_dir:
                shutil.copyfile(staged, temp)
            with open(temp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(temp, target)
        except BaseException:
            # A failed write (disk full, …) leaves no half-written temporary behind.
            temp.unlink(missing_ok=True)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            source = self.path(key).open("rb")
        except FileNotFoundError as error:
            raise ContentMissing(key) from error
        except OSError as error:
            raise StorageUnavailable(str(error)) from error
        with source:
            source.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                chunk = source.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()


class S3Storage:
    """Objects `prefix/ab/cd/<sha256>` in one bucket, via boto3 (any S3-compatible service)."""

    # Multipart parts of 8 MiB, two at a time: a 50 MB upload holds about 16 MiB in memory.
    PART_SIZE = 8 * 1024 * 1024

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # Without keys here, boto3's own chain applies (AWS_* variables, instance roles, …).
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
        )
        self.transfer = TransferConfig(
            multipart_threshold=self.PART_SIZE, multipart_chunksize=self.PART_SIZE, max_concurrency=2
        )
        self._staging: Path | None = None

    @property
    def staging_dir(self) -> Path:
        # Private to this process (mkdtemp: a new 0700 directory), never a shared fixed path
        # that another local user could create first.
        if self._staging is None or not self._staging.is_dir():
            self._staging = Path(tempfile.mkdtemp(prefix="ticketry-staging-"))
        return self._staging

    @property
    def description(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def object_key(self, key: str) -> str:
        _check(key)
        path = f"{key[:2]}/{key[2:4]}/{key}"
        return f"{self.prefix}/{path}" if self.prefix else path

    def put(self, staged: Path, key: str) -> None:
        if self.exists(key):
            return
        self.client.upload_file(str(staged), self.bucket, self.object_key(key), Config=self.transfer)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        wanted = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), Range=wanted)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ContentMissing(key) from error
            raise StorageUnavailable(str(error)) from error
        except BotoCoreError as error:  # the endpoint did not answer
            raise StorageUnavailable(str(error)) from error
        body = response["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))


def storage_from_url(url: str, settings: Settings) -> Storage:
    """`./data/files`, `/var/lib/ticketry/files`, `file:///…` or `s3://bucket/prefix`."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"An S3 storage URL names a bucket: s3://bucket/prefix, not {url!r}")
        return S3Storage(
            parts.netloc,
            parts.path,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    if parts.scheme == "file":
        return LocalStorage(Path(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        raise ValueError(f"Unknown storage URL {url!r}: use a directory, file:///path or s3://bucket")
    return LocalStorage(Path(url).resolve())


def open_storage(settings: Settings) -> Storage:
    return storage_from_url(settings.storage_url, settings)
