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
fail one after the other), starts the processes, starts a new one for any that dies, and stops
them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

import structlog

log = structlog.get_logger(__name__)

SPAWN = multiprocessing.get_context("spawn")
BACKLOG = 2048
STOP_SECONDS = 30.0


def supported() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port) in the port's `SO_REUSEPORT` group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _process(host: str, port: int, options: dict[str, Any]) -> None:
    """One web process: its own socket, then uvicorn on it until told to stop."""
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run `workers` web processes on host:port until SIGINT or SIGTERM. `options` are
    `uvicorn.Config`'s (the app, its loop, its logging …)."""
    # Fails here, once and clearly, if the address is taken by a process outside the group or
    # cannot be had; bound without listening, the probe is never handed a connection.
    listening_socket(host, port, listen=False).close()
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    processes = [_start(host, port, options) for _ in range(workers)]
    log.info("serve.started", host=host, port=port, workers=workers)
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    log.warning("serve.process_died", pid=process.pid, exitcode=process.exitcode)
                    processes[index] = _start(host, port, options)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        log.info("serve.stopped")


def _start(host: str, port: int, options: dict[str, Any]) -> multiprocessing.process.BaseProcess:
    process = SPAWN.Process(target=_process, args=(host, port, options), daemon=False)
    process.start()
    return process
