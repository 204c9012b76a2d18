"""`/tags`: the tag list with counts and autocomplete, tag management (admins), and one tag at a
time on a ticket. Staff only: tags are staff-only fields (docs/product.md §1)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from ticketry.core.pagination import ListPage
from ticketry.core.schemas import Id, Input, Schema
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.tickets import service as ticket_service
from ticketry.tickets import tags as tag_service
from ticketry.tickets.models import Ticket
from ticketry.tickets.schemas import TagName, TagView

router = APIRouter(tags=["tags"])

Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")]


class TagCountView(TagView):
    count: int = Field(description="Live tickets with this tag that you can see.")


class TagCreate(Input):
    name: TagName
    color: Color | None = None


class TagUpdate(Input):
    name: TagName | None = None
    color: Color | None = None


class TagMerge(Input):
    into_id: Id = Field(description="The tag that takes this one's tickets; this one is deleted.")


class TicketTagIn(Input):
    name: TagName


class TicketTags(Schema):
    ticket_id: int
    version: int
    tags: list[TagView]


def _counted(item: tag_service.TagCount) -> TagCountView:
    return TagCountView(id=item.tag.id, name=item.tag.name, color=item.tag.color, count=item.count)


@router.get("/tags", response_model=ListPage[TagCountView])
def list_tags(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[
        str | None, Query(max_length=50, description="Names starting with this (at most 20).")
    ] = None,
    sort: Literal["name", "count"] = "name",
) -> ListPage[TagCountView]:
    return ListPage[TagCountView].of(
        [_counted(t) for t in tag_service.list_tags(session, actor, q=q, sort=sort)]
    )


@router.post("/tags", response_model=TagView, status_code=201)
def create_tag(body: TagCreate, session: DbSession, actor: CurrentActor) -> TagView:
    """Admins; agents too while the setting `agentsCreateTags` is on."""
    return TagView.model_validate(tag_service.create_tag(session, actor, name=body.name, color=body.color))


@router.patch("/tags/{tag_id}", response_model=TagView)
def update_tag(tag_id: PathId, body: TagUpdate, session: DbSession, actor: CurrentActor) -> TagView:
    """Rename or recolour (admins). A name another tag has is 409: merge the tags instead."""
    tag = tag_service.update_tag(session, actor, tag_id, name=body.name, color=body.color)
    return TagView.model_validate(tag)


@router.post("/tags/{tag_id}/merge", response_model=TagView)
def merge_tag(tag_id: PathId, body: TagMerge, session: DbSession, actor: CurrentActor) -> TagView:
    return TagView.model_validate(tag_service.merge_tag(session, actor, tag_id, into_id=body.into_id))


@router.delete("/tags/{tag_id}", status_code=204)
def delete_tag(tag_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    tag_service.delete_tag(session, actor, tag_id)
    return Response(status_code=204)


def _ticket_tags(session: DbSession, ticket: Ticket) -> TicketTags:
    loaded = ticket_service.load_for_view(session, ticket)
    return TicketTags(
        ticket_id=loaded.id, version=loaded.version, tags=[TagView.model_validate(t) for t in loaded.tags]
    )


@router.post("/tickets/{ticket_id}/tags", response_model=TicketTags)
def add_ticket_tag(
    ticket_id: PathId, body: TicketTagIn, session: DbSession, actor: CurrentActor
) -> TicketTags:
    return _ticket_tags(session, ticket_service.add_tag(session, actor, ticket_id, body.name))


@router.delete("/tickets/{ticket_id}/tags/{name}", response_model=TicketTags)
def remove_ticket_tag(
    ticket_id: PathId,
    name: Annotated[str, Path(min_length=1, max_length=50)],
    session: DbSession,
    actor: CurrentActor,
) -> TicketTags:
    return _ticket_tags(session, ticket_service.remove_tag(session, actor, ticket_id, name))
