"""What an address says about who reads it (pure: no I/O)."""

from __future__ import annotations

import re
from email.utils import parseaddr

# Local parts (before any `+tag`, lower case) that name a machine, not a reader: no-reply senders
# (`noreply`, `no-reply`, `do_not_reply`, `notifications-noreply`, `noreply123`), the delivery
# system (`mailer-daemon`, `postmaster`) and bounce handlers (`bounce`, `bounces-1234`, VERP).
_UNATTENDED = re.compile(
    r"""
    ^(?:.*[-_.])?(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|no[-_.]?answer)(?:[-_.].*|\d*)$
    | ^mailer[-_.]?daemon$
    | ^postmaster$
    | ^bounces?(?:[-_.].*|\d*)$
    """,
    re.VERBOSE,
)


def is_unattended(address: str) -> bool:
    """Whether mail to `address` (bare, or `Name <address>`) is read by nobody: automatic mail to
    it (a receipt, a notification) only produces bounces, or starts a loop with the system that
    sent from it."""
    email = parseaddr(address)[1] or address
    local = email.rpartition("@")[0].strip().lower()
    return bool(_UNATTENDED.match(local.partition("+")[0]))
