"""`python -m bench.export` (part of `make bench`): the CSV export of a million tickets (issue 6
part 8: "export of 1M rows measured for time and peak RSS").

Seeds (or, with `--reuse`, reuses) the load benchmark's database and streams the whole list, as
the admin sees it, through the real code path (`exports.tables.csv_stream`, every column) into
a file, printing the time, rows per second and the process's memory: resident size before,
the peak while exporting (ru_maxrss) and after. Constant memory means the peak stays near the
start however many rows there are. Nothing is asserted (docs/architecture.md §7).
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench import data
from bench.__main__ import PG_URL, prepare, with_database
from bench.facts import load_average, warn_if_busy
from ticketry.auth import service as auth_service
from ticketry.core.db import Database
from ticketry.exports import tables
from ticketry.search.service import SortField, TicketFilters, TicketSort
from ticketry.users.models import User


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--tickets", type=int, help="tickets to seed (default 1,000,000 on PostgreSQL)")
    parser.add_argument("--database-url", help=f"default {PG_URL} or sqlite:////tmp/ticketry_bench_<N>.db")
    parser.add_argument("--reuse", action="store_true", help="use an already seeded database as it is")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    args = parser.parse_args(argv)
    with_database(args)
    return args


def rss_mb() -> float:
    """Resident memory now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    facts = prepare(args)
    load_start = warn_if_busy("the export")
    db = Database.connect(args.database_url, pool_size=2)
    try:
        with db.unit_of_work(write=False) as session:
            admin = session.scalars(select(User).where(User.email == data.ADMIN_EMAIL)).one()
            actor = auth_service.actor_for(session, admin)
        columns = list(tables.COLUMNS)
        before = rss_mb()
        started = time.perf_counter()
        peak_during = 0.0
        size = 0
        with tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8", delete=True) as out:
            stream = tables.csv_stream(
                db, actor, TicketFilters(), TicketSort(SortField.CREATED_AT, descending=True), columns
            )
            for number, piece in enumerate(stream):
                out.write(piece)
                size += len(piece)
                if number % 100 == 0:
                    peak_during = max(peak_during, rss_mb())
            out.flush()
            elapsed = time.perf_counter() - started
            with open(out.name, encoding="utf-8") as written:
                rows = sum(1 for _ in csv.reader(written)) - 1
        after = rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        db.dispose()
    print(
        f"\nCSV export on {args.backend}, {facts['tickets']:,} tickets in the database, every column "
        f"({len(columns)}), as the admin:"
    )
    print(f"  rows written          {rows:>12,}")
    print(f"  file size             {size / 1e6:>12,.1f} MB")
    print(f"  time                  {elapsed:>12,.1f} s")
    print(f"  rows per second       {rows / elapsed:>12,.0f}")
    print(f"  RSS before            {before:>12,.1f} MB")
    print(f"  RSS peak (sampled)    {max(peak_during, after):>12,.1f} MB")
    print(f"  RSS after             {after:>12,.1f} MB")
    print(f"  ru_maxrss (process)   {peak:>12,.1f} MB")
    print(f"  load average          {load_start[0]:>12.2f} at the start, {load_average()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
