"""`python -m bench.mail` (part of `make bench`): the e-mail channel's throughput (issue 5 part 9).

Ingest: 2,000 mixed mails (new, replies, attachments, auto-replies, bounces, duplicates, other
charsets, HTML only) are APPENDed to a real rootless Dovecot (tests/imapserver.py), then polled
over STARTTLS into a fresh migrated database and turned into tickets and messages by the job
worker: (a) one thread that polls and runs `Worker.run_until_idle()` in turn; (b) one poll, then
two `Worker`s in two processes draining the queue at once. Send: N notification-like mails queued
with `mail.outbound.service.queue` and delivered by one worker to aiosmtpd (tests/mailserver.py).
Target (issue 5): at least 100 mails/s ingested by one worker. See bench/README.md; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import secrets
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import formataddr, formatdate
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, func, or_, select, text
from sqlalchemy.engine import make_url

from bench import fanout
from bench import server as proc
from bench.facts import load_average, source_commit, warn_if_busy
from ticketry.app import configure_logging  # the composition root: every job handler registers
from ticketry.core import crypto
from ticketry.core.clock import as_utc, now
from ticketry.core.config import get_settings
from ticketry.core.db import Database, normalize_url
from ticketry.jobs.models import Job, JobStatus
from ticketry.jobs.worker import Worker
from ticketry.mail.inbound import poller
from ticketry.mail.inbound import service as mailboxes
from ticketry.mail.inbound.models import Mailbox
from ticketry.mail.log.models import MailLog
from ticketry.mail.outbound import ids
from ticketry.mail.outbound import service as outbound
from ticketry.mail.outbound.compose import Composed, address, compose, parse_from
from ticketry.mailparse.imap import ImapSecurity
from ticketry.migrations import upgrade
from ticketry.users import service as users
from ticketry.users.models import Role

RESULTS = Path(__file__).parent / "results"
TARGET_PER_S = 100.0  # issue 5: mails ingested per second by one worker
SECRET_KEY = "bench-mail-secret-key-not-for-production"
SUPPORT = "support@help.example.com"
MAIL_FROM = f"Ticketry Support <{SUPPORT}>"
MAX_PER_SENDER = 20  # under TICKETRY_MAIL_MAX_PER_SENDER_PER_HOUR (30): no sender is held as a loop
INGEST_TASK, SEND_JOB = "mail.ingest", "mail.send"
# What the mix is made of, and the share of each (the rest of a share that cannot be made yet,
# a reply before any mail to reply to, becomes a new mail).
KINDS = (
    ("new", 0.60),
    ("reply", 0.25),
    ("attachment", 0.05),
    ("auto_reply", 0.05),
    ("bounce", 0.03),
    ("duplicate", 0.02),
)
EXPECTED = {
    "new": "created_ticket",
    "attachment": "created_ticket",
    "reply": "appended",
    "auto_reply": "auto_reply",
    "bounce": "bounce",
    "duplicate": "duplicate",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mail",
        description="Ingest mixed mail from a local Dovecot (one worker, then two worker processes) "
        "and send notification mail to aiosmtpd; print mails/s.",
    )
    parser.add_argument("--messages", type=int, default=2000, help="mails in the mailbox (2000)")
    parser.add_argument("--senders", type=int, default=300, help="distinct customers writing (300)")
    parser.add_argument(
        "--agents",
        type=int,
        default=3,
        help="agents in the mailbox's department, told of each new ticket (3)",
    )
    parser.add_argument("--send", type=int, default=1000, help="notification mails to send (1000; 0 skips)")
    parser.add_argument(
        "--runs",
        default="one,two,send,fanout",
        help="comma-separated subset of one,two,send,fanout (fanout: bench/fanout.py)",
    )
    fanout.add_arguments(parser)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL (e.g. postgresql://postgres@127.0.0.1:5432/); "
        "a database of its own is created there and dropped",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (with --postgres)")
    parser.add_argument("--seed", type=int, default=1, help="the mix is the same for the same seed (1)")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        default=0,
        help="instead: cProfile one worker ingesting the first N mails of the mix, print the top costs",
    )
    parser.add_argument("--log-level", default="WARNING", help="the application's log level (WARNING)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and databases")
    args = parser.parse_args(argv)
    args.runs = args.runs.split(",")
    if set(args.runs) - {"one", "two", "send", "fanout"}:
        parser.error("--runs takes a subset of one,two,send,fanout")
    args.backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    if not args.backends:
        parser.error("--no-sqlite needs --postgres")
    if args.senders < 1 or args.messages < 1 or args.senders * MAX_PER_SENDER < args.messages:
        parser.error(f"--senders must be at least --messages / {MAX_PER_SENDER}")
    return args


# --- the mix ------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words("Anna Ben Carla David Elif Farid Greta Hiro Ines Jonas Katja Luis Mara Nils Olga Pavel Rosa")
FIRST += _words("Sven Tariq Ute Vera Wen Xavier Yuki Zoe Amir Bea Chen Dana Emil Fatima Gus Hana Ivan Jule")
LAST = _words("Adler Berg Costa Dietz Evans Fischer Garcia Huber Ito Jansen Kowalski Lopez Meyer Novak")
LAST += _words("Okafor Petrov Quist Romero Schmidt Tanaka Ueda Vogel Weber Xu Yilmaz Zimmer Brandt Moreau")
ACCENTED = {"Zoe": "Zoë", "Jule": "Jülé", "Elif": "Elif Ş.", "Luis": "Luís", "Greta": "Grêta"}
COMPANIES = _words("acme globex initech umbrella hooli stark wayne wonka tyrell cyberdyne soylent vandelay")
COMPANIES += _words("massive oscorp gringotts monarch pied-piper aperture black-mesa nakatomi")
SUBJECTS = [
    "Cannot log in since {day}",
    "Invoice {invoice} is missing",
    "Export to CSV fails with error {code}",
    "Password reset link has expired",
    "Question about the {plan} plan",
    "VPN disconnects every {n} minutes",
    "Printer on floor {n} is offline",
    "Refund for order #{order}",
    "Two-factor codes are not arriving",
    "Dashboard shows wrong totals for {month}",
    "Upgrade from {plan} to Enterprise",
    "API returns 502 for /v2/orders",
    "Webhook deliveries delayed by {n} hours",
    "Cannot upload files larger than {n} MB",
    "Certificate warning on the customer portal",
    "Please add {n} more seats to our licence",
    "Data export for GDPR request",
    "Mobile app crashes on start",
    "Wrong VAT on invoice {invoice}",
    "Account locked after password change",
    "Calendar sync stopped working",
    "Slow search since the last update",
    "How do I change the billing address?",
    "Backup restore failed at {n} %",
]
SENTENCES = [
    "Since this morning none of our team can log in; the page just reloads.",
    "We tried two different browsers and cleared the cache, with the same result.",
    "The error message says the session has expired, although we only just signed in.",
    "Could you please look into this as soon as possible, it blocks our month-end closing.",
    "I attached a screenshot of what we see.",
    "It worked fine until last Friday and nothing changed on our side as far as I know.",
    "Our accounting department needs the invoice for the audit next week.",
    "The export stops at about two thirds and the file is empty.",
    "This happens for every user in the Berlin office but not in Madrid.",
    "We are on the Business plan and have 25 seats at the moment.",
    "Is there a way to get the data as JSON instead of CSV?",
    "The support article you linked describes an older version of the settings page.",
    "I already reset my password twice today.",
    "Please call me back if that is easier, I am at my desk until five.",
    "The same request works with curl, so I suspect the client library.",
    "When I open the report the numbers differ from what the invoice says.",
    "We would like to understand what caused this so it does not happen again.",
    "Our IT department confirmed that the firewall allows the connection.",
    "The notification e-mails arrive about an hour late.",
    "Thank you for the quick help last time.",
]
REPLY_SENTENCES = [
    "Thanks for your answer, unfortunately the problem is still there.",
    "Any news on this? We are still waiting.",
    "That fixed it, thank you very much!",
    "I tried what you suggested and now I get a different error.",
    "Here is the information you asked for.",
    "My colleague sees the same problem, I have copied her in.",
    "Sorry, I forgot to mention that we use the desktop app.",
    "Could you give me an estimate of when this will be fixed?",
]
GREETINGS = ["Hello,", "Hi,", "Dear support team,", "Good morning,", "Hi there,"]
CLOSINGS = ["Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Many thanks in advance,"]
LOG_LINE = "2025-03-{day:02d}T{h:02d}:{m:02d}:{s:02d}Z ERROR worker-{w} request {rid} failed: {err}"
ERRORS = ["timeout after 30000 ms", "connection reset by peer", "HTTP 502 Bad Gateway", "invalid token"]
# Mail in the charsets that still arrive from old clients: (charset, subject, body). The text is
# in other scripts on purpose (RUF001: look-alike letters).
FOREIGN = [
    (
        "iso-8859-1",
        "Rechnung für März fehlt",
        "Guten Tag,\n\ndie Rechnung für März fehlt in unserem Konto. Können Sie sie bitte erneut "
        "schicken?\n\nMit freundlichen Grüßen\nJürgen Müller",
    ),
    (
        "windows-1252",
        "Remboursement de 49,90 € « en attente »",
        "Bonjour,\n\nle remboursement de 49,90 € est toujours « en attente » depuis trois semaines. "
        "Pourriez-vous vérifier ?\n\nCordialement,\nHélène Dubois",
    ),
    (
        "iso-8859-2",
        "Błąd przy logowaniu do panelu",
        "Dzień dobry,\n\nod wczoraj nie mogę się zalogować do panelu. Proszę o pomoc."
        "\n\nPozdrawiam,\nŁukasz Wójcik",
    ),
    (
        "koi8-r",
        "Не работает вход в систему",  # noqa: RUF001
        "Здравствуйте,\n\nс утра не работает вход в систему, пишет: неверный пароль.\n\n"  # noqa: RUF001
        "С уважением,\nОльга Петрова",  # noqa: RUF001
    ),
    (
        "shift_jis",
        "ログインできません",
        "お世話になっております。\n\n今朝からログインできません。確認をお願いいたします。\n\n田中",
    ),
    (
        "iso-2022-jp",
        "請求書の再発行について",
        "お世話になっております。\n\n三月分の請求書を再発行していただけますでしょうか。\n\n上田",
    ),
    ("gb2312", "无法导出报表", "您好，\n\n导出报表时一直显示错误，请帮忙查看。\n\n谢谢，\n陈伟"),  # noqa: RUF001
    ("big5", "無法登入帳戶", "您好，\n\n我從昨天開始無法登入帳戶，請協助處理。\n\n王小明"),  # noqa: RUF001
]


@dataclass(frozen=True)
class Sender:
    name: str
    address: str


@dataclass
class Mail:
    kind: str  # one of KINDS
    variant: str  # plain, alternative, html, charset, inline, …
    raw: bytes
    message_id: str
    sender: Sender
    subject: str
    body: str


def _png(rng: random.Random, width: int = 48, height: int = 36) -> bytes:
    """A valid PNG of noise (it does not compress: a few KB, like a small screenshot crop)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(rng: random.Random, lines: int = 40) -> bytes:
    """A small one-page PDF with some lines of text (about 3 KB)."""
    text_ops = "".join(f"(Line {n}: order {rng.randrange(10**6):06d} shipped) Tj T* " for n in range(lines))
    stream = f"BT /F1 10 Tf 14 TL 50 800 Td {text_ops}ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class MixMaker:
    """The mailbox's content, deterministic for a seed. Each sender writes at most MAX_PER_SENDER
    mails, so none reaches the hourly per-sender limit (TICKETRY_MAIL_MAX_PER_SENDER_PER_HOUR)."""

    def __init__(self, seed: int, senders: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.senders: list[Sender] = []
        taken: set[str] = set()
        while len(self.senders) < senders:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(COMPANIES)
            address = f"{first}.{last}{rng.randrange(100)}@{company}.example".lower()
            if address not in taken:
                taken.add(address)
                self.senders.append(Sender(f"{ACCENTED.get(first, first)} {last}", address))
        # Some customers write far more than others (Zipf-like), up to the cap.
        self.weights = [1 / (rank + 1) ** 0.7 for rank in range(senders)]
        self.written: Counter[str] = Counter()
        self.clock = time.time() - 3600  # Date headers over the last hour
        self.mails: list[Mail] = []
        self.originals: list[int] = []  # indexes of mails a reply or duplicate can refer to

    # --- the pieces ---

    def _pick_sender(self, prefer: Sender | None = None) -> Sender:
        if prefer is not None and self.written[prefer.address] < MAX_PER_SENDER:
            chosen = prefer
        else:
            while True:
                chosen = self.rng.choices(self.senders, self.weights)[0]
                if self.written[chosen.address] < MAX_PER_SENDER:
                    break
        self.written[chosen.address] += 1
        return chosen

    def _message_id(self, sender: Sender) -> str:
        return f"<{self.rng.randbytes(8).hex()}.{len(self.mails)}@{sender.address.partition('@')[2]}>"

    def _subject(self) -> str:
        rng = self.rng
        return rng.choice(SUBJECTS).format(
            day=rng.choice(["Monday", "Tuesday", "yesterday", "the update"]),
            invoice=f"INV-{rng.randrange(10**5):05d}",
            code=f"E{rng.randrange(100, 999)}",
            plan=rng.choice(["Starter", "Business", "Team"]),
            n=rng.randrange(2, 60),
            order=rng.randrange(10**6, 10**7),
            month=rng.choice(["January", "February", "March"]),
        )

    def _body(self, sender: Sender, sentences: list[str], count: tuple[int, int]) -> str:
        rng = self.rng
        picked = rng.sample(sentences, min(len(sentences), rng.randint(*count)))
        paragraphs = [" ".join(picked[i : i + 2]) for i in range(0, len(picked), 2)]
        if rng.random() < 0.1:  # a pasted log
            paragraphs.append(
                "\n".join(
                    LOG_LINE.format(
                        day=rng.randint(1, 28),
                        h=rng.randrange(24),
                        m=rng.randrange(60),
                        s=rng.randrange(60),
                        w=rng.randrange(8),
                        rid=rng.randbytes(6).hex(),
                        err=rng.choice(ERRORS),
                    )
                    for _ in range(rng.randint(5, 25))
                )
            )
        company = sender.address.partition("@")[2].split(".")[0].replace("-", " ").title()
        signature = f"{sender.name}\n{company} GmbH\nPhone +49 30 {rng.randrange(10**6, 10**7)}"
        return "\n\n".join([rng.choice(GREETINGS), *paragraphs, f"{rng.choice(CLOSINGS)}\n{signature}"])

    @staticmethod
    def _html(body: str) -> str:
        paragraphs = "".join(
            f"<p>{part.replace('&', '&amp;').replace('<', '&lt;').replace(chr(10), '<br>')}</p>"
            for part in body.split("\n\n")
        )
        return (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            "<style>p{margin:0 0 8pt 0}</style></head>"
            f'<body><div style="font-family:Calibri,Arial,sans-serif;font-size:11pt">{paragraphs}</div>'
            "</body></html>"
        )

    def _head(self, message: Any, sender: Sender, fields: dict[str, str]) -> None:
        """The headers a mail collects on its way (Return-Path, Received, a DKIM signature), then
        the sender's own (`fields`, Date, the client's name); before the content, as mail comes."""
        rng = self.rng
        domain = sender.address.partition("@")[2]
        self.clock += rng.uniform(0.5, 3.0)
        stamp = formatdate(self.clock, usegmt=True)
        message["Return-Path"] = f"<{sender.address}>"
        message["Received"] = (
            f"from mx{rng.randrange(1, 4)}.{domain} (mx.{domain} [192.0.2.{rng.randrange(1, 255)}]) "
            f"by mail.help.example.com (Postfix) with ESMTPS id {rng.randbytes(5).hex().upper()} "
            f"for <{SUPPORT}>; {stamp}"
        )
        message["Received"] = f"from [10.0.{rng.randrange(255)}.{rng.randrange(255)}] by mx.{domain}; {stamp}"
        signature = base64.b64encode(rng.randbytes(256)).decode()
        folded = " ".join(signature[i : i + 64] for i in range(0, len(signature), 64))
        message["DKIM-Signature"] = f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=mail; b={folded}"
        for name, value in fields.items():
            message[name] = value
        message["Date"] = stamp
        message["X-Mailer"] = rng.choice(
            ["Microsoft Outlook 16.0", "Apple Mail (2.3774)", "Thunderbird 128.3", "Roundcube 1.6"]
        )

    def _add(self, mail: Mail) -> None:
        self.mails.append(mail)

    # --- the kinds ---

    def new(self, *, attachment: bool = False) -> None:
        rng = self.rng
        sender = self._pick_sender()
        message_id = self._message_id(sender)
        roll = rng.random()
        if not attachment and roll < 0.15:
            self._foreign(sender, message_id, "new", reply_to=None)
            return
        subject = self._subject()
        body = self._body(sender, SENTENCES, (2, 6))
        variant = "plain" if roll < 0.65 else "alternative" if roll < 0.88 else "html"
        message = EmailMessage(policy=SMTP)
        fields = {"From": formataddr((sender.name, sender.address)), "To": SUPPORT, "Subject": subject}
        self._head(message, sender, {**fields, "Message-ID": message_id})
        if variant == "html" and not attachment:
            message.set_content(self._html(body), subtype="html")
        else:
            message.set_content(body)
        if attachment:
            variant = rng.choice(["png", "pdf", "inline-png"])
            if variant == "inline-png":  # a screenshot pasted into the HTML
                message.add_alternative(self._html(body) + '<img src="cid:shot1@bench">', subtype="html")
                parts: Any = message.get_payload()
                parts[1].add_related(
                    _png(rng), "image", "png", cid="<shot1@bench>", filename="screenshot.png"
                )
            elif variant == "png":
                message.add_attachment(_png(rng), maintype="image", subtype="png", filename="screenshot.png")
            else:
                name = f"invoice-{rng.randrange(10**4)}.pdf"
                message.add_attachment(_pdf(rng), maintype="application", subtype="pdf", filename=name)
        elif variant == "alternative":
            message.add_alternative(self._html(body), subtype="html")
        kind = "attachment" if attachment else "new"
        self._add(Mail(kind, variant, message.as_bytes(), message_id, sender, subject, body))
        self.originals.append(len(self.mails) - 1)

    def _foreign(self, sender: Sender, message_id: str, kind: str, reply_to: Mail | None) -> bool:
        """A mail in a legacy charset: body, subject and display name encoded in it (compat32).
        False when a reply's subject or quote does not fit any of them."""
        for charset, own_subject, own_body in self.rng.sample(FOREIGN, len(FOREIGN)):
            subject, body = own_subject, own_body
            if reply_to is not None:
                subject = f"Re: {reply_to.subject}"
                quote = "\n".join(f"> {line}" for line in reply_to.body.splitlines()[:8])
                body = f"{own_body}\n\n{quote}"
            try:
                (subject + body).encode(charset)
            except UnicodeEncodeError:
                continue
            break
        else:
            return False
        part_charset = Charset(charset)
        if charset in ("iso-8859-1", "windows-1252", "iso-8859-2"):
            part_charset.body_encoding = QP
        try:
            sender.name.encode(charset)
            from_charset = charset
        except UnicodeEncodeError:
            from_charset = "utf-8"
        fields = {
            "From": formataddr((sender.name, sender.address), charset=from_charset),
            "To": SUPPORT,
            "Subject": Header(subject, charset).encode(),
            "Message-ID": message_id,
        }
        if reply_to is not None:
            fields |= {"In-Reply-To": reply_to.message_id, "References": reply_to.message_id}
        message = Message()
        self._head(message, sender, fields)
        encoding: Any = part_charset  # set_payload takes a Charset (typeshed says str)
        message["MIME-Version"] = "1.0"
        message.set_payload(body, encoding)
        self._add(Mail(kind, f"charset:{charset}", message.as_bytes(), message_id, sender, subject, body))
        if kind == "new":
            self.originals.append(len(self.mails) - 1)
        return True

    def reply(self) -> bool:
        """A reply to an earlier mail (its Message-ID in In-Reply-To, the thread in References)."""
        rng = self.rng
        candidates = [i for i in self.originals if i < len(self.mails) - 10]
        if not candidates:
            return False
        original = self.mails[rng.choice(candidates[-400:])]  # mostly recent threads
        colleague = rng.random() < 0.15
        sender = self._pick_sender(None if colleague else original.sender)
        message_id = self._message_id(sender)
        if rng.random() < 0.1 and self._foreign(sender, message_id, "reply", reply_to=original):
            return True
        text_part = self._body(sender, REPLY_SENTENCES, (1, 3))
        quoted = "\n".join(f"> {line}" if line else ">" for line in original.body.splitlines())
        when = formatdate(self.clock - rng.uniform(600, 3000), usegmt=True)
        original_from = f"{original.sender.name} <{original.sender.address}>"
        body = f"{text_part}\n\nOn {when}, {original_from} wrote:\n{quoted}"
        subject = original.subject if original.subject.startswith("Re: ") else f"Re: {original.subject}"
        fields = {"From": formataddr((sender.name, sender.address)), "To": SUPPORT}
        if colleague:
            fields["Cc"] = formataddr((original.sender.name, original.sender.address))
        fields |= {"Subject": subject, "Message-ID": message_id}
        fields |= {"In-Reply-To": original.message_id, "References": original.message_id}
        message = EmailMessage(policy=SMTP)
        self._head(message, sender, fields)
        roll = rng.random()
        variant = "plain" if roll < 0.75 else "alternative" if roll < 0.95 else "html"
        if variant == "html":
            quote_html = f"<blockquote>{self._html(original.body)}</blockquote>"
            message.set_content(self._html(text_part) + quote_html, subtype="html")
        else:
            message.set_content(body)
            if variant == "alternative":
                message.add_alternative(self._html(text_part), subtype="html")
        self._add(Mail("reply", variant, message.as_bytes(), message_id, sender, subject, body))
        return True

    def auto_reply(self) -> None:
        rng = self.rng
        sender = rng.choice(self.senders)  # not counted: held mail does not count towards the limit
        message_id = self._message_id(sender)
        subject = f"Automatic reply: [TICK-2025-{rng.randrange(1, 9999):04d}] We received your request"
        body = (
            "Thank you for your message. I am out of the office until Monday with limited access to "
            f"e-mail. For urgent matters please contact my colleague.\n\n{sender.name}"
        )
        ours = f"<ticketry.t{rng.randrange(1, 999)}.m0.{rng.randbytes(10).hex()}.abcd1234@help.example.com>"
        message = EmailMessage(policy=SMTP)
        fields = {"From": formataddr((sender.name, sender.address)), "To": SUPPORT, "Subject": subject}
        fields |= {"Message-ID": message_id, "In-Reply-To": ours, "Auto-Submitted": "auto-replied"}
        self._head(message, sender, {**fields, "X-Auto-Response-Suppress": "All"})
        message.set_content(body)
        self._add(Mail("auto_reply", "ooo", message.as_bytes(), message_id, sender, subject, body))

    def bounce(self) -> None:
        """A Postfix-style delivery report (multipart/report) for a notification we sent."""
        rng = self.rng
        failed = rng.choice(self.senders)
        domain = failed.address.partition("@")[2]
        reporter = Sender("Mail Delivery System", f"MAILER-DAEMON@mx.{domain}")
        message_id = self._message_id(reporter)
        boundary = f"bounce-{rng.randbytes(8).hex()}"
        original_id = (
            f"<ticketry.t{rng.randrange(1, 999)}.m0.{rng.randbytes(10).hex()}.{rng.randbytes(4).hex()}"
            "@help.example.com>"
        )
        stamp = formatdate(self.clock, usegmt=True)
        subject = "Undelivered Mail Returned to Sender"
        human = [
            f"This is the mail system at host mx.{domain}.",
            "",
            "I'm sorry to have to inform you that your message could not be delivered to one or more",
            "recipients.",
            "",
            f"<{failed.address}>: host mx.{domain} said: 550 5.1.1 <{failed.address}>:",
            "    Recipient address rejected: User unknown in virtual mailbox table",
        ]
        lines = [
            f"From: {reporter.name} <{reporter.address}>",
            f"To: {SUPPORT}",
            f"Subject: {subject}",
            f"Date: {stamp}",
            f"Message-ID: {message_id}",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
            "",
            "This is a MIME-encapsulated message.",
            "",
            f"--{boundary}",
            "Content-Description: Notification",
            "Content-Type: text/plain; charset=us-ascii",
            "",
            *human,
            "",
            f"--{boundary}",
            "Content-Description: Delivery report",
            "Content-Type: message/delivery-status",
            "",
            f"Reporting-MTA: dns; mx.{domain}",
            f"Arrival-Date: {stamp}",
            "",
            f"Final-Recipient: rfc822; {failed.address}",
            f"Original-Recipient: rfc822;{failed.address}",
            "Action: failed",
            "Status: 5.1.1",
            f"Remote-MTA: dns; mx.{domain}",
            f"Diagnostic-Code: smtp; 550 5.1.1 <{failed.address}>: Recipient address rejected: User unknown",
            "",
            f"--{boundary}",
            "Content-Description: Undelivered Message Headers",
            "Content-Type: text/rfc822-headers",
            "",
            f"From: {MAIL_FROM}",
            f"To: {failed.address}",
            "Subject: [TICK-2025-0001] We received your request",
            f"Message-ID: {original_id}",
            f"Date: {stamp}",
            "",
            f"--{boundary}--",
            "",
        ]
        raw = "\r\n".join(lines)
        self.clock += rng.uniform(0.5, 3.0)
        self._add(Mail("bounce", "dsn", raw.encode(), message_id, reporter, subject, "\n".join(human)))

    def duplicate(self) -> bool:
        """The same mail again (sent to two of our addresses, or delivered twice)."""
        candidates = [i for i in self.originals if i < len(self.mails) - 10]
        if not candidates:
            return False
        original = self.mails[self.rng.choice(candidates)]
        self._add(
            Mail(
                "duplicate",
                original.variant,
                original.raw,
                original.message_id,
                original.sender,
                original.subject,
                original.body,
            )
        )
        return True

    def make(self, count: int) -> list[Mail]:
        names, shares = zip(*KINDS, strict=True)
        while len(self.mails) < count:
            kind = self.rng.choices(names, shares)[0]
            if kind == "reply" and self.reply():
                continue
            if kind == "duplicate" and self.duplicate():
                continue
            if kind == "auto_reply":
                self.auto_reply()
            elif kind == "bounce":
                self.bounce()
            else:
                self.new(attachment=kind == "attachment")
        return self.mails


def describe_mix(mails: list[Mail]) -> dict[str, Any]:
    sizes = sorted(len(m.raw) for m in mails)
    per_sender = Counter(m.sender.address for m in mails if m.kind in ("new", "attachment", "reply"))
    return {
        "messages": len(mails),
        "kinds": dict(Counter(m.kind for m in mails).most_common()),
        "variants": dict(Counter(m.variant.split(":")[0] for m in mails).most_common()),
        "charsets": dict(Counter(m.variant.split(":")[1] for m in mails if ":" in m.variant).most_common()),
        "senders": len(per_sender),
        "max_per_sender": max(per_sender.values(), default=0),
        "bytes_total": sum(sizes),
        "bytes_median": sizes[len(sizes) // 2],
        "bytes_max": sizes[-1],
    }


# --- databases ----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(
    backend: str, postgres: str | None, workdir: Path, label: str, keep: bool
) -> Iterator[str]:
    """A new database migrated to head: a SQLite file in the work directory, or a PostgreSQL
    database of its own (created here, dropped afterwards unless kept)."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / label}.db"
        upgrade(url)
        yield url
        return
    assert postgres is not None
    name = f"ticketry_bench_mail_{label.replace('-', '_')}_{secrets.token_hex(3)}"
    base = make_url(normalize_url(postgres))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        if keep:
            print(f"  kept PostgreSQL database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def set_environment(values: Mapping[str, str | None]) -> None:
    """Set (None: remove) environment variables, and have the settings read again."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


def prepare_helpdesk(url: str, *, agents: int, imap: tuple[str, int, str, str] | None) -> int | None:
    """Agents in the technical department, and the mailbox (polled over STARTTLS when `imap`
    = host, port, user, password is given); the mailbox's id."""

    db = Database.connect(url, pool_size=1)
    try:
        with db.unit_of_work() as session:
            department = users.find_department(session, "technical")
            for n in range(agents):
                users.create_user(
                    session,
                    email=f"agent{n + 1}@help.example.com",
                    name=f"Agent {n + 1}",
                    role=Role.AGENT,
                    department_ids=[department.id],
                )
            if imap is None:
                return None
            host, port, username, password = imap
            mailbox = Mailbox(
                name="Support",
                address=SUPPORT,
                department_id=department.id,
                imap_host=host,
                imap_port=port,
                imap_security=ImapSecurity.STARTTLS,
                imap_username=username,
                imap_password_sealed=crypto.seal(mailboxes.SEAL_PURPOSE, password),
                last_error="",
                last_uid=0,
            )
            session.add(mailbox)
            session.flush()
            return int(mailbox.id)
    finally:
        db.dispose()


def busy(db: Database) -> bool:
    """Whether the queue has work now or in the making: a job due, or one running."""

    stamp = now()
    with db.unit_of_work(write=False) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                or_(
                    Job.status == JobStatus.RUNNING,
                    and_(Job.status == JobStatus.QUEUED, Job.run_after <= stamp),
                )
            )
        )
    return bool(count)


