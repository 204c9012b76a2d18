"""`python -m bench.latest`: the newest benchmark results as the markdown table README.md shows
("Latest figures"): scenario, figure, target, MET/MISS, with the date, the load average, the
commit and the backend and size of each run. Reads bench/results/*.json; prints to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import facts

RESULTS = Path(__file__).parent / "results"
LABELS = {
    "floor": "floor: health (one database round trip)",
    "floor_auth": "floor: token check + constant answer",
    "floor_page": "floor: signed-in page with one small read",
    "create": "create ticket",
    "reply": "staff reply",
    "list": "list (open, page 1)",
    "detail": "ticket detail + replies",
    "search": "search (mixed terms)",
    "search_customer": "search, the customer's own tickets",
    "stats": "stats",
    "desk": "desk list page",
    "page": "desk ticket page",
    "portal": "portal",
}
# The order: writes, reads, pages.
ORDER = (
    "floor",
    "floor_auth",
    "floor_page",
    "create",
    "reply",
    "list",
    "detail",
    "search",
    "search_customer",
    "stats",
    "desk",
    "page",
    "portal",
)
TERM_CLASSES = ("rare", "medium", "common", "two-words", "number", "email")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latest", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"where the JSON files are ({RESULTS})")
    parser.add_argument(
        "files", nargs="*", type=Path, help="these load benchmark results instead of the newest per backend"
    )
    return parser.parse_args(argv)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def newest_load_runs(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The newest load benchmark result of each backend, PostgreSQL first."""
    newest: dict[str, tuple[float, Path, dict[str, Any]]] = {}
    for path in directory.glob("*.json"):
        run = _read(path)
        if not run or run.get("backend") not in ("postgresql", "sqlite") or "results" not in run:
            continue
        stamp = path.stat().st_mtime
        if run["backend"] not in newest or stamp > newest[run["backend"]][0]:
            newest[run["backend"]] = (stamp, path, run)
    return [(newest[b][1], newest[b][2]) for b in ("postgresql", "sqlite") if b in newest]


def newest_fanout(directory: Path) -> tuple[Path, dict[str, Any], list[dict[str, Any]]] | None:
    """The newest fan-out figures, from `bench.fanout` or `bench.mail --runs fanout`."""
    best: tuple[float, Path, dict[str, Any], list[dict[str, Any]]] | None = None
    for path in [*directory.glob("fanout-*.json"), *directory.glob("mail-*.json")]:
        run = _read(path)
        rows = [r for r in (run or {}).get("results", []) if r.get("run") == "fanout"]
        if run and rows and (best is None or path.stat().st_mtime > best[0]):
            best = (path.stat().st_mtime, path, run, rows)
    return None if best is None else best[1:]


def _when(path: Path, run: dict[str, Any]) -> str:
    finished = run.get("finished_at")
    if isinstance(finished, str):
        return finished[:16].replace("T", " ")
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def _commit(run: dict[str, Any]) -> str:
    recorded = run.get("commit")
    return f"`{recorded}`" if recorded else f"`{facts.source_commit()}` (now; the run did not record it)"


def _ms(value: object) -> str:
    return "-" if value is None else f"{value:g} ms"


def _verdict(figure: str, bound: float, values: dict[str, Any]) -> tuple[str, str]:
    """(target, MET/MISS) of one row against its bound; a row with failed requests misses."""
    value = values.get(figure)
    if figure.startswith("p95"):
        target = f"p95 <= {bound:g} ms"
        met = isinstance(value, int | float) and value <= bound
    else:
        target = f">= {bound:g}/s"
        met = isinstance(value, int | float) and value >= bound
    if values.get("errors"):
        return target, f"**MISS** ({values['errors']} errors)"
    return target, "MET" if met else "**MISS**"


def _figure(figure: str, row: dict[str, Any]) -> str:
    if figure.startswith("p95"):
        text = f"p95 {_ms(row.get('p95_ms'))} ({row.get('throughput_per_s')}/s)"
    else:
        text = f"{row.get('throughput_per_s')}/s (p95 {_ms(row.get('p95_ms'))})"
    if row.get("errors"):
        text += f", {row['errors']} errors"
    if row.get("jobs_due_at_start"):
        text += f", {row['jobs_due_at_start']} jobs due at the start"
    return text


