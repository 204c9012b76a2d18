"""The outgoing-mail job (see `jobs.events`): deliver logged mails (`mail.outbound.service`)."""

from __future__ import annotations

from typing import TypedDict

from ticketry.jobs.events import Event


class SendMail(TypedDict, total=False):
    """One of the two: `mail_log_id` for one mail (as before batches), `mail_log_ids` for more."""

    mail_log_id: int
    mail_log_ids: list[int]


SEND = Event("mail.send", SendMail)
