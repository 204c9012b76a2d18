"""Real servers for the attachment tests, one process per test session: ClamAV's daemon with a
signature database of our own, and an S3 API (moto) on 127.0.0.1.

Nothing is downloaded: clamd loads only `ticketry.ndb` (one signature, for the EICAR test
string), so it starts in seconds and freshclam is never needed. Import the fixtures where they
are used (tests/attachments/conftest.py does).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from ticketry.attachments.storage import LocalStorage, S3Storage, Storage

CLAMD = Path("/usr/sbin/clamd")
CLAMD_START_SECONDS = 60
MOTO_START_SECONDS = 30
SIGNATURE = "Ticketry.Test.EICAR"
# The EICAR anti-virus test file (eicar.org), in two halves so that no scanner flags this
# repository; joined, it is the 68 bytes every scanner reports as a test virus.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
S3_KEY = "test"
S3_REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port() -> int:
    """A port nobody listens on: one the kernel just handed out and took back."""
    return free_port()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- ClamAV ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clamd:
    url: str  # tcp://127.0.0.1:<port>, the form TICKETRY_CLAMAV_URL takes
    port: int
    log: Path


def clamd_answers(port: int, command: bytes = b"zPING\0") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(command)
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def _clamd_config(root: Path, port: int) -> Path:
    database = root / "db"
    database.mkdir(exist_ok=True)
    (database / "ticketry.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    config = root / "clamd.conf"
    config.write_text(
        "\n".join(
            (
                "Foreground yes",
                f"DatabaseDirectory {database}",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                "StreamMaxLength 2M",  # small, so "too large to scan" is tested cheaply
                "MaxFileSize 100M",
                "MaxScanSize 200M",
                f"LogFile {root / 'clamd.log'}",
                f"PidFile {root / 'clamd.pid'}",
                "",
            )
        )
    )
    return config


def _start_clamd(root: Path) -> tuple[subprocess.Popen[bytes], int] | str:
    """A running clamd and its port, or why it did not start."""
    port = free_port()
    config = _clamd_config(root, port)
    output = (root / "clamd.out").open("wb")
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
        [str(CLAMD), f"--config-file={config}"], stdout=output, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + CLAMD_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"clamd exited with {process.returncode}"
        try:
            if clamd_answers(port) == b"PONG\0":
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    _stop(process)
    return f"clamd did not answer PING within {CLAMD_START_SECONDS} s"


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    """Debian's clamd (package clamav-daemon) on a free port, run from a temporary config."""
    if not CLAMD.exists():
        pytest.skip(f"{CLAMD} is missing: install Debian's clamav-daemon (CI does, see .ci/run)")
    root = tmp_path_factory.mktemp("clamd")
    started: tuple[subprocess.Popen[bytes], int] | str = ""
    for _ in range(3):  # another process may take the free port between our check and clamd's bind
        started = _start_clamd(root)
        if not isinstance(started, str):
            break
    if isinstance(started, str):
        logs = "".join(
            path.read_text(errors="replace")[-3000:]
            for path in (root / "clamd.out", root / "clamd.log")
            if path.exists()
        )
        pytest.fail(f"{started}; its output:\n{logs}")
    process, port = started
    yield Clamd(url=f"tcp://127.0.0.1:{port}", port=port, log=root / "clamd.log")
    _stop(process)


# --- S3 (moto) -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server as a subprocess; yields its endpoint URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + MOTO_START_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"moto server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310 - our server
                break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                _stop(process)
                pytest.fail(f"moto server did not answer within {MOTO_START_SECONDS} s")
            time.sleep(0.2)
    yield endpoint
    _stop(process)


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]  # boto3's client type is generated
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_KEY,
    )


@dataclass(frozen=True)
class S3Bucket:
    endpoint: str
    name: str

    def object_keys(self) -> list[str]:
        """Every object key in the bucket."""
        pages = s3_client(self.endpoint).get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def storage(self, prefix: str = "files") -> S3Storage:
        return S3Storage(
            self.name,
            prefix,
            endpoint_url=self.endpoint,
            region=S3_REGION,
            access_key_id=S3_KEY,
            secret_access_key=S3_KEY,
        )


@pytest.fixture
def s3_bucket(s3_server: str) -> S3Bucket:
    """A fresh, empty bucket for one test."""
    name = f"ticketry-{uuid.uuid4().hex[:16]}"
    s3_client(s3_server).create_bucket(Bucket=name)
    return S3Bucket(endpoint=s3_server, name=name)


# --- either backend --------------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """An empty storage of each backend: a local directory, and a prefix in a fresh bucket."""
    if request.param == "local":
        yield LocalStorage(tmp_path / "files")
        return
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    yield bucket.storage()