def load_table(path: Path, run: dict[str, Any]) -> list[str]:
    seed = run.get("seed", {})
    config = run.get("config", {})
    load = run.get("loadavg", {})
    start, end = (load.get("start") or [None])[0], (load.get("end") or [None])[0]
    rows = {r["scenario"]: r for r in run.get("results", [])}
    others = [r.get("other_cpu_percent", 0) for r in rows.values()]
    reader = "the admin" if config.get("as_admin") else "a department agent"
    lines = [
        f"**{run['backend']}**, {seed.get('tickets', 0):,} tickets / {seed.get('messages', 0):,} messages; "
        f"{_when(path, run)} UTC, commit {_commit(run)}; {config.get('workers')} uvicorn workers, "
        f"{config.get('concurrency')} clients, {config.get('seconds')} s per scenario, reading as {reader}; "
        + (
            f"load average {start:.2f} at the start, {end:.2f} at the end"
            + (
                f", other processes up to {max(others)}% of a core during a scenario"
                if others and max(others)
                else ""
            )
            + (" (**not a quiet machine: figures are noise**)" if start > facts.QUIET_LOAD else "")
            if isinstance(start, int | float) and isinstance(end, int | float)
            else "load average not recorded"
        )
        + f" (`{path.name}`).",
        "",
        "| scenario | figure | target | |",
        "|---|---|---|---|",
    ]
    targets = run.get("targets", {})
    for name in [n for n in ORDER if n in rows]:
        row, target = rows[name], targets.get(name)
        if target is None:
            lines.append(f"| {LABELS[name]} | {_figure('p95_ms', row)} | - | |")
            continue
        bound_text, met = _verdict(target["figure"], target["bound"], row)
        lines.append(f"| {LABELS[name]} | {_figure(target['figure'], row)} | {bound_text} | {met} |")
        classes = row.get("by_class", {})
        for tag in [t for t in TERM_CLASSES if t in classes]:
            figures = classes[tag]
            bound_text, met = _verdict(target["figure"], target["bound"], figures)
            lines.append(
                f"| &nbsp;&nbsp;{tag} | p95 {_ms(figures.get('p95_ms'))} (p50 {_ms(figures.get('p50_ms'))}, "
                f"{figures.get('operations')} ops) | {bound_text} | {met} |"
            )
    for drained in run.get("drains", []):
        when = "left by an earlier run" if drained["after"] == "start" else f"after {drained['after']}"
        lines.append(f"| job backlog {when} | {_backlog(drained)} | reads wait for it | |")
    return lines


def _backlog(drained: dict[str, Any]) -> str:
    names = ", ".join(f"{count} {name}" for name, count in drained.get("backlog_by_name", {}).items())
    head = f"{drained['backlog_jobs']} jobs due" + (f" ({names})" if names else "")
    rates = f"{drained['jobs_per_s']} jobs/s, {drained['mails_per_s']} mails/s"
    if drained["drained"]:
        return f"{head}, drained in {drained['seconds']:.1f} s ({rates})"
    return f"{head}, **{drained['left_jobs']} still due after {drained['seconds']:.0f} s** ({rates})"


def fanout_table(path: Path, run: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    machine = run.get("machine", {})
    lines = [
        f"Worker fan-out (`bench.fanout`): {_when(path, run)} UTC, commit {_commit(run)}, "
        f"load average {machine.get('loadavg', ['?'])[0]} at the start (`{path.name}`).",
        "",
        "| backend | events | agents | mails/event | events/s | mails/s | worker CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['events']} | {r['agents']} | {r['mails_per_event']} | "
            f"{r['event_rate']} | {r['mail_rate']} | {r['own_cpu_percent']}% |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.files:
        runs = [(path, run) for path in args.files if (run := _read(path)) is not None]
    else:
        runs = newest_load_runs(args.results)
    if not runs:
        print(f"No load benchmark results in {args.results}.", file=sys.stderr)
        return 1
    out: list[str] = []
    for path, run in runs:
        out += [*load_table(path, run), ""]
    fanout = newest_fanout(args.results)
    if fanout is not None:
        out += [*fanout_table(*fanout), ""]
    print("\n".join(out).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
