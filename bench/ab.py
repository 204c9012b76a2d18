"""`python -m bench.ab --before REV PATH...`: the CPU a request costs in process, this tree against
an earlier commit, alternating (bench/README.md, "A/B in process").

On a machine whose speed wanders (a shared virtual machine: the token-check floor ran at 858 and
at 1,266 requests/s minutes apart), two load runs of two trees compare the machine's moments as
much as the code. Here both trees run at once, each in a long-lived process of its own on the
bench database (the app in process, a test client, signed in as the bench agent or customer),
and take turns: a batch of each path in one, then in the other, the order flipping every round.
Each batch's process CPU per request is paired with the other tree's batch of the same round;
the median of the pairs' ratios is the figure, and the drift of the machine cancels out of it.

The process CPU includes the test client's work; the database's is included on SQLite (it runs
in the process) and not on PostgreSQL. Asserts nothing (docs/architecture.md section 7).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench import data
from bench.__main__ import PG_URL

ROOT = Path(__file__).resolve().parent.parent


def child(url: str, customer: bool, paths: list[str]) -> None:
    """One tree's side: sign in, warm up, then answer each line `N` on stdin with the process CPU
    per request (ms) of N requests of each path, one figure per path."""
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    from ticketry.app import create_app
    from ticketry.core.config import Settings

    client = TestClient(create_app(Settings(database_url=url), background=False))
    email = data.CUSTOMER_EMAIL if customer else data.AGENT_EMAIL
    login = client.post("/api/v1/auth/login", json={"email": email, "password": data.PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    form = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert form is not None, "the login form has no CSRF field"
    signed = client.post(
        "/login",
        data={"email": email, "password": data.PASSWORD, "csrf_token": form.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.status_code
    listing = "/api/v1/tickets?page_size=100" + ("" if customer else "&status=open&department=technical")
    ids = [ticket["id"] for ticket in client.get(listing, headers=bearer).json()["data"]]
    turn = 0

    def get(path: str) -> None:
        nonlocal turn
        url_path = path.format(tid=ids[turn % len(ids)])
        turn += 1
        answer = client.get(url_path, headers=bearer if path.startswith("/api") else {})
        assert answer.status_code == 200, (url_path, answer.status_code, answer.text[:200])

    for path in paths:
        for _ in range(20):
            get(path)
    print("ready", flush=True)
    for line in sys.stdin:
        batch = int(line)
        figures = []
        for path in paths:
            started = time.process_time()
            for _ in range(batch):
                get(path)
            figures.append((time.process_time() - started) / batch * 1000)
        print(" ".join(f"{figure:.4f}" for figure in figures), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="paths to request; {tid} is a ticket the reader sees")
    parser.add_argument("--before", default="HEAD", help="the commit to compare against (default HEAD)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="sqlite")
    parser.add_argument("--database-url", help=f"default {PG_URL} or sqlite:////tmp/ticketry_bench_100000.db")
    parser.add_argument("--customer", action="store_true", help="as the bench customer (default: agent)")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--batch", type=int, default=30, help="requests of each path per turn")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = args.database_url or (
        PG_URL if args.backend == "postgresql" else "sqlite:////tmp/ticketry_bench_100000.db"
    )
    if args.child:
        child(url, args.customer, args.paths)
        return 0

    git = shutil.which("git")
    if git is None:
        parser.error("git is needed to check the earlier commit out")
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as scratch:
        before = Path(scratch) / "before"
        subprocess.run(
            [git, "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before], check=True
        )
        try:
            trees = {"before": before, "after": ROOT}
            flags = ["--child", "--database-url", url] + (["--customer"] if args.customer else [])
            procs = {
                name: subprocess.Popen(
                    [sys.executable, "-m", "bench.ab", *flags, *args.paths],
                    # This file and the bench package come from this tree, the application from each.
                    env={**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{ROOT}"},
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for name, tree in trees.items()
            }
            for name, proc in procs.items():
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", name
            figures: dict[str, list[list[float]]] = {name: [] for name in procs}
            for round_ in range(args.rounds):
                for name in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
                    proc = procs[name]
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(f"{args.batch}\n")
                    proc.stdin.flush()
                    figures[name].append([float(figure) for figure in proc.stdout.readline().split()])
            for proc in procs.values():
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait()
        finally:
            subprocess.run([git, "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False)
    print(f"{args.before} (before) against this tree (after), {args.rounds} rounds of {args.batch}:")
    for index, path in enumerate(args.paths):
        old = [row[index] for row in figures["before"]]
        new = [row[index] for row in figures["after"]]
        ratio = statistics.median(after / before for before, after in zip(old, new, strict=True))
        print(
            f"  {path:55s} before {statistics.median(old):6.2f} ms  after {statistics.median(new):6.2f} ms"
            f"  after/before {ratio:.3f}"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