def drain(db: Database, worker: Worker) -> int:
    """Run jobs until none is due or running (another process may still be adding some); how
    many this worker claimed."""
    claimed = 0
    while True:
        ran = worker.run_once()
        claimed += ran
        if ran == 0:
            if not busy(db):
                return claimed
            time.sleep(0.005)


def outcome(url: str, started: datetime, kinds: dict[int, str] | None) -> dict[str, Any]:
    """What the run left in the database: mail log and jobs by status, and when the last ingest
    and the last job finished (seconds after `started`)."""

    db = Database.connect(url, pool_size=1)
    try:
        with db.unit_of_work(write=False) as session:
            mail_status = {
                f"{direction.value}:{status.value}": count
                for direction, status, count in session.execute(
                    select(MailLog.direction, MailLog.status, func.count()).group_by(
                        MailLog.direction, MailLog.status
                    )
                )
            }
            jobs: dict[str, dict[str, int]] = {}
            for name, status, count in session.execute(
                select(Job.name, Job.status, func.count()).group_by(Job.name, Job.status)
            ):
                jobs.setdefault(name, {})[status.value] = count
            ends: dict[str, datetime | None] = {
                name: moment
                for name, moment in session.execute(
                    select(Job.name, func.max(Job.finished_at)).group_by(Job.name)
                )
            }
            errors = [
                e[-300:]
                for e in session.scalars(select(Job.last_error).where(Job.last_error.is_not(None)).limit(3))
                if e
            ]
            by_kind: dict[str, Counter[str]] = {}
            if kinds is not None:
                rows = session.execute(
                    select(MailLog.imap_uid, MailLog.status).where(MailLog.imap_uid.is_not(None))
                )
                for uid, mail_status_ in rows:
                    kind = kinds.get(int(uid or 0), "?")
                    by_kind.setdefault(kind, Counter())[mail_status_.value] += 1
            tickets = session.scalar(text("SELECT count(*) FROM tickets"))
            messages = session.scalar(text("SELECT count(*) FROM messages"))
            attachments = session.scalar(text("SELECT count(*) FROM attachments"))
    finally:
        db.dispose()

    def after(moment: datetime | None) -> float | None:
        return None if moment is None else round((as_utc(moment) - started).total_seconds(), 3)

    finished = [moment for moment in ends.values() if moment is not None]
    return {
        "mail_log": dict(sorted(mail_status.items())),
        "jobs": jobs,
        "jobs_run": sum(c for per in jobs.values() for s, c in per.items() if s == "done"),
        "job_error_samples": errors,
        "by_kind": {kind: dict(counts.most_common()) for kind, counts in sorted(by_kind.items())},
        "rows": {"tickets": tickets, "messages": messages, "attachments": attachments},
        "ingest_finished_s": after(ends.get(INGEST_TASK)),
        "all_finished_s": after(max(finished)) if finished else None,
        "left_received": mail_status.get("inbound:received", 0),
    }


