"""All of `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

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

api_router = APIRouter(prefix="/api/v1")
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
    api_router.include_router(module.router)
