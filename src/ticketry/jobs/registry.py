"""Job handlers, registered by name so packages react to each other without importing each other.

Three kinds:
- a `job` runs inside the transaction that marks it done (the common case: a few writes, all or
  nothing);
- a `staged` job reads and builds in a read transaction, then hands back its writes, which run
  in the transaction that marks it done. For jobs that read and compute much and write little
  (an event's notifications: 30 mails composed, then one INSERT): on SQLite a write transaction
  holds the database's one write lock, and requests wait for it;
- a `task` gets the database and runs outside any transaction, for work that must not hold a
  write transaction while it waits on the network or stores files (polling a mailbox, ingesting a
  mail with attachments). A task commits its own steps and must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ticketry.core.db import Database

Handler = Callable[[Session, dict[str, Any]], None]
Writes = Callable[[Session], None]
Stage = Callable[[Session, dict[str, Any]], Writes | None]
TaskHandler = Callable[[Database, dict[str, Any]], None]

_handlers: dict[str, Handler] = {}
_stages: dict[str, Stage] = {}
_tasks: dict[str, TaskHandler] = {}


def _register(kinds: dict[str, Any], name: str) -> Callable[[Any], Any]:
    """A decorator that files a handler under `name` in `kinds`; a name takes one handler of one
    kind."""

    def register(handler: Any) -> Any:
        if any(name in kind and kind[name] is not handler for kind in (_handlers, _stages, _tasks)):
            raise ValueError(f"job handler {name!r} registered twice")
        kinds[name] = handler
        return handler

    return register


def job(name: str) -> Callable[[Handler], Handler]:
    """Register a handler. It runs in its own transaction and must be idempotent: delivery is at
    least once (a worker can die after the work and before recording it)."""
    return _register(_handlers, name)


def staged(name: str) -> Callable[[Stage], Stage]:
    """Register a staged job (see the module docstring): it reads in a read transaction and
    returns its writes (or None for none). Between the two another transaction may commit, so
    the writes must hold whatever was read then (a mail to an agent who has since left is sent,
    as it would have been a moment earlier). Delivery is at least once, as for a `job`; the writes
    commit together with the job's completion, so they happen once per completed job."""
    return _register(_stages, name)


def task(name: str) -> Callable[[TaskHandler], TaskHandler]:
    """Register a handler that manages its own transactions (see the module docstring)."""
    return _register(_tasks, name)


def handler_for(name: str) -> Handler | None:
    return _handlers.get(name)


def stage_for(name: str) -> Stage | None:
    return _stages.get(name)


def task_for(name: str) -> TaskHandler | None:
    return _tasks.get(name)


def unregister(name: str) -> None:
    """For tests that register throwaway handlers."""
    _handlers.pop(name, None)
    _stages.pop(name, None)
    _tasks.pop(name, None)
