"""Job handlers, registered by name so packages react to each other without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, dict[str, Any]], None]

_handlers: dict[str, Handler] = {}


def job(name: str) -> Callable[[Handler], Handler]:
    """Register a handler. It runs in its own transaction and must be idempotent: delivery is at
    least once (a worker can die after the work and before recording it)."""

    def register(handler: Handler) -> Handler:
        if name in _handlers and _handlers[name] is not handler:
            raise ValueError(f"job handler {name!r} registered twice")
        _handlers[name] = handler
        return handler

    return register


def handler_for(name: str) -> Handler | None:
    return _handlers.get(name)


def unregister(name: str) -> None:
    """For tests that register throwaway handlers."""
    _handlers.pop(name, None)
