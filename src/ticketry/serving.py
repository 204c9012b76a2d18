"""Several web processes on one port, each with a listening socket of its own (Linux).

uvicorn's own `--workers` binds one socket in the parent and hands it to every process. They then
race to accept, and the winner takes every connection waiting (a client opening 16 keep-alive
connections at once got 15 of them on one process: two processes served like one, 120 % of
two cores at most). With `SO_REUSEPORT` each process listens on a socket of its own in one
group, and the kernel spreads new connections over them by their addresses. Each socket is
made as a TCP socket (`IPPROTO_TCP`), so the event loop turns Nagle's algorithm off on what it
accepts (a socket made with protocol 0, as uvicorn's parent makes it, keeps it on, and a reply
written in two parts can wait for the client's delayed acknowledgement).

The parent only watches: it checks the address first (a clear error instead of processes that
fail one after the other, and no joining a group an older instance still listens in), starts the
processes, starts a new one for any that dies (giving up when they die as they start), and stops
them all on SIGINT or SIGTERM. A process whose parent dies stops too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

import structlog

log = structlog.get_logger(__name__)

SPAWN = multiprocessing.get_context("spawn")
BACKLOG = 2048
STOP_SECONDS = 30.0


def supported() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, *, listen: bool = True, group: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port), in the port's `SO_REUSEPORT` group unless `group` is
    false (then any other listener on the port makes the bind fail)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if group:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


PR_SET_PDEATHSIG = 1


def _stop_with_parent(parent: int) -> None:
    """SIGTERM this process when its parent dies (Linux's `prctl`), so a killed supervisor leaves
    no web process serving on its own."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _process(host: str, port: int, options: dict[str, Any], parent: int) -> None:
    """One web process: its own socket, then uvicorn on it until told to stop."""
    import uvicorn

    _stop_with_parent(parent)
    sock = listening_socket(host, port)
    config = uvicorn.Config(host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


# A process that dies this soon after its start died of something a restart will not cure (an
# unreachable database, a bad setting); after this many such deaths in a row, the parent gives up.
EARLY_DEATH_SECONDS = 10.0
EARLY_DEATHS = 5


class GaveUp(Exception):
    """The web processes kept dying as they started."""


def serve(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run `workers` web processes on host:port until SIGINT or SIGTERM. `options` are
    `uvicorn.Config`'s (the app, its loop, its logging …). Raises `GaveUp` when they keep dying
    as they start."""
    # Fails here, once and clearly, if anything listens on the address already (an older
    # instance included: its group would take this one's processes in); bound without
    # listening, the probe is never handed a connection.
    listening_socket(host, port, listen=False, group=False).close()
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    processes: list[tuple[multiprocessing.process.BaseProcess, float]] = []
    early_deaths = 0
    try:
        processes = [_start(host, port, options) for _ in range(workers)]
        log.info("serve.started", host=host, port=port, workers=workers)
        while not stop.wait(0.5):
            for index, (process, started) in enumerate(processes):
                if process.is_alive() or stop.is_set():
                    continue
                log.warning("serve.process_died", pid=process.pid, exitcode=process.exitcode)
                early = time.monotonic() - started < EARLY_DEATH_SECONDS
                early_deaths = early_deaths + 1 if early else 0
                if early_deaths >= EARLY_DEATHS:
                    raise GaveUp(f"the web processes died {early_deaths} times as they started")
                processes[index] = _start(host, port, options)
    finally:
        for process, _ in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process, _ in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        log.info("serve.stopped")


def _start(
    host: str, port: int, options: dict[str, Any]
) -> tuple[multiprocessing.process.BaseProcess, float]:
    process = SPAWN.Process(target=_process, args=(host, port, options, os.getpid()), daemon=False)
    process.start()
    return process, time.monotonic()
