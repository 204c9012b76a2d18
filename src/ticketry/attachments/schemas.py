"""Attachments as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ticketry.core.schemas import Schema


class AttachmentView(Schema):
    id: int
    filename: str
    content_type: str = Field(description="The type we found in the content, not the uploader's claim.")
    kind: str
    size: int
    sha256: str
    created_at: datetime
    ticket_id: int | None = Field(description="None while the upload is not sent yet.")
    message_id: int | None = Field(description="None for files of the ticket's description.")
    url: str = Field(description="Download (supports Range). `?inline=1` previews raster images.")
    previewable: bool
