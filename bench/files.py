"""`python -m bench.files` (part of `make bench`): attachment throughput and the server's memory.

Uploads and downloads 1 MB and 50 MB files through the API on both storage backends (a local
directory, and S3 served by a real moto server), one uvicorn process each, and reports MB/s and
how far each phase raised the server's peak RSS. Target (issue 4): a 50 MB upload raises the
server's peak memory by at most 20 MB. See bench/README.md; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import resource
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import facts, load
from bench import server as proc
from bench.server import PeakRss, Server, moto_server
from bench.transfer import Client, Payload, TransferError
from ticketry.migrations import upgrade

RESULTS = Path(__file__).parent / "results"
MB = 1_000_000  # file sizes, throughput and memory alike: the "50 MB" is 50,000,000 bytes
SMALL, LARGE = 1 * MB, 50 * MB
RSS_BOUND_MB = 20.0
PASSWORD = "bench-password-1"
BUCKET = "ticketry-bench"
S3_KEYS = {"TICKETRY_S3_ACCESS_KEY_ID": "test", "TICKETRY_S3_SECRET_ACCESS_KEY": "test"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.files",
        description="Upload and download 1 MB and 50 MB attachments on each storage backend; "
        "print MB/s and the server's peak RSS per phase.",
    )
    parser.add_argument("--storage", default="local,s3", help="comma-separated subset of local,s3")
    parser.add_argument("--small-files", type=int, default=200, help="1 MB files (default 200)")
    parser.add_argument("--small-concurrency", type=int, default=4, help="1 MB files sent at once (4)")
    parser.add_argument("--large-files", type=int, default=10, help="50 MB files sent one at a time (10)")
    parser.add_argument(
        "--large-concurrency",
        type=int,
        default=2,
        help="the last phase sends twice this many 50 MB files, this many at once (2; 0 skips it)",
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (stored files)")
    args = parser.parse_args(argv)
    args.storage = args.storage.split(",")
    if set(args.storage) - {"local", "s3"}:
        parser.error("--storage takes local, s3 or local,s3")
    return args


@dataclass(frozen=True)
class Phase:
    size: int
    files: int
    concurrency: int

    @property
    def label(self) -> str:
        at_once = "one at a time" if self.concurrency == 1 else f"{self.concurrency} at once"
        return f"{self.size // MB} MB x {self.files}, {at_once}"

    @property
    def bounded(self) -> bool:
        """The issue's bound is for one 50 MB upload: the phase that sends them one at a time."""
        return self.size == LARGE and self.concurrency == 1


def phases(args: argparse.Namespace) -> list[Phase]:
    # The bounded phase first, right after the warm-up: what other uploads leave behind in the
    # process (allocator arenas, thread stacks) is then not counted in its baseline.
    planned = [
        Phase(LARGE, args.large_files, 1),
        Phase(SMALL, args.small_files, args.small_concurrency),
        Phase(LARGE, 2 * args.large_concurrency, args.large_concurrency),
    ]
    return [p for p in planned if p.files > 0]


def _mb(kb: int) -> float:
    return round(kb * 1024 / MB, 1)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Uploaded:
    url: str
    size: int
    sha256: str
    verify: bool  # hash this one again when it is downloaded


@dataclass(frozen=True)
class Target:
    """The server under test, and its RSS after the warm-up."""

    storage: str
    port: int
    pid: int
    token: str
    warm_kb: int
    store_pids: tuple[int, ...]  # the S3 service (moto), whose CPU is reported too


