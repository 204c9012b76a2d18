"""`/tickets/{id}/links`: related, duplicate and parent/child tickets (docs/product.md §3). Staff only;
a link to a ticket you cannot see is not listed."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import Field, model_validator

from ticketry.core.pagination import ListPage
from ticketry.core.schemas import Id, Input, Schema
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.tickets import links as link_service
from ticketry.tickets.links import LinkAs, Linked, Relation
from ticketry.tickets.models import LinkKind, TicketStatus

router = APIRouter(prefix="/tickets", tags=["links"])


class LinkedTicketView(Schema):
    id: int
    number: str
    title: str
    status: TicketStatus


class LinkView(Schema):
    id: int
    kind: LinkKind = Field(description="As stored: related, duplicate, or parent (source is the parent).")
    relation: Relation = Field(description="What this ticket is to the other one.")
    label: str = Field(description="The relation in words, e.g. 'child of'.")
    ticket: LinkedTicketView = Field(description="The other ticket.")
    created_at: datetime

    @classmethod
    def of(cls, linked: Linked) -> LinkView:
        return cls(
            id=linked.link.id,
            kind=linked.link.kind,
            relation=linked.relation,
            label=linked.label,
            ticket=LinkedTicketView.model_validate(linked.ticket),
            created_at=linked.link.created_at,
        )


class LinkIn(Input):
    """The other ticket by id or by number, and what this ticket is to it."""

    ticket_id: Id | None = None
    number: str | None = Field(default=None, min_length=1, max_length=32)
    kind: LinkAs = Field(
        description="related; duplicate (this one duplicates the other); parent (this one is the "
        "other's parent); child (this one is the other's child)."
    )

    @model_validator(mode="after")
    def _one_reference(self) -> LinkIn:
        if (self.ticket_id is None) == (self.number is None):
            raise ValueError("send either ticketId or number")
        return self


@router.get("/{ticket_id}/links", response_model=ListPage[LinkView])
def list_links(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> ListPage[LinkView]:
    return ListPage[LinkView].of([LinkView.of(x) for x in link_service.list_links(session, actor, ticket_id)])


@router.post("/{ticket_id}/links", response_model=LinkView, status_code=201)
def add_link(ticket_id: PathId, body: LinkIn, session: DbSession, actor: CurrentActor) -> LinkView:
    other = body.ticket_id or link_service.find_ticket(session, actor, body.number or "")
    return LinkView.of(link_service.link(session, actor, ticket_id, other_id=other, kind=body.kind))


@router.delete("/{ticket_id}/links/{link_id}", status_code=204)
def remove_link(ticket_id: PathId, link_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    link_service.unlink(session, actor, ticket_id, link_id)
    return Response(status_code=204)
