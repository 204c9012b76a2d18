"""Full-text matching, one interface over two backends.

Each ticket has two search documents (migration 0012): its number, title, description and public
messages for customers, the same with internal notes for staff; deleted messages are in neither.
The database keeps them current in the writer's transaction (triggers): an FTS5 table on SQLite,
a table of `tsvector`s with GIN indexes on PostgreSQL. A search is one index on one table, ANDed
with `readable_tickets(actor)` by the caller, so the database can stop at a page of 25 tickets:
a common word walks the tickets in list order and tests each one's document, a rare one reads
its few matches from the index. Which one is the planner's choice, from the documents' word
statistics.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text, union_all
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.core.recent import RecentAnswers
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import only_own_tickets
from ticketry.users.models import User
from ticketry.users.service import normalize_email

_TOKEN = re.compile(r"[\w@.+-]+", re.UNICODE)
_NUMBER = re.compile(r"^[A-Za-z][A-Za-z0-9]*-\d{4}-\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PG_CONFIG = "english"

_documents = table(
    "search_documents",
    column("ticket_id"),
    column("customer_id"),
    column("public_document"),
    column("staff_document"),
)


def terms(query: str) -> list[str]:
    """The words of a user's query; punctuation and FTS operators are not trusted."""
    return _TOKEN.findall(query)[:20]


def fts5_query(query: str) -> str:
    """Each term as a quoted FTS5 string (ANDed), the last one as a prefix."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms(query)]
    if quoted:
        quoted[-1] += "*"
    return " ".join(quoted)


def matching(session: Session, actor: Actor, query: str) -> ColumnElement[bool] | None:
    """A clause on Ticket: the actor's side of the ticket's document has every word of `query`
    (staff read notes, customers do not); or the query is the ticket's number, or the e-mail
    address of its customer.

    To be ANDed with `readable_tickets(actor)` (as `filtered_tickets` does): the documents do not
    decide who may see a ticket (a customer's search looks among their own documents only, for
    speed; their tickets are still the ones `readable_tickets` reads).
    """
    words = terms(query)
    if not words:
        return None
    found: list[Select[Any]] = [_matching_ids(session, actor, query, words)]
    stripped = query.strip()
    if _NUMBER.match(stripped):
        found.append(select(Ticket.id).where(Ticket.number == stripped.upper()).correlate(None))
    if _EMAIL.match(stripped):
        customer = select(User.id).where(User.email == normalize_email(stripped))
        found.append(
            select(Ticket.id).where(Ticket.customer_id.in_(customer.scalar_subquery())).correlate(None)
        )
    # One set of ids, not an OR of clauses: an OR of `IN (…)` and `number = …` made PostgreSQL
    # test every ticket (3 s at a million), where each part alone is one index lookup.
    ids = found[0] if len(found) == 1 else union_all(*found)
    if session.get_bind().dialect.name == "sqlite" and _many(session, actor, query, found[0]):
        # SQLite drives a query from `rowid IN (…)` whenever it can: every match looked up and
        # sorted (90 ms for a word in 15% of 100,000 tickets). `+id` is the same test but no
        # index, so SQLite walks the tickets in list order and stops at a page (3 ms).
        return literal_column("+tickets.id", type_=Ticket.id.type).in_(ids)
    return Ticket.id.in_(ids)


# From this many matches on, SQLite walks the tickets rather than look up every match.
WALK_FROM = 2_000
# Whether a query has that many matches is kept a minute per process: it changes slowly, and
# counting them cost a common word's search 1.7 ms of its 15 (a prefix's matches are gathered).
# A stale answer costs time, never results: both ways find the same tickets. Staff share the
# answers of their side; a customer keeps their own, so that how fast a search answers never
# tells a customer what another one searched for.
_many_by_query: RecentAnswers[bool] = RecentAnswers(max_age=60, size=4096)


def _many(session: Session, actor: Actor, query: str, ids: Select[Any]) -> bool:
    def count() -> bool:
        probe = select(func.count()).select_from(ids.limit(WALK_FROM).subquery())
        return (session.scalar(probe) or 0) >= WALK_FROM

    reader = "staff" if actor.is_staff else actor.user_id
    return _many_by_query.get(session, (reader, fts5_query(query)), count)


def _matching_ids(session: Session, actor: Actor, query: str, words: list[str]) -> Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        document = _documents.c.staff_document if actor.is_staff else _documents.c.public_document
        tsquery = func.websearch_to_tsquery(PG_CONFIG, " ".join(words))
        found = select(_documents.c.ticket_id).where(document.op("@@")(tsquery)).correlate(None)
        if only_own_tickets(actor):
            # One GIN index holds the customer and the public words (migration 0018): it finds
            # this customer's matches without reading anyone else's.
            found = found.where(_documents.c.customer_id == actor.user_id)
        return found
    side = "staff_text" if actor.is_staff else "public_text"
    return (
        select(literal_column("rowid", type_=Ticket.id.type))
        .select_from(text("search_documents"))
        .where(text(f"{side} MATCH :document_match").bindparams(document_match=fts5_query(query)))
        .correlate(None)
    )