async def measure(
    target: Target, direction: str, phase: Phase, jobs: list[Callable[[Client], Awaitable[None]]]
) -> dict[str, Any]:
    """Run the jobs on `phase.concurrency` connections (each takes the next job when done), under watch."""
    queue = list(reversed(jobs))
    errors: list[str] = []
    storage, pid, warm_kb = target.storage, target.pid, target.warm_kb

    async def worker(client: Client, rss: PeakRss) -> None:
        try:
            while queue:
                job = queue.pop()
                try:
                    await job(client)
                except (TransferError, OSError) as error:
                    client.close()
                    errors.append(f"{type(error).__name__}: {error}")
                if phase.concurrency == 1:
                    rss.mark()
        finally:
            client.close()

    clients = [Client(target.port, target.token) for _ in range(phase.concurrency)]
    cpu, own, store = proc.cpu_seconds([pid]), _own_cpu(), proc.cpu_seconds(list(target.store_pids))
    with PeakRss(pid) as rss:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, rss) for c in clients))
        seconds = time.perf_counter() - started
    moved = phase.size * (len(jobs) - len(errors))  # a download phase has one job per file uploaded
    row: dict[str, Any] = {
        "storage": storage,
        "direction": direction,
        "phase": phase.label,
        "size": phase.size,
        "files": len(jobs),
        "concurrency": phase.concurrency,
        "megabytes": moved / MB,
        "seconds": round(seconds, 2),
        "mb_per_s": round(moved / MB / seconds, 1),
        "rss_start_mb": _mb(rss.start_kb),
        "rss_peak_mb": _mb(rss.peak_kb),
        "peak_increase_mb": _mb(rss.peak_kb - rss.start_kb),
        "peak_over_warm_mb": _mb(rss.peak_kb - warm_kb),
        "rss_end_increase_mb": _mb(rss.end_kb - rss.start_kb),
        "peak_increase_per_file_mb": [_mb(kb - rss.start_kb) for kb in rss.marks_kb],
        "peak_method": rss.method,
        "server_cpu_percent": round(100 * (proc.cpu_seconds([pid]) - cpu) / seconds),
        "client_cpu_percent": round(100 * (_own_cpu() - own) / seconds),
        "s3_cpu_percent": (
            round(100 * (proc.cpu_seconds(list(target.store_pids)) - store) / seconds)
            if target.store_pids
            else None
        ),
        "errors": len(errors),
        "error_samples": errors[:3],
        "target": "",
    }
    if direction == "upload" and phase.bounded:
        met = row["peak_increase_mb"] <= RSS_BOUND_MB
        row["target"] = f"{'MET ' if met else 'MISS'} peak +<= {RSS_BOUND_MB:g} MB"
    print(
        f"  {storage:<5} {direction:<8} {phase.label:<26} {row['mb_per_s']:>7} MB/s  "
        f"peak RSS +{row['peak_increase_mb']} MB  errors {len(errors)}  {row['target']}",
        flush=True,
    )
    if direction == "upload" and rss.marks_kb:
        print(
            f"          peak RSS per file: {' '.join(f'+{v}' for v in row['peak_increase_per_file_mb'])} MB"
        )
    for sample in row["error_samples"]:
        print(f"          error: {sample}")
    return row


async def drive(
    storage: str, server: Server, plan: list[Phase], email: str, nonce: str, store_pids: tuple[int, ...]
) -> dict[str, Any]:
    pid = server.process.pid
    token = await load.login(server.port, email, PASSWORD)
    # Warm-up, not measured: the first upload and download load what they need (imports, pools).
    warm_client = Client(server.port, token)
    warm = await warm_client.upload(Payload(10_000, f"warm-{storage}-{nonce}"))
    await warm_client.download(warm["url"])
    warm_client.close()
    await asyncio.sleep(0.5)
    target = Target(storage, server.port, pid, token, proc.memory_kb(pid)["VmRSS"], store_pids)
    rows = []
    for index, phase in enumerate(plan):
        rows += await run_phase(target, phase, f"{storage}-{index}-{nonce}")
    return {"storage": storage, "warm_rss_mb": _mb(target.warm_kb), "rows": rows}


async def run_phase(target: Target, phase: Phase, tag: str) -> list[dict[str, Any]]:
    """Upload the phase's files, then download each of them; one row each way."""
    payloads = [Payload(phase.size, f"{tag}-{n}") for n in range(phase.files)]
    expected = [p.sha256() for p in payloads]  # before the clock starts
    uploaded: list[Uploaded] = []

    async def upload(n: int, client: Client) -> None:
        answer = await client.upload(payloads[n])
        if answer["size"] != phase.size or answer["sha256"] != expected[n]:
            raise TransferError(f"stored {answer['size']} bytes, sha256 {answer['sha256']}")
        uploaded.append(Uploaded(answer["url"], answer["size"], expected[n], verify=n < 2))

    async def download(file: Uploaded, client: Client) -> None:
        digest = hashlib.sha256() if file.verify else None
        received = await client.download(file.url, digest=digest)
        if received != file.size or (digest is not None and digest.hexdigest() != file.sha256):
            raise TransferError(f"{file.url}: {received} bytes, not the file uploaded")

    up = await measure(target, "upload", phase, [partial(upload, n) for n in range(phase.files)])
    down = await measure(target, "download", phase, [partial(download, f) for f in uploaded])
    return [up, down]


def create_customer(database_url: str, email: str) -> None:
    from ticketry.auth.passwords import hash_password
    from ticketry.core.db import Database
    from ticketry.users import service as users
    from ticketry.users.models import Role

    db = Database.connect(database_url, pool_size=1)
    try:
        with db.unit_of_work() as session:
            users.create_user(
                session,
                email=email,
                name="Bench uploader",
                role=Role.CUSTOMER,
                password_hash=hash_password(PASSWORD),
            )
    finally:
        db.dispose()


