"""An outside review of the issue 12 mail-identity work (docs/product.md §1 "never reaches a customer by any
path", §4 "a mail acts for a person only as far as it is authenticated").

Every test here failed on the first version of that work: each is a hole the review found, its
docstring names the attack, the code that was at fault and the fix; each passes since its fix.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.factories import (
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
)
from tests.mail.inbound import mail, mail_settings, make_mailbox, run_jobs
from tests.mailserver import MailServer, mailserver
from tests.security.test_mail_identity import (
    customer_reads,
    messages,
    participant_emails,
    reply_address,
    scene,
    trusted,
)
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.identity import Proof, authenticate
from ticketry.mail.log.models import MailStatus
from ticketry.mailparse.parse import parse
from ticketry.tickets.models import Ticket
from ticketry.users.models import User

__all__ = ["mail_settings", "mailserver", "trusted"]

OUR_MX = "mx.help.example.com"
CODE = "482910"
SECRET_TEXT = f"Your verification code is {CODE}"


# --- helpers ------------------------------------------------------------------------------------


def with_header_on_top(name: str, value: str, raw: bytes) -> bytes:
    """The header as the receiving MTA adds it: above everything the sender wrote, byte for byte
    (not through `EmailMessage`, which would decode and re-encode it)."""
    return f"{name}: {value}\r\n".encode() + raw


# Our MX really checked the mail: SPF passed for the attacker's own envelope domain
# (evil.example), there is no DKIM signature, and the customer's domain has no DMARC record
# (`dmarc=none`, common for small companies). The envelope sender's local part is chosen by the
# attacker; it is a valid RFC 5321 dot-atom (`=`, `?`, `_` and `.` are atext), so every MTA that
# writes `smtp.mailfrom=<local>@<domain>` (rspamd, Gmail, Fastmail, OpenDMARC's SPF with
# full addresses) copies it verbatim.
ENCODED_WORD_SENDER = "=?utf-8?q?x=3Bdmarc=3Dpass_header.from=3Dexample.test_?=@evil.example"
# The same with an RFC 5321 quoted-string local part (RFC 8601 `pvalue` allows one).
QUOTED_SENDER = '"x;dmarc=pass header.from=example.test y"@evil.example'


def our_mx_results(envelope_sender: str, customer_domain: str = "example.test") -> str:
    return (
        f"{OUR_MX}; spf=pass (sender SPF authorized) smtp.mailfrom={envelope_sender}; "
        f"dkim=none (no signatures); dmarc=none (p=none) header.from={customer_domain}"
    )


# --- 1. Authentication-Results: attacker text inside a trusted header ------------------------------


class TestForgedTrustedVerdict:
    @pytest.mark.parametrize(
        "envelope_sender", [ENCODED_WORD_SENDER, QUOTED_SENDER], ids=["rfc2047", "quoted"]
    )
    def test_an_attacker_chosen_envelope_sender_turns_our_mx_verdict_into_a_pass(
        self, envelope_sender: str
    ) -> None:
        """HIGH-MEDIUM, CWE-290 / CWE-116 (improper encoding: attacker data in a trusted header).

        Our own MX wrote this header; the only attacker-controlled part is the envelope sender it
        copied into `smtp.mailfrom=`. `ParsedMail.headers()` RFC 2047-decodes every header value
        (`decode.decode_header_value`, which decodes encoded words anywhere, even mid-token), so
        `=?utf-8?q?x=3Bdmarc=3Dpass_header.from=3Dexample.test_?=` becomes `x;dmarc=pass
        header.from=example.test`; `identity._parse` then splits on every `;` without regard to
        quoted strings or comments, and reads a `dmarc=pass` for the customer's domain that our MX
        never wrote. `_judge` takes the injected pass (the real result is `dmarc=none`).

        At fault: `identity.py` `authenticate()` reads `mail.headers(...)` (decoded) and `_parse()`
        splits with `str.split(";")`. Fix: read the raw header value (`header_fields`, unfolded,
        never RFC 2047-decoded: Authentication-Results is a structured header) and tokenise it
        per RFC 8601 (quoted-strings and nested comments are opaque; a `;` inside them does not
        end a resinfo); take each method only from the position a resinfo can start."""
        raw = with_header_on_top(
            "Authentication-Results",
            our_mx_results(envelope_sender),
            mail(sender="Carla <carla@example.test>", subject="Hello"),
        )
        verdict = authenticate(parse(raw), [OUR_MX])
        assert verdict.proof is not Proof.PASS, verdict

    def test_with_the_pass_policy_a_forged_customer_reply_is_posted_as_the_customer(
        self,
        db: Database,
        client: TestClient,
        trusted: MailServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """MEDIUM (end to end of the above), CWE-290. The admin chose the strictest customer
        policy (`TICKETRY_MAIL_CUSTOMER_AUTH=pass`: only mail our MX vouches for). A forged
        `From:` of the customer, with the ticket number in the subject and an attacker-chosen
        envelope sender, is posted in the customer's conversation as the customer: the injected
        `dmarc=pass` passes `admission._customer_proof`. Fix: as above (identity.py)."""
        monkeypatch.setenv("TICKETRY_MAIL_CUSTOMER_AUTH", "pass")
        get_settings.cache_clear()
        customer, _, ticket, inbox = scene(db)
        raw = with_header_on_top(
            "Authentication-Results",
            our_mx_results(ENCODED_WORD_SENDER),
            mail(
                sender=customer.email,
                subject=f"Re: [{ticket.number}] Printer",
                body="Send the refund to IBAN X.",
            ),
        )
        entry = inbox.receive(raw)
        assert entry.status is MailStatus.APPENDED, entry.reason
        [message] = messages(db, ticket.id)
        assert message.held_reason is not None, "a forged mail was posted as the customer"

    def test_with_the_default_policy_a_forged_customer_mail_enlists_its_cc_as_participant(
        self, db: Database, trusted: MailServer
    ) -> None:
        """MEDIUM, CWE-290 (default settings plus a trusted MX). `admission.enlist_copied` makes
        Cc'd people participants only from a mail "proven" the customer's (a trusted pass). With
        the injected pass, a stranger forging the customer's From with `Cc: mallory@evil.example`
        makes Mallory a participant: from then on Mallory's own mail (or that of any service
        Mallory Cc'd) is shown in the customer's conversation without review. Fix: identity.py
        as above."""
        customer, _, ticket, inbox = scene(db)
        raw = with_header_on_top(
            "Authentication-Results",
            our_mx_results(ENCODED_WORD_SENDER),
            mail(
                sender=customer.email,
                subject=f"Re: [{ticket.number}] Printer",
                body="Adding my colleague.",
                headers={"Cc": "Mallory <mallory@evil.example>"},
            ),
        )
        inbox.receive(raw)
        assert participant_emails(db, ticket.id) == set(), "the forger made himself a participant"


# --- 2. The ticket trick through the customer's own Cc -------------------------------------------


def test_a_customer_makes_any_service_a_participant_by_cc_and_the_ticket_trick_works_again(
    db: Database, client: TestClient, mail_settings: MailServer
) -> None:
    """MEDIUM, the "ticket trick" (CWE-284) that issue 12 item 3 is about, with default settings.

    The attacker opens a ticket (any sign-up or mail does), answers the notification (their own
    signed reply address, so the mail is "proven" theirs) with `Cc: accounts@service.example`,
    and then registers at that service with the same signed reply address
    (`support+t42.u7.<sig>@help.example.com`: an address at the helpdesk's domain). The
    service's verification mail comes from a listed participant, so it is posted in the
    conversation and the attacker reads the code: they now control an account "at"
    help.example.com (Slack/Zoom/etc. domain auto-join, SSO by mail domain). Only addresses that
    look like no-reply are refused (`addresses.is_unattended`), and most services send codes
    from `accounts@`, `security@`, `feedback@`, `hello@`.

    At fault: `admission.enlist_copied` (a Cc alone makes a full participant) and
    `participants.is_participant` (a Cc'd participant's first mail joins unreviewed). Fix: a
    person copied in is a *pending* participant whose mail joins only when it answers the thread
    (its In-Reply-To/References name a Message-ID the ticket's mail already had: the customer's
    mail that copied them, or one of ours) — a genuine reply-all always does, a service's
    verification mail never does; otherwise hold it like a stranger's."""
    customer, _, ticket, inbox = scene(db)
    copied = inbox.receive(
        mail(
            sender=customer.email,
            to=reply_address(ticket, customer),
            subject=f"Re: [{ticket.number}] Printer on fire",
            body="Adding a colleague.",
            headers={"Cc": "Service Accounts <accounts@service.example>"},
        )
    )
    assert copied.status is MailStatus.APPENDED, copied.reason
    inbox.receive(
        mail(
            sender="Service <accounts@service.example>",
            to=reply_address(ticket, customer),
            subject="Confirm your e-mail address",
            body=SECRET_TEXT,
        )
    )
    verification = messages(db, ticket.id)[-1]
    assert verification.held_reason is not None, "the service's code went straight into the conversation"
    assert CODE not in customer_reads(client, customer, ticket.id)


# --- 3. "Process again" of a spam/auto-reply mail skips every identity check ----------------------


class TestReleaseSkipsAdmission:
    def test_releasing_an_auto_reply_posts_a_strangers_mail_into_the_customers_conversation(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        """MEDIUM, ticket trick (CWE-284) through an admin's routine action. A service's
        verification mail carries `Auto-Submitted: auto-generated`, so it is logged as
        `auto_reply`. An admin who sees it and clicks **Process again** (reprocess: "this is
        not an auto-reply") releases it, and a release skips *admission* too
        (`admission.decide(released=True)` returns POST before any check): the stranger's code
        is posted publicly in the customer's conversation instead of being held for an agent.

        At fault: `mail/inbound/service.py reprocess()` passes `release=True` for every status in
        `HELD` (spam, loop, auto-reply, rejected, held), and `admission.decide()` treats
        `released` as "skip everything". Fix: a release vouches only for the check that held
        the mail: for spam/loop/auto-reply/rejected skip `classify` but still run `admission`;
        skip admission only when the entry was `held` by admission itself."""
        customer, _, ticket, inbox = scene(db)
        admin = make_admin(db)
        entry = inbox.receive(
            mail(
                sender="Service <accounts@service.example>",
                to=reply_address(ticket, customer),
                subject="Confirm your e-mail address",
                body=SECRET_TEXT,
                headers={"Auto-Submitted": "auto-generated"},
            )
        )
        assert entry.status is MailStatus.AUTO_REPLY, entry.reason
        response = client.post(f"/api/v1/mail/log/{entry.id}/reprocess", headers=admin.headers)
        assert response.status_code == 202, response.text
        run_jobs(db)
        [message] = messages(db, ticket.id)
        assert message.held_reason is not None, "released from auto-reply, it skipped the participant check"
        assert CODE not in customer_reads(client, customer, ticket.id)

    def test_releasing_spam_held_mail_from_an_agents_address_makes_a_note_by_that_agent(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        """MEDIUM, CWE-290 (issue 12 item 2 again). The forger adds `X-Spam-Flag: YES` to a mail
        `From:` an agent with a ticket number, so it lands in the spam queue with the reason
        "X-Spam-Flag: YES." rather than "not sent to the agent's own signed reply address". An
        admin releasing what looks like a colleague's misfiled mail makes it an internal note
        *by the agent* on the ticket, with no signed address and no authentication result. Fix:
        as above (release skips classification only; `admission._staff` still runs)."""
        _, agent, ticket, inbox = scene(db)
        admin = make_admin(db)
        entry = inbox.receive(
            mail(
                sender=agent.email,
                subject=f"Re: [{ticket.number}] Printer on fire",
                body="Approved: refund to the new account.",
                headers={"X-Spam-Flag": "YES"},
            )
        )
        assert entry.status is MailStatus.SPAM_HELD, entry.reason
        with db.unit_of_work() as session:
            mail_service.reprocess(session, admin.actor, entry.id)
        run_jobs(db)
        notes_by_agent = [m for m in messages(db, ticket.id) if m.author_id == agent.id]
        assert notes_by_agent == [], "an unauthenticated mail became a note by the agent"


# --- 4. Held text published with its history --------------------------------------------------------


def test_a_held_mail_cannot_be_edited_so_no_redaction_hides_in_its_history(
    db: Database, client: TestClient, mail_settings: MailServer
) -> None:
    """LOW-MEDIUM, CWE-212 (improper removal of sensitive information before publishing). An
    outsider's held mail held something the customer must not see; an admin edited it out and
    then accepted the rest, and the customer read the original anyway, in the message's
    revisions and in its whole mail (which an edit never touches).

    Fixed in `messages/revisions.py`: a held message cannot be edited (409 `message_held`), so it
    is accepted as it came or stays staff-only; the desk offers no Edit on it."""
    customer, _agent, ticket, inbox = scene(db)
    admin = make_admin(db)
    inbox.receive(
        mail(
            sender="Colleague <colleague@example.test>",
            to=reply_address(ticket, customer),
            body=f"Same problem here. PS: {SECRET_TEXT}",
        )
    )
    [held] = messages(db, ticket.id)
    assert held.held_reason is not None
    path = f"/api/v1/tickets/{ticket.id}/replies/{held.id}"
    edited = client.patch(path, json={"body": "Same problem here."}, headers=admin.headers)
    assert edited.status_code == 409 and edited.json()["error"]["code"] == "message_held"
    [unchanged] = messages(db, ticket.id)
    assert CODE in unchanged.body and unchanged.updated_at is None
    revisions = client.get(f"{path}/revisions", headers=admin.headers)
    assert revisions.status_code == 200 and revisions.json()["data"] == []
    assert CODE not in customer_reads(client, customer, ticket.id)


# --- 5. Customer-side timestamps of tickets that existed before migration 0011 ----------------------


def test_on_tickets_from_before_the_migration_a_note_still_moves_the_customers_updated_at(
    db: Database, client: TestClient
) -> None:
    """LOW, CWE-203 (issue 12 item 11, not fixed for existing data). Migration 0011 adds
    `tickets.public_updated_at` as NULL for every existing ticket and does not backfill it; the
    customer's side reads `coalesce(public_updated_at, updated_at)` (`Ticket.customer_updated_at`,
    `search.service.updated_column`). `changes.touch()` sets `public_updated_at` only on a public
    change, so on every ticket of an existing install an internal note (or assignment, tag…)
    moves `updated_at` and therefore the customer's `updatedAt`, list order and
    `updated_from` filter, until the ticket's first public change.

    At fault: `migrations/versions/0011_mail_identity.py` (no backfill) together with
    `tickets/changes.py touch()`. Fix: `UPDATE tickets SET public_updated_at = updated_at` in
    0011 (then NOT NULL, and drop the coalesce), or have `touch()` set
    `public_updated_at = old updated_at` when it is NULL before stamping an internal change."""
    customer, agent = make_customer(db), make_agent(db)
    ticket = make_ticket(db, customer)
    with db.unit_of_work() as session:  # the row as migration 0011 leaves an existing ticket
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values(public_updated_at=None))
    before = client.get(f"/api/v1/tickets/{ticket.id}", headers=customer.headers).json()["updatedAt"]
    make_message(db, agent, ticket.id, body="Internal only", internal=True)
    after = client.get(f"/api/v1/tickets/{ticket.id}", headers=customer.headers).json()["updatedAt"]
    assert after == before, "an internal note moved the customer's updatedAt"


# --- 6. Forged customer mail with default settings --------------------------------------------------


def test_by_default_a_forged_customer_from_with_only_a_ticket_number_posts_as_the_customer(
    db: Database, client: TestClient, mail_settings: MailServer
) -> None:
    """MEDIUM (policy; issue 12 item 3 still open out of the box), CWE-290. With the shipped
    defaults (`TICKETRY_MAIL_TRUSTED_AUTHSERV_IDS` empty, `TICKETRY_MAIL_CUSTOMER_AUTH=not_failed`)
    nothing is ever FAIL, so a mail with a forged `From:` of the customer and nothing but the
    (sequential, guessable) ticket number in its subject is posted in the conversation as the
    customer — even when the receiving server marked it `dmarc=fail`. docs/product.md §4 says a mail acts
    for a person only as far as it is authenticated (signed reply address, trusted results);
    this one has neither.

    At fault: `admission.decide()` / `_customer_proof()` accept a customer's mail with no proof
    at all. Fix (safe default): believe a customer's mail to an existing ticket when it carries a
    signed clue written to that customer (their per-recipient reply address, or our signed
    Message-ID in In-Reply-To/References — what every mail client sends back) or a trusted pass;
    hold it on the ticket otherwise (the matching by subject number or stored Message-ID alone
    is not identity)."""
    customer, _, ticket, inbox = scene(db)
    raw = with_header_on_top(
        "Authentication-Results",
        f"{OUR_MX}; spf=fail smtp.mailfrom=evil.example; dmarc=fail (p=reject) header.from=example.test",
        mail(sender=customer.email, subject=f"Re: [{ticket.number}] Printer", body="New bank details: X."),
    )
    inbox.receive(raw)
    [message] = messages(db, ticket.id)
    assert message.held_reason is not None, "a mail with no proof at all was posted as the customer"


# --- 7. Staff mail that opens a ticket needs no signed address --------------------------------------


def test_with_the_address_policy_a_forged_staff_mail_without_any_clue_opens_a_ticket_as_that_agent(
    db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOW-MEDIUM, CWE-290. `TICKETRY_MAIL_STAFF_AUTH=address` is documented as "needs only the
    address" (the agent's own signed reply address). But `admission._staff()` checks the address
    only `if ticket is not None`: a forged `From:` of an admin with no threading clue (or one
    naming a closed ticket, or a ticket the agent cannot see, which `ingest._deliver` turns into
    `ticket=None`) opens a new ticket authored by, and in the name of, that admin — staff-visible
    content that looks like it came from staff. With the default `pass` policy the same path
    needs only a trusted pass, never the signed address the docs promise.

    Fix: in `_staff()`, a mail that would open a ticket (ticket None) has no own reply address
    to show, so hold it in the log (or require a trusted pass *and* treat it as the customer
    path would), never skip the address requirement."""
    monkeypatch.setenv("TICKETRY_MAIL_STAFF_AUTH", "address")
    get_settings.cache_clear()
    admin = make_admin(db)
    inbox = make_mailbox(db)
    entry = inbox.receive(
        mail(sender=admin.email, subject="Urgent: approve the wire transfer", body="Do it.")
    )
    assert entry.status is MailStatus.HELD, (entry.status, entry.reason)
    with db.unit_of_work(write=False) as session:
        assert list(session.scalars(select(Ticket).where(Ticket.customer_id == admin.id))) == []


# --- 8. A held stranger's Message-ID becomes the customer's thread root -----------------------------


def test_a_held_strangers_message_id_is_sent_to_the_customer_in_threading_headers(
    db: Database, client: TestClient, mail_settings: MailServer
) -> None:
    """LOW, CWE-201 (held mail leaking into customer mail). `notifications.thread_root()` takes
    the first Message-ID of any `created_ticket`/`appended` inbound mail of the ticket, held ones
    included. On a ticket that had no mail yet (opened on the web; the customer turned the
    "received" confirmation off; no agent was notified), a stranger's held mail becomes the
    root, and every later notification to the customer carries the stranger's Message-ID — text
    the stranger chose, e.g. a code — in `In-Reply-To`/`References`.

    At fault: `notifications/notifier.py thread_root()`. Fix: skip entries whose message is held
    (join `messages.held_reason IS NULL`), or take the root only from our own outbound mail and
    mail the ticket's customer sent."""
    customer = make_customer(db)
    with db.unit_of_work() as session:
        user = session.get(User, customer.id)
        assert user is not None
        user.notification_settings = {"ticket_received": False}
    ticket = make_ticket(db, customer)
    run_jobs(db)
    inbox = make_mailbox(db)
    inbox.receive(
        mail(
            sender="Service <accounts@service.example>",
            to=reply_address(ticket, customer),
            message_id=f"<code-{CODE}@service.example>",
            body=SECRET_TEXT,
        )
    )
    agent = make_agent(db)
    answered = client.post(
        f"/api/v1/tickets/{ticket.id}/replies", json={"message": "We are on it."}, headers=agent.headers
    )
    assert answered.status_code == 201, answered.text
    run_jobs(db)
    sent = mail_settings.to(customer.email)
    assert sent, "control: the staff reply was mailed to the customer"
    headers = " ".join(f"{m['In-Reply-To']} {m['References']}" for m in sent)
    assert CODE not in headers, headers
