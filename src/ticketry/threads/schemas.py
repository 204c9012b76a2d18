"""Merges and splits as the API sees them (staff only: customers never reach these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from ticketry.core.schemas import Id, Input, Schema
from ticketry.tickets.models import TicketMerge


class MergeIn(Input):
    """Merge these tickets INTO the ticket of the path."""

    ticket_ids: list[Id] = Field(min_length=1, max_length=20, description="The duplicates to merge.")
    confirm_different_customers: bool = Field(
        default=False,
        description="Required when a duplicate belongs to another customer: each customer will then "
        "see the other's messages and files (409 customers_differ without it).",
    )


class SplitIn(Input):
    message_ids: list[Id] = Field(min_length=1, max_length=500, description="The messages that move.")
    title: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="The new ticket's title; by default 'Split from <number>: <title>'."
    )


class MergeView(Schema):
    id: int
    primary_id: int
    primary_number: str
    secondary_id: int
    secondary_number: str
    merged_at: datetime
    merged_by_id: int | None
    unmerged_at: datetime | None
    unmerged_by_id: int | None
    moved_messages: int = Field(description="How many messages the merge moved to the primary.")

    @classmethod
    def of(cls, merge: TicketMerge) -> MergeView:
        snapshot: dict[str, Any] = merge.snapshot or {}
        return cls(
            id=merge.id,
            primary_id=merge.primary_id,
            primary_number=str(snapshot.get("primary_number", "")),
            secondary_id=merge.secondary_id,
            secondary_number=str(snapshot.get("secondary_number", "")),
            merged_at=merge.merged_at,
            merged_by_id=merge.merged_by_id,
            unmerged_at=merge.unmerged_at,
            unmerged_by_id=merge.unmerged_by_id,
            moved_messages=len(snapshot.get("moved_messages", {})),
        )