# --- measuring ----------------------------------------------------------------------------------


class Watch:
    """Wall time, this process's CPU, and the whole machine's busy CPU over a stretch."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = _own_cpu()
        self.machine = proc.machine_busy()

    def seconds(self) -> float:
        return time.perf_counter() - self.wall

    def figures(self) -> dict[str, float]:
        seconds = self.seconds()
        busy_now, total_now = proc.machine_busy()
        return {
            "seconds": round(seconds, 3),
            "own_cpu_percent": round(100 * (_own_cpu() - self.cpu) / seconds),
            # busy share of all cores, scaled to one core (200 = two cores busy)
            "machine_cpu_percent": round(
                100
                * (busy_now - self.machine[0])
                / max(total_now - self.machine[1], 1e-9)
                * (os.cpu_count() or 1)
            ),
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rate(count: int, seconds: float | None) -> float | None:
    return round(count / seconds, 1) if seconds else None


class TimedWorker(Worker):
    """A Worker that adds up the wall time of its claims and of its jobs by name (cheap enough
    not to change the figures: two perf_counter calls a job)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.counts: Counter[str] = Counter()

    def claim(self) -> list[int]:
        begun = time.perf_counter()
        try:
            return super().claim()
        finally:
            self.seconds["(claim)"] += time.perf_counter() - begun
            self.counts["(claim)"] += 1

    def run_job(self, job_id: int) -> bool:
        name = self._claimed.get(job_id, ("?", {}))[0]
        begun = time.perf_counter()
        try:
            return super().run_job(job_id)
        finally:
            self.seconds[name] += time.perf_counter() - begun
            self.counts[name] += 1

    def breakdown(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "count": self.counts[name],
                "seconds": round(seconds, 3),
                "ms_each": round(1000 * seconds / self.counts[name], 2),
            }
            for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])
        }


