"""Choosing the audience's schema: staff get staff views, customers customer views."""

from __future__ import annotations

from collections.abc import Sequence

from ticketry.auth.actor import Actor
from ticketry.core.pagination import ListPage, Page, PaginationView, pagination_view
from ticketry.core.schemas import Schema
from ticketry.history.models import TicketEvent
from ticketry.history.schemas import TicketEventCustomerView, TicketEventStaffView
from ticketry.messages.models import Message
from ticketry.messages.schemas import MessageCustomerView, MessageStaffView
from ticketry.search.rows import ListedTicket
from ticketry.tickets.models import Ticket
from ticketry.tickets.schemas import (
    TicketCustomerListItem,
    TicketCustomerView,
    TicketListItem,
    TicketStaffView,
)


class TicketPage(Schema):
    data: list[TicketListItem] | list[TicketCustomerListItem]
    pagination: PaginationView


def ticket_view(actor: Actor, ticket: Ticket) -> TicketStaffView | TicketCustomerView:
    return TicketStaffView.of(ticket) if actor.is_staff else TicketCustomerView.of(ticket)


def ticket_page(actor: Actor, page: Page[ListedTicket]) -> TicketPage:
    item = TicketListItem if actor.is_staff else TicketCustomerListItem
    data = [item.model_validate(ticket) for ticket in page.items]
    return TicketPage(data=data, pagination=pagination_view(page))


def message_view(actor: Actor, message: Message) -> MessageStaffView | MessageCustomerView:
    schema = MessageStaffView if actor.is_staff else MessageCustomerView
    return schema.model_validate(message)


MessageList = ListPage[MessageStaffView] | ListPage[MessageCustomerView]
EventList = ListPage[TicketEventStaffView] | ListPage[TicketEventCustomerView]


def message_views(actor: Actor, messages: Sequence[Message]) -> MessageList:
    if actor.is_staff:
        return ListPage[MessageStaffView].of([MessageStaffView.model_validate(m) for m in messages])
    return ListPage[MessageCustomerView].of([MessageCustomerView.model_validate(m) for m in messages])


def event_views(actor: Actor, events: Sequence[TicketEvent]) -> EventList:
    if actor.is_staff:
        return ListPage[TicketEventStaffView].of([TicketEventStaffView.model_validate(e) for e in events])
    return ListPage[TicketEventCustomerView].of([TicketEventCustomerView.model_validate(e) for e in events])
