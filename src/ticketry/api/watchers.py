"""`/tickets/{id}/watch` and `/tickets/{id}/watchers`: following tickets (docs/product.md §3). Staff only."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from ticketry.auth.actor import Actor
from ticketry.core.pagination import PaginationView
from ticketry.core.schemas import Id, Input, Schema
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.tickets import watchers as watcher_service
from ticketry.users.models import User
from ticketry.users.schemas import UserBrief

router = APIRouter(prefix="/tickets", tags=["watchers"])


class WatcherList(Schema):
    data: list[UserBrief]
    pagination: PaginationView
    watching: bool = Field(description="Whether you watch the ticket.")

    @classmethod
    def of(cls, actor: Actor, people: list[User]) -> WatcherList:
        total = len(people)
        return cls(
            data=[UserBrief.model_validate(person) for person in people],
            pagination=PaginationView(
                total=total, page=1, page_size=max(total, 1), total_pages=1 if total else 0
            ),
            watching=any(person.id == actor.user_id for person in people),
        )


class WatcherIn(Input):
    user_id: Id = Field(description="An active agent or admin.")


@router.get("/{ticket_id}/watchers", response_model=WatcherList)
def list_watchers(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> WatcherList:
    return WatcherList.of(actor, watcher_service.list_watchers(session, actor, ticket_id))


@router.post("/{ticket_id}/watch", response_model=WatcherList)
def watch(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> WatcherList:
    """Watch a ticket you can see (idempotent)."""
    return WatcherList.of(actor, watcher_service.watch(session, actor, ticket_id))


@router.delete("/{ticket_id}/watch", response_model=WatcherList)
def unwatch(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> WatcherList:
    """Stop watching (idempotent). A ticket you could see only as a watcher is then out of sight."""
    return WatcherList.of(actor, watcher_service.unwatch(session, actor, ticket_id))


@router.post("/{ticket_id}/watchers", response_model=WatcherList)
def add_watcher(ticket_id: PathId, body: WatcherIn, session: DbSession, actor: CurrentActor) -> WatcherList:
    """Admins: make an agent or admin watch the ticket."""
    return WatcherList.of(actor, watcher_service.add_watcher(session, actor, ticket_id, body.user_id))


@router.delete("/{ticket_id}/watchers/{user_id}", response_model=WatcherList)
def remove_watcher(
    ticket_id: PathId, user_id: PathId, session: DbSession, actor: CurrentActor
) -> WatcherList:
    """Admins: take someone off the ticket's watchers."""
    return WatcherList.of(actor, watcher_service.remove_watcher(session, actor, ticket_id, user_id))
