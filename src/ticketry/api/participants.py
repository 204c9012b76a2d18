"""`/tickets/{id}/participants`: the people whose mail joins a ticket's conversation besides its
customer (docs/product.md §4). Staff only; customers never read the list."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import Field

from ticketry.core.pagination import ListPage
from ticketry.core.schemas import Email, Input, Schema
from ticketry.http.deps import CurrentActor, DbSession, PathId
from ticketry.tickets import participants as participant_service
from ticketry.tickets.models import ParticipantRole, TicketParticipant
from ticketry.users.schemas import UserContact

router = APIRouter(prefix="/tickets", tags=["participants"])


class ParticipantView(Schema):
    user: UserContact
    role: ParticipantRole = Field(
        description="cc: copied in by the customer; accepted: an agent "
        "accepted their held mail; added: added by staff."
    )
    added_at: datetime
    added_by_id: int | None


class ParticipantIn(Input):
    email: Email
    name: str = Field(default="", max_length=200)


def _view(row: TicketParticipant) -> ParticipantView:
    return ParticipantView.model_validate(row)


@router.get("/{ticket_id}/participants", response_model=ListPage[ParticipantView])
def list_participants(
    ticket_id: PathId, session: DbSession, actor: CurrentActor
) -> ListPage[ParticipantView]:
    rows = participant_service.list_participants(session, actor, ticket_id)
    return ListPage[ParticipantView].of([_view(row) for row in rows])


@router.post("/{ticket_id}/participants", response_model=ParticipantView, status_code=201)
def add_participant(
    ticket_id: PathId, body: ParticipantIn, session: DbSession, actor: CurrentActor
) -> ParticipantView:
    """Let this address's mail join the conversation (a customer account is made for a new one)."""
    row = participant_service.add_participant(session, actor, ticket_id, email=body.email, name=body.name)
    return _view(row)


@router.delete("/{ticket_id}/participants/{user_id}", status_code=204)
def remove_participant(
    ticket_id: PathId, user_id: PathId, session: DbSession, actor: CurrentActor
) -> Response:
    """Their later mail is held for review again, like a stranger's."""
    participant_service.remove_participant(session, actor, ticket_id, user_id)
    return Response(status_code=204)
