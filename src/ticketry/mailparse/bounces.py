"""Delivery reports: what a bounce says failed, and which of our mails it was (docs/product.md §4: bounces
never create tickets; the ingest marks the address undeliverable). Pure; used by `parse`."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ticketry.mailparse.addresses import parse_addresses
from ticketry.mailparse.decode import HeaderSection, message_ids, read_header_section, single_line

MAX_RECIPIENTS = 500  # per-recipient blocks read from one delivery-status part
MAX_REFERENCES = 50


@dataclass(frozen=True)
class DeliveryReport:
    """A bounce: RFC 3464 `multipart/report; report-type=delivery-status`, or the plain-text
    failure notice of a mailer daemon that writes none. Not every report is a failure: a server
    still trying says `Action: delayed` (4.x.x), and one asked for it says `delivered`."""

    failed_recipients: tuple[str, ...]  # lower-case addr-specs whose Action is failed
    diagnostic: str  # Diagnostic-Code (else Status) of the first failure, one short line
    original_message_id: str | None  # of the mail that bounced
    original_references: tuple[str, ...]
    # Whether delivery failed for good to someone: a failed block (named or not), a failure
    # notice, or a report whose blocks cannot be read at all (as a failure, the safe reading).
    failed: bool = True
    delayed_recipients: tuple[str, ...] = ()  # Action: delayed; the server keeps trying
    delay_diagnostic: str = ""  # of the first delay, one short line


_BLOCK_SEPARATOR = re.compile(rb"\r?\n(?:[ \t]*\r?\n)+")


def recipient_blocks(status: bytes) -> list[HeaderSection]:
    """The per-recipient field blocks of a `message/delivery-status` body (RFC 3464 §2.3)."""
    blocks = []
    for block in _BLOCK_SEPARATOR.split(status, maxsplit=MAX_RECIPIENTS)[:MAX_RECIPIENTS]:
        fields = read_header_section(block + b"\n")
        if fields.get("final-recipient") or fields.get("original-recipient"):
            blocks.append(fields)
    return blocks


def delivery_report(recipients: list[HeaderSection], original: HeaderSection | None) -> DeliveryReport:
    """The report of the recipient blocks: those whose Action is failed (or, without an Action,
    whose Status is 5.x.x), and those whose Action is delayed (or, without an Action, whose
    Status is 4.x.x), each by Original-Recipient and Final-Recipient; the first failure's and the
    first delay's Diagnostic-Code without its type ("smtp;"), else its Status. Other actions
    (delivered, relayed, expanded) are neither."""
    failed: list[str] = []
    delayed: list[str] = []
    diagnostic = delay_diagnostic = ""
    any_failed = not recipients
    for fields in recipients:
        action = (fields.get("action") or "").strip().lower()
        status = (fields.get("status") or "").strip()
        if action.startswith("failed") or (not action and status.startswith("5")):
            any_failed = True
            _add_recipients(fields, failed)
            diagnostic = diagnostic or _diagnostic(fields, status)
        elif action.startswith("delayed") or (not action and status.startswith("4")):
            _add_recipients(fields, delayed)
            delay_diagnostic = delay_diagnostic or _diagnostic(fields, status)
    report = _report(tuple(failed), diagnostic, original)
    return dataclasses.replace(
        report,
        failed=any_failed,
        delayed_recipients=tuple(a for a in delayed if a not in failed),
        delay_diagnostic=delay_diagnostic,
    )


def _add_recipients(fields: HeaderSection, into: list[str]) -> None:
    for name in ("original-recipient", "final-recipient"):
        found = parse_addresses((fields.get(name) or "").rpartition(";")[2])
        if found and found[0][1] not in into:
            into.append(found[0][1])


def _diagnostic(fields: HeaderSection, status: str) -> str:
    code = fields.get("diagnostic-code") or ""
    kind, semicolon, rest = code.partition(";")
    return single_line(rest if semicolon and len(kind) < 12 else code, 300) or status


_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailer_daemon)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification \(failure\)|failure|has failed)|mail delivery failed"
    r"|returned mail|failure notice|could not be delivered|non-?delivery|unzustellbar|non remis",
    re.IGNORECASE,
)
# Spaces, never line ends, around what a line holds: `^\s*` let every line start rescan all the
# blank lines below it (quadratic: 20,000 blank lines took 6-12 s, 1 MB would take hours).
_BOUNCED_ADDRESS = re.compile(r"^[ \t]*<?([^\s<>@:]+@[^\s<>@:]+?)>?:?[ \t]*$", re.MULTILINE)
_SMTP_ERROR = re.compile(r"^.*\b5\d\d[ -]\d?.*$|^.*\b5\.\d{1,3}\.\d{1,3}\b.*$", re.MULTILINE)
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t]*Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_SCANNED = 65536  # characters of a failure notice searched for addresses and the error


def failure_notice(
    sender: str, subject: str, text: str, original: HeaderSection | None
) -> DeliveryReport | None:
    """The failure notice of a mailer daemon that writes no RFC 3464 report (qmail, some Exim
    set-ups): recognised only when both the sender and the subject say so. Failed addresses are
    those standing alone on a line; the bounced mail is the attached one, else the Message-ID
    line of its copy in the text."""
    if not (_DAEMON.match(sender) and _BOUNCE_SUBJECT.search(subject)):
        return None
    head = text[:_SCANNED]
    failed = tuple(dict.fromkeys(a.lower() for a in _BOUNCED_ADDRESS.findall(head) if a.lower() != sender))
    error = _SMTP_ERROR.search(head)
    report = _report(failed, single_line(error[0], 300) if error else "", original)
    if report.original_message_id is None:
        quoted = _QUOTED_MESSAGE_ID.search(text)
        if quoted:
            return DeliveryReport(failed, report.diagnostic, quoted[1], ())
    return report


def _report(failed: tuple[str, ...], diagnostic: str, original: HeaderSection | None) -> DeliveryReport:
    if original is None:
        return DeliveryReport(failed, diagnostic, None, ())
    message_id = next(iter(message_ids(original.get("message-id") or "")), None)
    references = dict.fromkeys(i for value in original.get_all("references") for i in message_ids(value))
    return DeliveryReport(failed, diagnostic, message_id, tuple(references)[-MAX_REFERENCES:])
