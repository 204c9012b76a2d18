"""All of `/api/v1`, one flat list of routes (see `ticketry.http.routing`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ticketry.api import (
    admin,
    attachments,
    auth,
    canned,
    exports,
    links,
    mail,
    message_edits,
    meta,
    notifications,
    participants,
    replies,
    saved_views,
    tags,
    threads,
    tickets,
    watchers,
)
from ticketry.http.control_characters import refuse_control_characters
from ticketry.http.routing import absorb

# Every route, present and future: no control characters in its path, query or form.
api_router = APIRouter(prefix="/api/v1", dependencies=[Depends(refuse_control_characters)])
for module in (
    auth,
    notifications,
    exports,  # before tickets: /tickets/export.csv is not /tickets/{id}
    tickets,
    replies,
    message_edits,
    threads,
    attachments,
    admin,
    mail,
    meta,
    canned,
    watchers,
    participants,
    links,
    saved_views,
    tags,
):
    absorb(api_router, module.router)
