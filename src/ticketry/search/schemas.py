"""Saved views in the API."""

from __future__ import annotations

from pydantic import Field

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission
from ticketry.core.schemas import Input, Schema
from ticketry.search.models import SavedView
from ticketry.search.query import MAX_QUERY_LENGTH, PARAMETERS
from ticketry.search.service import VIEW_COUNT_CAP
from ticketry.search.views import MAX_NAME_LENGTH, CountedView

QUERY_HELP = (
    "The list's filter as a query string, e.g. `view=all&status=open&tag=vip&sort=updated_at`: "
    "the parameters of `GET /tickets` ("
    + ", ".join(parameter.name for parameter in PARAMETERS if parameter.kept)
    + "); the desk's older `assignee` and `customer` are read as `assigned_to` and `customer_id`. "
    "Without `view` a saved view starts from the desk's queue."
)


class SavedViewView(Schema):
    id: int
    name: str
    query: str = Field(description=QUERY_HELP)
    shared: bool
    mine: bool = Field(description="Whether you created the view.")
    can_edit: bool
    position: int
    count: int | None = Field(
        default=None, description=f"Tickets you see in it, counted up to {VIEW_COUNT_CAP} (then it says so)."
    )
    count_capped: bool = False
    problem: str | None = Field(default=None, description="Why the filter no longer reads, if it does not.")

    @classmethod
    def of(cls, actor: Actor, view: SavedView, counted: CountedView | None = None) -> SavedViewView:
        mine = view.owner_id == actor.user_id
        count = counted.count if counted else None
        return cls(
            id=view.id,
            name=view.name,
            query=view.query,
            shared=view.is_shared,
            mine=mine,
            can_edit=actor.can(Permission.ADMIN_VIEWS) if view.is_shared else mine,
            position=view.position,
            count=count,
            count_capped=count is not None and count >= VIEW_COUNT_CAP,
            problem=counted.problem if counted else None,
        )


class SavedViewCreate(Input):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    query: str = Field(default="", max_length=MAX_QUERY_LENGTH, description=QUERY_HELP)
    shared: bool = Field(default=False, description="Admins: show the view to the whole team.")


class SavedViewUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    query: str | None = Field(default=None, max_length=MAX_QUERY_LENGTH, description=QUERY_HELP)
    shared: bool | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)
