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

Each is registered for a declared `jobs.events.Event`, and mypy checks that the handler takes
that event's payload type. A job whose name has no handler is refused by the worker (parked as
dead), never silently marked done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy.orm import Session

from ticketry.core.db import Database
from ticketry.jobs.events import Event

P = TypeVar("P", bound=Mapping[str, Any])
Writes = Callable[[Session], None]
Kind = Literal["job", "staged", "task"]


@dataclass(frozen=True)
class Registration:
    """The one handler of a job event, and how the worker runs it."""

    event: Event[Any]
    kind: Kind
    handler: Callable[[Any, Any], Any]


_registered: dict[str, Registration] = {}


def _register(event: Event[P], kind: Kind) -> Callable[[Any], Any]:
    """A decorator that files a handler under the event's name; a name takes one handler."""

    def register(handler: Any) -> Any:
        known = _registered.get(event.name)
        if known is not None and known.handler is not handler:
            raise ValueError(f"job handler {event.name!r} registered twice")
        _registered[event.name] = Registration(event, kind, handler)
        return handler

    return register


def job(event: Event[P]) -> Callable[[Callable[[Session, P], None]], Callable[[Session, P], None]]:
    """Register a handler. It runs in its own transaction and must be idempotent: delivery is at
    least once (a worker can die after the work and before recording it)."""
    return _register(event, "job")


def staged(
    event: Event[P],
) -> Callable[[Callable[[Session, P], Writes | None]], Callable[[Session, P], Writes | None]]:
    """Register a staged job (see the module docstring): it reads in a read transaction and
    returns its writes (or None for none). Between the two another transaction may commit, so
    the writes must hold whatever was read then (a mail to an agent who has since left is sent,
    as it would have been a moment earlier). Delivery is at least once, as for a `job`; the writes
    commit together with the job's completion, so they happen once per completed job."""
    return _register(event, "staged")


def task(event: Event[P]) -> Callable[[Callable[[Database, P], None]], Callable[[Database, P], None]]:
    """Register a handler that manages its own transactions (see the module docstring)."""
    return _register(event, "task")


def registered(name: str) -> Registration | None:
    """The handler of the job `name`, if any (the worker refuses a job without one)."""
    return _registered.get(name)


def unregister(name: str) -> None:
    """For tests that register throwaway handlers."""
    _registered.pop(name, None)
