"""The server under test, started the way a user starts it, and what /proc says about it; moto."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (children that already exited are not counted)."""
    return sum(cpu_by_pid(pids).values())


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still there."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            pass
    return found


class CpuOf:
    """CPU seconds spent by a changing set of processes (e.g. every PostgreSQL backend) since it
    was created: processes that come later count from their start, ones that exit are lost."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.start = cpu_by_pid(pids())

    def seconds(self) -> float:
        end = cpu_by_pid(self.pids())
        return sum(value - self.start.get(pid, 0.0) for pid, value in end.items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def memory_kb(pid: int) -> dict[str, int]:
    """The `Vm*` lines of /proc/<pid>/status in KiB: VmRSS now, VmHWM its peak since start or reset."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Vm"):
            name, _, value = line.partition(":")
            found[name] = int(value.split()[0])
    return found


def reset_peak_rss(pid: int) -> bool:
    """Set the process's VmHWM back to its current RSS (Linux ≥ 4.0); False if not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @classmethod
    def start(
        cls, database_url: str, *, workers: int, log_path: Path, env: dict[str, str] | None = None
    ) -> Server:
        """`env` adds to (or overrides) the environment the server is started with."""
        port = free_port()
        command = [
            str(Path(sys.executable).with_name("ticketry")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-migrate",
        ]
        environment = {
            **os.environ,
            "TICKETRY_DATABASE_URL": database_url,
            "TICKETRY_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        log_file = log_path.open("wb")
        process = subprocess.Popen(
            command, env=environment, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = cls(process, port, log_path)
        try:
            server.wait_healthy(workers)
        except BaseException:
            server.stop()  # not left running when it never became healthy (or on Ctrl-C)
            raise
        return server

    def wait_healthy(self, workers: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/api/v1/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    # Every worker must be up, not just the first: ask until both answered.
                    # One worker is served by the uvicorn process itself, without a supervisor.
                    if response.status == 200 and len(self.pids()) >= (workers + 1 if workers > 1 else 1):
                        time.sleep(1.0)
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become healthy in {timeout:.0f} s; see {self.log_path}")

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class PeakRss:
    """The server's peak RSS over a stretch of time: its VmHWM after resetting it through
    /proc/<pid>/clear_refs, or, where that is not permitted, VmRSS sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start_kb = self.peak_kb = self.end_kb = 0
        self.marks_kb: list[int] = []  # peak of each stretch between `mark` calls (VmHWM only)
        self.method = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakRss:
        self.start_kb = memory_kb(self.pid)["VmRSS"]
        self.method = "VmHWM" if reset_peak_rss(self.pid) else "sampled"
        self.peak_kb = self.start_kb
        if self.method == "sampled":
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def mark(self) -> None:
        """End a stretch (one file of a sequential phase): note its peak, start the next one."""
        if self.method == "VmHWM":
            self.marks_kb.append(memory_kb(self.pid)["VmHWM"])
            reset_peak_rss(self.pid)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            with contextlib.suppress(OSError, KeyError):
                self.peak_kb = max(self.peak_kb, memory_kb(self.pid)["VmRSS"])

    def __exit__(self, *_: object) -> None:
        status = memory_kb(self.pid)
        self.end_kb = status["VmRSS"]
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_kb = max(self.peak_kb, self.end_kb)
        else:
            self.peak_kb = max([status["VmHWM"], *self.marks_kb])


@contextlib.contextmanager
def moto_server(log_path: Path, bucket: str) -> Iterator[tuple[str, int]]:
    """A real S3 endpoint (moto) on a free port with `bucket` created; its URL and process id."""
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(endpoint, timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto did not start; see {log_path}") from None
                    time.sleep(0.2)
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            client.create_bucket(Bucket=bucket)
            yield endpoint, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
