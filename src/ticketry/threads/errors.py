"""Why a merge, an unmerge or a split is refused, each with its code and HTTP status."""

from __future__ import annotations

from ticketry.core.errors import Conflict, NotFound, ValidationFailed


class MergeNotFound(NotFound):
    code = "merge_not_found"


class MergeIntoSelf(ValidationFailed):
    code = "merge_into_self"


class AlreadyMerged(Conflict):
    code = "already_merged"


class MergeChain(Conflict):
    code = "merge_chain"


class MergeTargetClosed(Conflict):
    code = "merge_target_closed"


class AlreadyUnmerged(Conflict):
    code = "already_unmerged"


class MovedSinceMerge(Conflict):
    code = "moved_since_merge"


class TicketIsMerged(Conflict):
    code = "ticket_merged"


class InvalidSplit(ValidationFailed):
    code = "invalid_split"


class CustomersDiffer(Conflict):
    """A merge across customers needs an explicit confirmation (docs/product.md §3)."""

    code = "customers_differ"
