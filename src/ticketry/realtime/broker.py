"""Publishing after commit, and the fan-out to subscribers in this process."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

log = structlog.get_logger(__name__)

PG_CHANNEL = "ticketry_events"
_PENDING = "ticketry_realtime_pending"


@dataclass(frozen=True)
class Event:
    """`channel` is "tickets" (some ticket changed: lists and counts refetch), "ticket:<id>", or
    "user:<id>" (a note for one person, e.g. a watched ticket changed). `detail` is the SSE data
    when set (else the channel): only what its one recipient may see, never ticket content."""

    channel: str
    kind: str
    detail: str = ""

    def encode(self) -> str:
        return json.dumps({"channel": self.channel, "kind": self.kind, "detail": self.detail})

    @classmethod
    def decode(cls, raw: str) -> Event | None:
        try:
            data = json.loads(raw)
            detail = str(data.get("detail", ""))
            return cls(channel=str(data["channel"]), kind=str(data["kind"]), detail=detail)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(eq=False)
class Subscription:
    channels: frozenset[str]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=100))

    def offer(self, item: Event) -> None:
        if item.channel in self.channels:
            self.loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: Event) -> None:
        if not self.queue.full():  # a slow browser loses events, never the server's memory
            self.queue.put_nowait(item)


class Hub:
    """This process's subscribers. Thread-safe: events arrive from request threads and listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    @contextmanager
    def subscribe(self, channels: frozenset[str]) -> Iterator[Subscription]:
        subscription = Subscription(channels=channels, loop=asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)

    def deliver(self, item: Event) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.offer(item)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscriptions)


hub = Hub()


def publish(session: Session, channel: str, kind: str, detail: str = "") -> None:
    """Announce a change, delivered if and only if the session's transaction commits.

    The events wait in the session until its outermost transaction commits; what a savepoint
    rolled back is dropped with it (a bulk edit's failed ticket announces nothing). On
    PostgreSQL they are sent just before that commit, all in one statement of `pg_notify`s
    (PostgreSQL holds them until the commit and reaches every process; a reply's four events
    cost one round trip, not four); elsewhere they are handed to this process's subscribers
    after it. An event published twice in one transaction is sent once.
    """
    item = Event(channel=channel, kind=kind, detail=detail)
    pending: list[Event] = session.info.setdefault(_PENDING, [])
    if item not in pending:
        pending.append(item)


_SAVEPOINTS = "ticketry_realtime_savepoints"


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks: dict[SessionTransaction, int] = session.info.setdefault(_SAVEPOINTS, {})
        marks[transaction] = len(session.info.get(_PENDING, []))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[Event] = session.info.get(_PENDING, [])
    if not previous_transaction.nested:
        pending.clear()
        return
    mark = session.info.get(_SAVEPOINTS, {}).get(previous_transaction)
    if mark is not None:
        del pending[mark:]


@event.listens_for(Session, "after_transaction_end")
def _forget_savepoints(session: Session, transaction: SessionTransaction) -> None:
    # Kept until the outermost transaction ends: a savepoint's rollback is told after its end.
    if not transaction.nested and transaction.parent is None:
        session.info.pop(_SAVEPOINTS, None)


@event.listens_for(Session, "before_commit")
def _notify_before_commit(session: Session) -> None:
    # Also called when a savepoint is released: its events wait for the outermost commit.
    if session.in_nested_transaction() or not session.info.get(_PENDING):
        return
    if session.get_bind().dialect.name != "postgresql":
        return
    payloads = [item.encode() for item in session.info.pop(_PENDING)]
    session.execute(
        text(
            "SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[]))"
            " WITH ORDINALITY AS sent(payload, n) ORDER BY n"
        ),
        {"channel": PG_CHANNEL, "payloads": payloads},
    )


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    for item in session.info.pop(_PENDING, []):
        hub.deliver(item)


def ticket_changed(
    session: Session,
    ticket_id: int,
    kind: str = "changed",
    *,
    public: bool = False,
    customer_id: int | None = None,
) -> None:
    """Staff pages of the ticket and the desk's lists refetch. A `public` change (one a customer
    can see) also reaches the ticket's public channel and its customer's own list channel; a
    staff-only change must not, or its timing alone would tell a customer of internal work."""
    publish(session, ticket_channel(ticket_id), kind)
    publish(session, DESK_CHANNEL, "changed")
    if public:
        publish(session, ticket_channel(ticket_id, public=True), kind)
        if customer_id is not None:
            publish(session, customer_channel(customer_id), "changed")


# The channels, by audience. Staff: the desk's lists, one ticket's pages, one person's own notes.
# Customers: their own tickets' list, and one ticket's public changes.
DESK_CHANNEL = "tickets"


def ticket_channel(ticket_id: int, *, public: bool = False) -> str:
    return f"ticket:{ticket_id}:public" if public else f"ticket:{ticket_id}"


def customer_channel(user_id: int) -> str:
    return f"customer:{user_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def listen_postgres(url: str, stop: threading.Event) -> None:
    """Relay NOTIFYs from every process to this process's subscribers (a daemon thread)."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f"LISTEN {PG_CHANNEL}")
                log.info("realtime.listening")
                while not stop.is_set():
                    for notify in connection.notifies(timeout=1.0):
                        decoded = Event.decode(notify.payload)
                        if decoded is not None:
                            hub.deliver(decoded)
        except Exception:  # the database may restart; keep relaying once it is back
            log.exception("realtime.listener_failed")
            stop.wait(2.0)


def payload_of(item: Event) -> dict[str, Any]:
    return {"event": item.kind, "data": item.channel}
