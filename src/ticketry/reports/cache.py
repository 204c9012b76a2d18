"""What a report's kept answer (`core.recent.RecentAnswers`) depends on besides its arguments:
who may see which tickets.

A report over every visible ticket costs half a second at a million tickets; desks and
dashboards ask for it constantly, so `reports.service` keeps its answers a short while, and
nobody is ever given an answer computed for another visibility.
"""

from __future__ import annotations

from collections.abc import Hashable

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission


def visibility_key(actor: Actor) -> Hashable:
    """What `ticket_visibility(actor)` depends on: the same key, the same tickets."""
    if actor.can(Permission.TICKETS_VIEW_ALL):
        return ("all",)
    return (
        actor.user_id,
        actor.is_staff,
        actor.can(Permission.TICKETS_VIEW),
        actor.organization_id,
        actor.organization_shared,
        tuple(sorted(actor.department_ids)),
    )
