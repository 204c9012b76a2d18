"""All of `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

from ticketry.api import admin, attachments, auth, mail, meta, notifications, replies, tickets

api_router = APIRouter(prefix="/api/v1")
for module in (auth, notifications, tickets, replies, attachments, admin, mail, meta):
    api_router.include_router(module.router)
