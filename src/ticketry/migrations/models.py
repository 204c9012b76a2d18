"""Every table's model, imported so that `Base.metadata` is complete."""

from __future__ import annotations

from ticketry.attachments import models as attachment_models
from ticketry.auth import models as auth_models
from ticketry.canned import models as canned_models
from ticketry.core.db import Base
from ticketry.history import models as history_models
from ticketry.jobs import models as job_models
from ticketry.mail.inbound import models as mailbox_models
from ticketry.mail.log import models as mail_models
from ticketry.messages import models as message_models
from ticketry.realtime import models as realtime_models
from ticketry.search import models as search_models
from ticketry.sitesettings import models as site_settings_models
from ticketry.tickets import models as ticket_models
from ticketry.users import models as user_models

MODEL_MODULES = (
    attachment_models,
    auth_models,
    canned_models,
    history_models,
    job_models,
    mail_models,
    mailbox_models,
    message_models,
    realtime_models,
    search_models,
    site_settings_models,
    ticket_models,
    user_models,
)
metadata = Base.metadata

# Search artifacts are created by hand in the migrations (the FTS5 table, its view and triggers on
# SQLite; the table of tsvectors, its functions and triggers on PostgreSQL, before 0012 generated
# tsvector columns); they have no model, so comparisons skip them.
SEARCH_TABLE_PREFIXES = ("search_documents", "tickets_fts", "messages_fts")
SEARCH_COLUMNS = frozenset({"search_vector"})
SEARCH_INDEXES = frozenset(
    {
        "ix_search_documents_public_document",
        "ix_search_documents_staff_document",
        "ix_tickets_search_vector",
        "ix_messages_search_vector",
    }
)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "table" and name and name.startswith(SEARCH_TABLE_PREFIXES):
        return False
    if type_ == "column" and name in SEARCH_COLUMNS:
        return False
    return not (type_ == "index" and name in SEARCH_INDEXES)