def ingest_one_worker(url: str, mailbox_id: int, messages: int, kinds: dict[int, str]) -> dict[str, Any]:
    """(a) One thread: poll, run the worker until idle, poll again (that marks the mail seen),
    until nothing is left to do."""

    db = Database.connect(url, pool_size=2)
    worker = TimedWorker(db)
    polls: list[tuple[int, float]] = []
    try:
        started, watch = now(), Watch()
        while True:
            begun = time.perf_counter()
            stored = poller.poll(db, mailbox_id)
            polls.append((stored, time.perf_counter() - begun))
            if not busy(db) and stored == 0:
                break
            worker.run_until_idle()
        figures = watch.figures()
    finally:
        db.dispose()
    result = outcome(url, started, kinds)
    first_poll = polls[0][1]
    ingest_s = result["ingest_finished_s"]
    result.update(
        figures,
        run="1 worker",
        messages=messages,
        polls=[{"stored": n, "seconds": round(s, 3)} for n, s in polls],
        poll_seconds=round(first_poll, 3),
        poll_rate=_rate(polls[0][0], first_poll),
        ingest_seconds=ingest_s,  # first poll → last mail out of `received`
        ingest_rate=_rate(messages, ingest_s),
        worker_ingest_seconds=round(ingest_s - first_poll, 3) if ingest_s else None,
        worker_ingest_rate=_rate(messages, ingest_s - first_poll) if ingest_s else None,
        drain_seconds=result["all_finished_s"],  # … → the last job (notifications) done
        drain_rate=_rate(messages, result["all_finished_s"]),
        mark_seconds=round(sum(s for _, s in polls[1:]), 3),
        worker_time=worker.breakdown(),
    )
    return result


