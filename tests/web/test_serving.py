"""`ticketry serve --workers 2` (issue 13): each web process listens on a socket of its own in one
`SO_REUSEPORT` group, so a client that opens many connections at once is served by both
processes (with one shared socket, the first process to wake took nearly all of them); a
process that dies is replaced; SIGTERM stops them all."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.browser.conftest import _free_port, _ticketry_command, _wait_until_healthy

from ticketry import serving

pytestmark = pytest.mark.skipif(not serving.supported(), reason="SO_REUSEPORT groups are Linux's")

CONNECTIONS = 32


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def children(self) -> list[int]:
        found = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        # The spawn context's resource tracker is a child too; web processes hold the port.
        return [int(pid) for pid in found if self.holds_port(int(pid))]

    def holds_port(self, pid: int) -> bool:
        return bool(socket_inodes(pid) & inodes_on(self.port, state="0A"))  # 0A: LISTEN


def inodes_on(port: int, *, state: str) -> set[str]:
    """Socket inodes of TCP connections on local `port` in `state` (/proc/net/tcp's hex)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def socket_inodes(pid: int) -> set[str]:
    """The process's socket inodes; none for a process that is gone (a killed child can be
    reaped between reading its parent's children and reading its descriptors)."""
    inodes: set[str] = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return inodes
    for fd in descriptors:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


@pytest.fixture
def running(tmp_path: Path, sqlite_template: Path) -> Iterator[Running]:
    path = tmp_path / "ticketry.db"
    shutil.copyfile(sqlite_template, path)
    port = _free_port()
    env = {
        **os.environ,
        "TICKETRY_DATABASE_URL": f"sqlite:///{path}",
        "TICKETRY_INPROCESS_WORKER": "false",
        "TICKETRY_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [_ticketry_command(), "serve", "--port", str(port), "--workers", "2", "--no-migrate"],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, f"http://127.0.0.1:{port}", log)
        wait_for(lambda: len(Running(process, port, log).children()) == 2, "two web processes")
        yield Running(process, port, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(check: object, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def health_over_each(connections: list[socket.socket]) -> None:
    """One keep-alive request on every connection; all sent before any answer is read."""
    request = b"GET /api/v1/health HTTP/1.1\r\nHost: test\r\n\r\n"
    for connection in connections:
        connection.sendall(request)
    for connection in connections:
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(4096)
            assert chunk, "the server closed a keep-alive connection"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_connections_opened_at_once_are_spread_over_both_processes(running: Running) -> None:
    connections = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(CONNECTIONS)]
    try:
        health_over_each(connections)
        established = inodes_on(running.port, state="01")  # 01: ESTABLISHED
        held = {pid: len(socket_inodes(pid) & established) for pid in running.children()}
        assert sum(held.values()) == CONNECTIONS, held
        assert min(held.values()) >= CONNECTIONS // 8, held
    finally:
        for connection in connections:
            connection.close()


def test_a_process_that_dies_is_replaced_and_sigterm_stops_them_all(running: Running) -> None:
    first, second = running.children()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: first not in running.children() and len(running.children()) == 2, "a new process")
    assert second in running.children()
    with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/api/v1/health", timeout=10) as answer:
        assert answer.status == 200

    children = running.children()
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=40) == 0, running.log.read_text()[-2000:]
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_taken_port_is_a_clear_error_even_for_an_older_instance_of_ours(
    running: Running, tmp_path: Path
) -> None:
    """The running server's processes listen in a SO_REUSEPORT group; a second `serve` must not
    join it (two versions would share the traffic), and says why it stops."""
    started = time.monotonic()
    second = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [_ticketry_command(), "serve", "--port", str(running.port), "--workers", "2", "--no-migrate"],
        env={**os.environ, "TICKETRY_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{running.port}" in second.stderr.decode()
    assert time.monotonic() - started < 30


def test_the_web_processes_stop_when_their_parent_is_killed(running: Running) -> None:
    children = running.children()
    running.process.kill()  # SIGKILL: the parent cannot tell them
    running.process.wait()

    def gone() -> bool:
        return not any(
            Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
            for pid in children
        )

    wait_for(gone, "the orphaned web processes to stop")
