"""Named permissions and the roles that bundle them (docs/product.md §1). Checked only through `require()`."""

from __future__ import annotations

import enum

from ticketry.users.models import Role


class Permission(enum.StrEnum):
    TICKETS_VIEW = "tickets:view"
    TICKETS_VIEW_ALL = "tickets:view_all"
    TICKETS_VIEW_INTERNAL = "tickets:view_internal"
    TICKETS_CREATE = "tickets:create"
    TICKETS_CREATE_FOR_OTHERS = "tickets:create_for_others"
    TICKETS_UPDATE = "tickets:update"
    TICKETS_REPLY = "tickets:reply"
    TICKETS_NOTE = "tickets:note"
    TICKETS_STATUS = "tickets:status"
    TICKETS_ASSIGN = "tickets:assign"
    TICKETS_TRANSFER = "tickets:transfer"
    TICKETS_CLOSE = "tickets:close"
    TICKETS_DELETE = "tickets:delete"
    TICKETS_BULK = "tickets:bulk"
    # Merge, unmerge and split tickets; link them to each other.
    TICKETS_MERGE = "tickets:merge"
    TICKETS_LINK = "tickets:link"
    TICKETS_EXPORT = "tickets:export"
    # Watch tickets oneself; adding someone else as a watcher is `tickets:watchers`.
    TICKETS_WATCH = "tickets:watch"
    TICKETS_WATCHERS = "tickets:watchers"
    # Edit any message (authors always edit their own).
    MESSAGES_EDIT_ANY = "messages:edit_any"
    CANNED_USE = "canned:use"
    STATS_VIEW = "stats:view"
    ADMIN_USERS = "admin:users"
    ADMIN_DIRECTORY = "admin:directory"
    ADMIN_JOBS = "admin:jobs"
    ADMIN_SETTINGS = "admin:settings"
    ADMIN_DASHBOARD = "admin:dashboard"
    ADMIN_MAIL = "admin:mail"
    # Tags: rename, merge, recolour, delete; shared canned replies; shared saved views.
    ADMIN_TAGS = "admin:tags"
    ADMIN_CANNED = "admin:canned"
    ADMIN_VIEWS = "admin:views"


_CUSTOMER = frozenset(
    {
        Permission.TICKETS_VIEW,
        Permission.TICKETS_CREATE,
        Permission.TICKETS_REPLY,
        Permission.TICKETS_CLOSE,
    }
)
_AGENT = _CUSTOMER | {
    Permission.TICKETS_VIEW_INTERNAL,
    Permission.TICKETS_CREATE_FOR_OTHERS,
    Permission.TICKETS_UPDATE,
    Permission.TICKETS_NOTE,
    Permission.TICKETS_STATUS,
    Permission.TICKETS_TRANSFER,
    Permission.TICKETS_MERGE,
    Permission.TICKETS_LINK,
    Permission.TICKETS_EXPORT,
    Permission.TICKETS_WATCH,
    Permission.CANNED_USE,
    Permission.STATS_VIEW,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CUSTOMER: _CUSTOMER,
    Role.AGENT: frozenset(_AGENT),
    Role.ADMIN: frozenset(Permission),
}