def _drain_process(
    url: str, environment: dict[str, str], log_level: str, index: int, ready: Any, go: Event, results: Any
) -> None:
    """A worker process of run (b): set up, wait for the start, drain, report."""
    set_environment(environment)

    configure_logging(log_level)
    db = Database.connect(url, pool_size=2)
    worker = Worker(db, name=f"bench-worker-{index}")
    busy(db)  # connected and warm
    ready.put(index)
    go.wait()
    cpu, begun = time.process_time(), time.perf_counter()
    claimed = drain(db, worker)
    results.put(
        {
            "worker": index,
            "jobs": claimed,
            "seconds": round(time.perf_counter() - begun, 3),
            "cpu_seconds": round(time.process_time() - cpu, 3),
        }
    )
    db.dispose()


def ingest_two_workers(
    url: str, mailbox_id: int, messages: int, kinds: dict[int, str], log_level: str
) -> dict[str, Any]:
    """(b) One poll stores everything; then two worker processes (spawned before, waiting) drain
    the queue at once; a last poll marks the mail seen."""

    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    environment = {k: v for k, v in os.environ.items() if k.startswith("TICKETRY_")}
    workers: list[SpawnProcess] = [
        context.Process(target=_drain_process, args=(url, environment, log_level, n, ready, go, results))
        for n in (1, 2)
    ]
    for process in workers:
        process.start()
    db = Database.connect(url, pool_size=2)
    try:
        for _ in workers:
            ready.get(timeout=120)
        watch = Watch()
        stored = poller.poll(db, mailbox_id)
        poll_s = watch.seconds()
        started, watch = now(), Watch()
        go.set()
        reports = sorted((results.get(timeout=3600) for _ in workers), key=lambda r: r["worker"])
        figures = watch.figures()
        begun = time.perf_counter()
        poller.poll(db, mailbox_id)
        mark_s = time.perf_counter() - begun
    finally:
        go.set()
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
        db.dispose()
    result = outcome(url, started, kinds)
    ingest_s = result["ingest_finished_s"]
    result.update(
        figures,
        run="2 workers",
        messages=messages,
        poll_seconds=round(poll_s, 3),
        poll_rate=_rate(stored, poll_s),
        stored=stored,
        ingest_seconds=ingest_s,  # workers start → last mail out of `received`
        ingest_rate=_rate(messages, ingest_s),
        drain_seconds=result["all_finished_s"],
        drain_rate=_rate(messages, result["all_finished_s"]),
        mark_seconds=round(mark_s, 3),
        workers=reports,
        workers_cpu_percent=round(100 * sum(r["cpu_seconds"] for r in reports) / figures["seconds"]),
    )
    return result


