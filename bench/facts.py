"""Facts every benchmark prints and records beside its figures: how busy the machine was, and
which code was measured."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# A 1-minute load average above this when a measurement starts: something else wants the cores.
QUIET_LOAD = 1.0
ROOT = Path(__file__).resolve().parent.parent


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (runnable processes), rounded for print and JSON."""
    return [round(value, 2) for value in os.getloadavg()]


def quiet_warning(load: list[float], when: str) -> str:
    """The line to print when the machine was not quiet as a measurement started; '' when it was."""
    if load[0] <= QUIET_LOAD:
        return ""
    return (
        f"!! not a quiet machine: load average {load[0]:.2f} at the start of {when} "
        f"(above {QUIET_LOAD:g}): figures are noise"
    )


def warn_if_busy(when: str) -> list[float]:
    """Print the load average now (and the warning when it is high); the load average."""
    load = load_average()
    print(f"Load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start of {when}.", flush=True)
    if warning := quiet_warning(load, when):
        print(warning, flush=True)
    return load


def source_commit() -> str:
    """`git rev-parse --short HEAD`, with `-dirty` when tracked files differ from it; '?' outside git."""
    git = shutil.which("git")
    if git is None:
        return "?"
    try:
        head = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"{head}-dirty" if changed else head
