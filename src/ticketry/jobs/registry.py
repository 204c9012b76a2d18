"""Job handlers, registered by name so packages react to each other without importing each other.

Two kinds: a `job` runs inside the transaction that marks it done (the common case: a few
writes, all or nothing); a `task` gets the database and runs outside any transaction, for work
that must not hold a write transaction while it waits on the network or stores files (polling a
mailbox, ingesting a mail with attachments). A task commits its own steps and must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ticketry.core.db import Database

Handler = Callable[[Session, dict[str, Any]], None]
TaskHandler = Callable[[Database, dict[str, Any]], None]

_handlers: dict[str, Handler] = {}
_tasks: dict[str, TaskHandler] = {}


def job(name: str) -> Callable[[Handler], Handler]:
    """Register a handler. It runs in its own transaction and must be idempotent: delivery is at
    least once (a worker can die after the work and before recording it)."""

    def register(handler: Handler) -> Handler:
        if (name in _handlers and _handlers[name] is not handler) or name in _tasks:
            raise ValueError(f"job handler {name!r} registered twice")
        _handlers[name] = handler
        return handler

    return register


def task(name: str) -> Callable[[TaskHandler], TaskHandler]:
    """Register a handler that manages its own transactions (see the module docstring)."""

    def register(handler: TaskHandler) -> TaskHandler:
        if (name in _tasks and _tasks[name] is not handler) or name in _handlers:
            raise ValueError(f"job handler {name!r} registered twice")
        _tasks[name] = handler
        return handler

    return register


def handler_for(name: str) -> Handler | None:
    return _handlers.get(name)


def task_for(name: str) -> TaskHandler | None:
    return _tasks.get(name)


def unregister(name: str) -> None:
    """For tests that register throwaway handlers."""
    _handlers.pop(name, None)
    _tasks.pop(name, None)
