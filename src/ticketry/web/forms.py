"""Form fields several pages parse the same way."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form

from ticketry.attachments.service import MAX_PER_REQUEST
from ticketry.core.schemas import Id

# The ids of files uploaded beforehand (POST /api/v1/attachments), one hidden field each; the
# service refuses more than MAX_PER_REQUEST too, this only stops a huge list before it is parsed.
AttachmentIds = Annotated[list[Id], Form(max_length=MAX_PER_REQUEST)]