def serve_and_drive(
    storage: str,
    plan: list[Phase],
    database_url: str,
    env: dict[str, str],
    email: str,
    nonce: str,
    log_path: Path,
    store_pids: tuple[int, ...],
) -> dict[str, Any]:
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    server = Server.start(database_url, workers=1, log_path=log_path, env=env)
    try:
        load_before = facts.load_average()
        result: dict[str, Any] = runner(drive(storage, server, plan, email, nonce, store_pids))
        result["loadavg_before"], result["loadavg_after"] = load_before, facts.load_average()
        return result
    finally:
        server.stop()


def print_table(backends: list[dict[str, Any]]) -> None:
    header = (
        f"{'storage':<7} {'direction':<9} {'phase':<26} {'MB':>5} {'s':>6} {'MB/s':>7} {'RSS0':>6} "
        f"{'peak+':>6} {'warm+':>6} {'end+':>6} {'srv%':>5} {'s3%':>4} {'cli%':>5} {'err':>4}  target"
    )
    print(header)
    print("-" * len(header))
    for backend in backends:
        for r in backend["rows"]:
            s3 = "" if r["s3_cpu_percent"] is None else r["s3_cpu_percent"]
            print(
                f"{r['storage']:<7} {r['direction']:<9} {r['phase']:<26} {r['megabytes']:>5g} "
                f"{r['seconds']:>6} {r['mb_per_s']:>7} {r['rss_start_mb']:>6} {r['peak_increase_mb']:>6} "
                f"{r['peak_over_warm_mb']:>6} {r['rss_end_increase_mb']:>6} {r['server_cpu_percent']:>5} "
                f"{s3:>4} {r['client_cpu_percent']:>5} {r['errors']:>4}  {r['target']}"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load_start = facts.warn_if_busy("the run")
    plan = phases(args)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="ticketry-bench-files-"))
    nonce = secrets.token_hex(6)
    database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
    email = f"bench-files-{nonce}@example.com"
    print(f"Database {database_url}: migrating, creating the customer {email} ...", flush=True)
    upgrade(database_url)
    create_customer(database_url, email)
    backends = []
    try:
        with contextlib.ExitStack() as stack:
            for storage in args.storage:
                log_path = RESULTS / f"server-files-{storage}-{stamp}.log"
                store_pids: tuple[int, ...] = ()
                if storage == "local":
                    env = {"TICKETRY_STORAGE_URL": str(workdir / "files")}
                else:
                    endpoint, moto_pid = stack.enter_context(
                        moto_server(RESULTS / f"moto-{stamp}.log", BUCKET)
                    )
                    store_pids = (moto_pid,)
                    env = {
                        "TICKETRY_STORAGE_URL": f"s3://{BUCKET}/attachments",
                        "TICKETRY_S3_ENDPOINT_URL": endpoint,
                        "TICKETRY_S3_REGION": "us-east-1",
                        **S3_KEYS,
                    }
                print(
                    f"{storage}: `ticketry serve --workers 1 --no-migrate`, TICKETRY_STORAGE_URL="
                    f"{env['TICKETRY_STORAGE_URL']} (log: {log_path})",
                    flush=True,
                )
                facts.warn_if_busy(f"the {storage} phases")
                backends.append(
                    serve_and_drive(storage, plan, database_url, env, email, nonce, log_path, store_pids)
                )
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        '\nAttachments through one uvicorn process. MB = 1,000,000 bytes throughout: a "50 MB" file is '
        "50,000,000 bytes (under the default 50 MiB limit).\n"
        "RSS0 server RSS (MB) when the phase starts; peak+ its peak above RSS0 during the phase; warm+ the "
        "same peak above the RSS after the warm-up; end+ what it still holds when the phase ends.\n"
        f"CPU in % of one core ({os.cpu_count()} CPUs): srv the server, s3 moto, cli this client.\n"
    )
    print_table(backends)
    for backend in backends:
        print(
            f"{backend['storage']}: warm RSS {backend['warm_rss_mb']} MB; load average "
            f"{backend['loadavg_before'][0]:.2f} before, {backend['loadavg_after'][0]:.2f} after"
            + (
                " (not a quiet machine: figures are noise)"
                if backend["loadavg_before"][0] > facts.QUIET_LOAD
                else ""
            )
        )
    load_end = facts.load_average()
    print(f"Load average {load_start[0]:.2f} at the start of the run, {load_end[0]:.2f} at the end.")
    out = RESULTS / f"files-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "commit": facts.source_commit(),
                "config": {**vars(args), "database_url": database_url},
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "loadavg": {"start": load_start, "end": load_end, "quiet_below": facts.QUIET_LOAD},
                "target": {
                    "figure": "peak_increase_mb",
                    "phase": "upload 50 MB one at a time",
                    "bound": RSS_BOUND_MB,
                },
                "phases": [asdict(p) for p in plan],
                "results": backends,
            },
            indent=2,
        )
    )
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
