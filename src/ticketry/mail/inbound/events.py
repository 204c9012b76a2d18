"""The incoming-mail jobs (see `jobs.events`): poll a mailbox, ingest one received mail."""

# No `from __future__ import annotations` here: on Python 3.11 a TypedDict sees `NotRequired`
# only in an evaluated annotation, and the worker checks payloads by the keys it declares.
from typing import NotRequired, TypedDict

from ticketry.jobs.events import Event


class IngestMail(TypedDict):
    mail_log_id: int
    # An admin's "process again" of a held mail: let it through the filters (`release`), and
    # vouch for its sender (`vouch`); see `mail.inbound.receive.requeue`.
    release: NotRequired[bool]
    vouch: NotRequired[bool]


class PollMailbox(TypedDict):
    mailbox_id: int


INGEST = Event("mail.ingest", IngestMail)
POLL = Event("mail.poll", PollMailbox)