def smtp_process(ports: Any, stop: Event, counts: Any) -> None:
    """aiosmtpd (tests/mailserver.py's MailServer), run by `aiosmtpd()` in a process of its own."""
    from aiosmtpd.controller import Controller
    from tests.mailserver import MailServer

    server = MailServer("127.0.0.1", proc.free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    ports.put(server.port)
    stop.wait()
    controller.stop()
    counts.put({"accepted": len(server.messages), "bytes": sum(len(m.raw) for m in server.messages)})


@dataclass
class Aiosmtpd:
    port: int
    pid: int
    received: dict[str, Any] | None = None  # what it accepted: known once it stopped

    def cpu_seconds(self) -> float:
        return proc.cpu_seconds([self.pid]) if self.pid else 0.0


SMTP_SETTINGS = ("TICKETRY_SMTP_HOST", "TICKETRY_SMTP_PORT", "TICKETRY_SMTP_SECURITY")


@contextlib.contextmanager
def aiosmtpd(*, as_settings: bool = False) -> Iterator[Aiosmtpd]:
    """aiosmtpd in a process of its own, so that its parsing does not take the sender's
    interpreter lock; with `as_settings`, TICKETRY_SMTP_* point at it meanwhile. Stopped when
    the block ends; `received` then says what it accepted."""
    context = multiprocessing.get_context("spawn")
    ports, counts, stop = context.Queue(), context.Queue(), context.Event()
    process = context.Process(target=smtp_process, args=(ports, stop, counts))
    process.start()
    previous = {name: os.environ.get(name) for name in SMTP_SETTINGS}
    try:
        server = Aiosmtpd(ports.get(timeout=60), process.pid or 0)
        if as_settings:
            values = ("127.0.0.1", str(server.port), "none")
            set_environment(dict(zip(SMTP_SETTINGS, values, strict=True)))
        yield server
    finally:
        if as_settings:
            set_environment(previous)
        stop.set()
    server.received = counts.get(timeout=60)
    process.join(timeout=30)


def compose_notifications(count: int) -> list[Composed]:
    """Mails like the ones notifications send: text and HTML, signed Message-ID, threading, Reply-To."""

    settings = get_settings()
    sender, domain = parse_from(settings.mail_from), ids.domain_of(settings.mail_from)
    rng = random.Random(7)
    mails = []
    for n in range(count):
        ticket = n // 3 + 1
        number = f"TICK-2025-{ticket:04d}"
        text_body = (
            f"Hello Customer {n},\n\nthank you for contacting us. Your request {number} has been received "
            "and an agent will answer shortly.\n\n"
            + " ".join(rng.sample(SENTENCES, 3))
            + f"\n\nYou can follow the ticket at https://help.example.com/tickets/{ticket}\n\n"
            "Reply to this e-mail to add to the ticket.\n-- \nTicketry Support"
        )
        html = MixMaker._html(text_body)
        mails.append(
            compose(
                sender=sender,
                to=[address(f"customer{n}@customer{n % 50}.example", f"Customer {n}")],
                subject=f"[{number}] We received your request",
                text=text_body,
                html=html,
                message_id=ids.message_id(settings.secret_key, domain, ticket_id=ticket, message_id=n + 1),
                in_reply_to=f"<original.{n}@customer{n % 50}.example>",
                references=[f"<original.{n}@customer{n % 50}.example>"],
                reply_to=address(
                    ids.reply_address(settings.secret_key, settings.mail_from, ticket_id=ticket)
                ),
            )
        )
    return mails


def send_rate(url: str, count: int) -> dict[str, Any]:
    """Queue `count` mails (`outbound.service.queue`), then one worker delivers them to aiosmtpd."""

    db = Database.connect(url, pool_size=2)
    try:
        with aiosmtpd(as_settings=True) as smtp:
            mails = compose_notifications(count)
            watch = Watch()
            for start in range(0, count, 500):
                with db.unit_of_work() as session:
                    for mail in mails[start : start + 500]:
                        outbound.queue(session, mail, purpose="ticket_received")
            queue_s = watch.seconds()
            smtp_cpu = smtp.cpu_seconds()  # its start-up is not the sending
            started, watch = now(), Watch()
            drain(db, Worker(db))
            figures = watch.figures()
            smtp_cpu = smtp.cpu_seconds() - smtp_cpu
    finally:
        db.dispose()
    received = smtp.received
    result = outcome(url, started, None)
    result.update(
        figures,
        run="send, 1 worker",
        mails=count,
        queue_seconds=round(queue_s, 3),
        queue_rate=_rate(count, queue_s),
        send_seconds=figures["seconds"],
        send_rate=_rate(count, figures["seconds"]),
        smtp_server=received,
        smtp_cpu_percent=round(100 * smtp_cpu / figures["seconds"]),
    )
    return result


# --- the report ---------------------------------------------------------------------------------


def machine_facts(postgres: str | None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg": load_average(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.partition(":")[2].strip()
                break
    with contextlib.suppress(OSError, IndexError, ValueError):
        facts["memory_gb"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2, 1)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        facts["dovecot"] = subprocess.run(
            ["/usr/sbin/dovecot", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    with contextlib.suppress(ImportError):
        import aiosmtpd

        facts["aiosmtpd"] = aiosmtpd.__version__
    if postgres:
        with contextlib.suppress(Exception):
            engine = create_engine(make_url(normalize_url(postgres)).set(database="postgres"))
            with engine.connect() as connection:
                facts["postgresql"] = connection.scalar(text("SHOW server_version"))
            engine.dispose()
    return facts


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(columns: list[tuple[str, int]], rows: list[list[Any]]) -> None:
    """Columns (title, width): a positive width right-aligns, a negative one left-aligns; the
    last column is left as it comes."""

    def line(cells: list[Any]) -> str:
        parts = [
            f"{cell!s:<{-w}}" if w < 0 else f"{cell!s:>{w}}"
            for cell, (_, w) in zip(cells, columns, strict=True)
        ]
        return " ".join(parts).rstrip()

    header = line([title for title, _ in columns])
    print(header)
    print("-" * len(header))
    for row in rows:
        print(line(row))


def print_report(results: list[dict[str, Any]], mix: dict[str, Any], facts: dict[str, Any]) -> None:
    print(
        f"\nMix: {mix['messages']} mails, {mix['senders']} senders (at most {mix['max_per_sender']} "
        f"each), {mix['bytes_total'] / 1e6:.1f} MB (median {mix['bytes_median']:,} B, "
        f"largest {mix['bytes_max']:,} B)"
    )
    print(f"  kinds {mix['kinds']}\n  formats {mix['variants']}\n  charsets {mix['charsets']}")
    ingest = [r for r in results if "ingest_rate" in r]
    if ingest:
        print(
            "\nIngest, rates in mails/s, CPU in % of one core (cpu: the worker process(es); mach: the "
            "whole machine).\n"
            "poll: the first poll, which stores every mail (IMAP over STARTTLS -> mail log + jobs).\n"
            "ingest: from the first poll (1 worker) or the workers' start (2 workers) until every mail "
            "has left `received`.\n"
            "drained: the same until the last job is done (notifications and their `not_sent` mails too).\n"
            "mark: the poll after, that tells Dovecot (\\Seen).\n"
        )
        rows = []
        for r in ingest:
            target = ""
            if r["run"] == "1 worker":
                met = (r["ingest_rate"] or 0) >= TARGET_PER_S and not r["left_received"]
                target = f"{'MET' if met else 'MISSED'} ({_fmt(r['ingest_rate'])}/s)"
            rows.append(
                [
                    r["backend"],
                    r["run"],
                    r["messages"],
                    _fmt(r["poll_seconds"], 2),
                    _fmt(r["poll_rate"]),
                    _fmt(r["ingest_seconds"], 2),
                    _fmt(r["ingest_rate"]),
                    _fmt(r["drain_seconds"], 2),
                    _fmt(r["drain_rate"]),
                    _fmt(r["mark_seconds"], 2),
                    r["jobs_run"],
                    r.get("workers_cpu_percent", r["own_cpu_percent"]),
                    r["machine_cpu_percent"],
                    target,
                ]
            )
        columns = [("backend", -10), ("run", -9), ("mails", 5), ("poll s", 7), ("poll/s", 7)]
        columns += [("ingest s", 8), ("ingest/s", 8), ("drain s", 8), ("drain/s", 7), ("mark s", 6)]
        columns += [("jobs", 5), ("cpu%", 5), ("mach%", 5), (f" target >= {TARGET_PER_S:g}/s, 1 worker", -1)]
        print_table(columns, rows)
        print("\nOutcomes (mail log by direction:status; jobs done by name):")
        for r in ingest:
            done = {name: per.get("done", 0) for name, per in r["jobs"].items()}
            other = {f"{n}:{s}": c for n, per in r["jobs"].items() for s, c in per.items() if s != "done"}
            print(f"  {r['backend']} {r['run']}: {r['mail_log']}")
            print(f"      jobs done {done}" + (f"; not done {other}" if other else ""))
            print(f"      rows {r['rows']}")
            unexpected = {
                kind: {s: c for s, c in counts.items() if s != EXPECTED.get(kind)}
                for kind, counts in r["by_kind"].items()
            }
            unexpected = {k: v for k, v in unexpected.items() if v}
            print(f"      mix kind -> outcome other than expected: {unexpected or 'none'}")
            if r.get("worker_time"):
                spent = ", ".join(
                    f"{name} {t['seconds']:.1f} s ({t['count']} x {t['ms_each']:.1f} ms)"
                    for name, t in r["worker_time"].items()
                )
                print(f"      worker wall time by job: {spent}")
            if r.get("workers"):
                print(f"      workers {r['workers']}")
            for sample in r["job_error_samples"]:
                print(f"      job error: ...{sample}")
    sends = [r for r in results if "send_rate" in r]
    if sends:
        print(
            "\nSend: queue = outbound.service.queue, in transactions of 500; send = one worker delivering "
            "to aiosmtpd (cpu: the worker; smtp: aiosmtpd's process).\n"
        )
        rows = [
            [
                r["backend"],
                r["mails"],
                _fmt(r["queue_seconds"], 2),
                _fmt(r["queue_rate"]),
                _fmt(r["send_seconds"], 2),
                _fmt(r["send_rate"]),
                r["smtp_server"]["accepted"],
                r["own_cpu_percent"],
                r["smtp_cpu_percent"],
                r["machine_cpu_percent"],
                r["mail_log"],
            ]
            for r in sends
        ]
        columns = [("backend", -10), ("mails", 5), ("queue s", 7), ("queue/s", 8), ("send s", 7)]
        columns += [
            ("sent/s", 7),
            ("accepted", 8),
            ("cpu%", 5),
            ("smtp%", 5),
            ("mach%", 5),
            (" mail log", -1),
        ]
        print_table(columns, rows)
    fanouts = [r for r in results if r.get("run") == "fanout"]
    if fanouts:
        fanout.print_report(fanouts)
    print(
        f"\nMachine: {facts.get('cpu_model', '?')}, {facts['cpus']} CPUs, {facts.get('memory_gb', '?')} GB; "
        f"Python {facts['python']}, SQLite {facts['sqlite']}, PostgreSQL {facts.get('postgresql', '-')}, "
        f"Dovecot {facts.get('dovecot', '?')}, aiosmtpd {facts.get('aiosmtpd', '?')}; load average "
        f"{facts['loadavg']} before, {load_average()} after"
    )


# --- profiling ----------------------------------------------------------------------------------


def profile(args: argparse.Namespace, mails: list[Mail], dovecot: Any, workdir: Path, stamp: str) -> None:
    """cProfile of the poll, then of one worker ingesting what it stored (SQLite unless --no-sqlite)."""

    backend = args.backends[0]
    user = dovecot.add_user()
    uids = dovecot.append_many(user, [m.raw for m in mails])
    kinds = {uid: mail.kind for uid, mail in zip(uids, mails, strict=True)}
    with fresh_database(backend, args.postgres, workdir, "profile", args.keep) as url:
        set_environment(
            {"TICKETRY_DATABASE_URL": url, "TICKETRY_STORAGE_URL": str(workdir / "files-profile")}
        )
        mailbox_id = prepare_helpdesk(
            url, agents=args.agents, imap=(dovecot.host, dovecot.port, user.name, user.password)
        )
        assert mailbox_id is not None
        db = Database.connect(url, pool_size=2)
        worker = Worker(db)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("poll", lambda: poller.poll(db, mailbox_id)),
            ("worker", lambda: drain(db, worker)),
        ]
        for label, work in steps:
            profiler = cProfile.Profile()
            begun = time.perf_counter()
            profiler.enable()
            work()
            profiler.disable()
            seconds = time.perf_counter() - begun
            path = RESULTS / f"mail-profile-{backend}-{label}-{stamp}.prof"
            profiler.dump_stats(path)
            print(
                f"\n=== {label} on {backend}: {len(mails)} mails, {seconds:.2f} s under the profiler ({path})"
            )
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
                print(f"--- by {order}\n" + out.getvalue().strip())
        db.dispose()
        print(outcome(url, now(), kinds)["mail_log"])


# --- main ---------------------------------------------------------------------------------------


def run_ingest(
    args: argparse.Namespace, backend: str, run: str, dovecot: Any, mails: list[Mail], workdir: Path
) -> dict[str, Any]:
    """One ingest run on a fresh database and a fresh Dovecot user holding the whole mix."""
    workers = "1 worker" if run == "one" else "2 workers"
    load_start = warn_if_busy(f"the {workers} ingest run on {backend}")
    user = dovecot.add_user()
    begun = time.perf_counter()
    uids = dovecot.append_many(user, [m.raw for m in mails])
    kinds = {uid: mail.kind for uid, mail in zip(uids, mails, strict=True)}
    print(
        f"{backend}, {workers}: {len(mails)} mails APPENDed to {user.name} in "
        f"{time.perf_counter() - begun:.1f} s; ingesting ...",
        flush=True,
    )
    with fresh_database(backend, args.postgres, workdir, f"ingest-{run}", args.keep) as url:
        files = workdir / f"files-{backend}-{run}"
        set_environment({"TICKETRY_DATABASE_URL": url, "TICKETRY_STORAGE_URL": str(files)})
        imap = (dovecot.host, dovecot.port, user.name, user.password)
        mailbox_id = prepare_helpdesk(url, agents=args.agents, imap=imap)
        assert mailbox_id is not None
        if run == "one":
            result = ingest_one_worker(url, mailbox_id, len(mails), kinds)
        else:
            result = ingest_two_workers(url, mailbox_id, len(mails), kinds, args.log_level)
    result.update(backend=backend, loadavg_start=load_start, loadavg_end=load_average())
    print(
        f"  poll {_fmt(result['poll_rate'])}/s; ingest {_fmt(result['ingest_rate'])}/s "
        f"({_fmt(result['ingest_seconds'], 2)} s); drained in {_fmt(result['drain_seconds'], 2)} s; "
        f"{result['jobs_run']} jobs",
        flush=True,
    )
    return result


def run_send(args: argparse.Namespace, backend: str, workdir: Path) -> dict[str, Any]:
    load_start = warn_if_busy(f"the send run on {backend}")
    with fresh_database(backend, args.postgres, workdir, "send", args.keep) as url:
        set_environment({"TICKETRY_DATABASE_URL": url, "TICKETRY_STORAGE_URL": str(workdir / "files-send")})
        result = send_rate(url, args.send)
    result.update(backend=backend, loadavg_start=load_start, loadavg_end=load_average())
    print(
        f"{backend}, send: {args.send} mails at {_fmt(result['send_rate'])}/s; "
        f"aiosmtpd accepted {result['smtp_server']['accepted']}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from tests.imapserver import running_dovecot

    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="ticketry-bench-mail-"))
    mails = MixMaker(args.seed, args.senders).make(args.profile or args.messages)
    mix = describe_mix(mails)
    facts = machine_facts(args.postgres)
    results: list[dict[str, Any]] = []
    configure_logging(args.log_level)
    # Dovecot only for what reads mail: the send and fan-out runs do without it.
    ingests = [r for r in ("one", "two") if r in args.runs]
    needs_imap = bool(args.profile or ingests)
    try:
        with running_dovecot(tls=True) if needs_imap else contextlib.nullcontext() as dovecot:
            # No TICKETRY_SMTP_HOST while ingesting: notifications are logged `not_sent`, not sent.
            set_environment(
                {
                    "TICKETRY_SECRET_KEY": SECRET_KEY,
                    "TICKETRY_MAIL_FROM": MAIL_FROM,
                    "TICKETRY_MAIL_CA_FILE": dovecot.ca_file if dovecot is not None else None,
                    "TICKETRY_SMTP_HOST": "",
                    "TICKETRY_INPROCESS_WORKER": "false",
                    "TICKETRY_LOG_LEVEL": args.log_level,
                }
            )
            if args.profile:
                profile(args, mails, dovecot, workdir, stamp)
                return 0
            where = (
                f"Dovecot {facts.get('dovecot', '')} on 127.0.0.1:{dovecot.port} (STARTTLS); "
                if dovecot
                else ""
            )
            print(
                f"{where}{len(mails)} mails, {mix['bytes_total'] / 1e6:.1f} MB; backends "
                f"{', '.join(args.backends)}; runs {', '.join(args.runs)}; work dir {workdir}",
                flush=True,
            )
            for backend in args.backends:
                for run in ingests:
                    results.append(run_ingest(args, backend, run, dovecot, mails, workdir))
                if "send" in args.runs and args.send > 0:
                    results.append(run_send(args, backend, workdir))
                if "fanout" in args.runs and args.events > 0:
                    results.append(fanout.run(args, backend, args.postgres, workdir))
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(results, mix, facts)
    out = RESULTS / f"mail-{stamp}.json"
    config = {**vars(args), "postgres": bool(args.postgres), "max_per_sender": MAX_PER_SENDER}
    out.write_text(
        json.dumps(
            {
                "commit": source_commit(),
                "config": config,
                "machine": {**facts, "loadavg_end": load_average()},
                "target": {"figure": "ingest_rate", "run": "1 worker", "at_least": TARGET_PER_S},
                "mix": mix,
                "results": results,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
