"""Job events: a job's name and the type of its payload, declared once, in the `events.py` of the
domain that raises it (`tickets.events`, `messages.events`, `auth.events`, `mail.outbound.events`,
`mail.inbound.events`). Whoever enqueues it and whoever handles it use that one declaration, so a
misspelt name or payload key is a mypy error rather than a job that does nothing:

    CREATED = Event("tickets.created", TicketCreated)       # tickets/events.py
    jobs.enqueue(session, CREATED({"ticket_id": ticket.id}))  # the use case
    @staged(CREATED)                                          # the handler, given a TicketCreated
    def ticket_created(session: Session, payload: TicketCreated) -> Writes | None: ...

A payload is a `TypedDict`: the JSON kept in the outbox row, as it is. Its keys are checked again
at run time, when it is enqueued and when a worker takes it (a row written by an older version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

P = TypeVar("P", bound=Mapping[str, Any])

_declared: dict[str, type[Any]] = {}


class PayloadMismatch(ValueError):
    """A payload lacks a key its event requires, or carries one it does not declare."""


class Event(Generic[P]):
    """One kind of job. Calling it with a payload gives what `jobs.service.enqueue` takes."""

    def __init__(self, name: str, payload: type[P]) -> None:
        known = _declared.setdefault(name, payload)
        if known.__qualname__ != payload.__qualname__ or known.__module__ != payload.__module__:
            raise ValueError(f"job {name!r} declared twice: {known.__qualname__}, {payload.__qualname__}")
        hints = getattr(payload, "__annotations__", {})
        if any(isinstance(hint, str) and "Required[" in hint for hint in hints.values()):
            # Postponed annotations: Python 3.11 would take every `NotRequired` key as required.
            raise TypeError(f"declare {payload.__qualname__} without `from __future__ import annotations`")
        self.name = name
        self.payload = payload
        self.required: frozenset[str] = getattr(payload, "__required_keys__", frozenset())
        self.allowed: frozenset[str] = self.required | getattr(payload, "__optional_keys__", frozenset())

    def __call__(self, payload: P) -> Envelope[P]:
        return Envelope(self, payload)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.payload.__qualname__})"

    def check(self, payload: Mapping[str, Any]) -> P:
        """The payload as its declared type, or `PayloadMismatch` naming the keys that do not fit."""
        missing, unknown = self.required - payload.keys(), payload.keys() - self.allowed
        if missing or unknown:
            found = [
                f"{label} {', '.join(sorted(keys))}"
                for label, keys in (("missing", missing), ("unknown", unknown))
                if keys
            ]
            raise PayloadMismatch(
                f"payload of job {self.name!r} does not fit {self.payload.__qualname__}: {'; '.join(found)}"
            )
        return cast(P, payload)


@dataclass(frozen=True)
class Envelope(Generic[P]):
    """A job event with its payload, ready for `jobs.service.enqueue`."""

    event: Event[P]
    payload: P
