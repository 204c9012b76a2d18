"""Realistic demo data: agents in departments, customers in organizations, tickets in every
state with conversations, notes and history, all made through the real use cases."""

from __future__ import annotations

import random
import struct
import zlib
from datetime import timedelta

from ticketry.attachments import service as attachment_service
from ticketry.attachments.intake import FileStore, StagedFile, staged_batch
from ticketry.attachments.service import NewFiles
from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.auth.passwords import hash_password
from ticketry.canned import service as canned_service
from ticketry.core.clock import now, travel_to
from ticketry.core.db import Database
from ticketry.mail.inbound.models import Mailbox
from ticketry.messages import service as message_service
from ticketry.tickets import service as ticket_service
from ticketry.tickets import tags as tag_service
from ticketry.tickets.models import Priority, Source, TicketStatus
from ticketry.users import service as users
from ticketry.users.models import Role

DEMO_PASSWORD = "ticketry-demo"  # noqa: S105 - printed by `ticketry demo` on purpose
ADMIN_EMAIL = "admin@example.com"

AGENTS = (
    ("Alice Martin", "alice@example.com", ("technical", "general")),
    ("Bob Okafor", "bob@example.com", ("billing", "sales")),
    ("Chen Wei", "chen@example.com", ("technical",)),
    ("Dana Kowalski", "dana@example.com", ("general", "billing")),
)
ORGANIZATIONS = (("Acme Corp", True), ("Globex", False))
CUSTOMERS = (
    ("Maria Garcia", "maria@acme.example", "Acme Corp"),
    ("John Smith", "john@acme.example", "Acme Corp"),
    ("Priya Patel", "priya@globex.example", "Globex"),
    ("Tom Becker", "tom@globex.example", "Globex"),
    ("Lena Fischer", "lena@example.org", None),
    ("Ahmed Hassan", "ahmed@example.net", None),
    ("Sofia Rossi", "sofia@example.org", None),
    ("Kenji Tanaka", "kenji@example.com", None),
)
SUBJECTS = {
    "technical": [
        (
            "Cannot log in after password reset",
            "I reset my password this morning and now the login page "
            "says my credentials are wrong. I tried twice in Chrome and Firefox.",
        ),
        (
            "Export to CSV times out",
            "When I export more than a few thousand rows the download never "
            "finishes. Smaller exports work fine.",
        ),
        (
            "Webhook deliveries failing with 502",
            "Since yesterday our endpoint receives no webhooks. "
            "The delivery log shows **502 Bad Gateway** for every attempt.",
        ),
        (
            "Dashboard charts are blank",
            "The charts on the dashboard show no data, although the tables below them are filled.",
        ),
        (
            "Two-factor codes not accepted",
            "My authenticator app codes are rejected. The phone clock is set automatically.",
        ),
        ("API returns 429 too often", "We hit the rate limit with only a handful of requests per minute."),
    ],
    "billing": [
        (
            "Charged twice this month",
            "My card statement shows two charges of 49.00 on the 3rd. Please refund one of them.",
        ),
        (
            "Need an invoice with our VAT number",
            "Our accounting needs the invoice to include VAT ID DE123456789.",
        ),
        (
            "Switch to annual billing",
            "We'd like to move from monthly to annual billing. Is there a discount?",
        ),
        ("Refund for unused seats", "We removed five seats last week. Will the unused time be credited?"),
    ],
    "sales": [
        ("Quote for 50 seats", "Could you send us a quote for 50 agent seats with priority support?"),
        (
            "Do you offer an on-premise licence?",
            "Our security team requires self-hosting. What are the options?",
        ),
        ("Nonprofit pricing", "We are a registered charity. Do you have special pricing?"),
    ],
    "general": [
        ("How do I change my company name?", "We rebranded. Where can I change the name shown on tickets?"),
        ("Feature request: dark mode", "Our team works late; a dark theme would be much appreciated."),
        ("Where is the status page?", "Is there a page where I can see service incidents?"),
    ],
}
AGENT_REPLIES = (
    "Thanks for reaching out. I'm looking into this now and will update you shortly.",
    "Could you tell us the exact time this happened and, if possible, send a screenshot?",
    "I've reproduced the problem and passed it to our engineers.",
    "This is fixed now. Could you confirm it works on your side?",
    "I've processed this for you; you should see the change within one business day.",
)
CUSTOMER_REPLIES = (
    "Thanks! It happened around 10:30 this morning.",
    "Still seeing the same problem, unfortunately.",
    "Confirmed, it works now. Thank you!",
    "Any update on this?",
)
NOTES = (
    "Customer is on the legacy plan; check with billing before promising anything.",
    "Looks like the same root cause as last week's incident.",
    "Escalated to engineering on the internal tracker.",
    "VIP account - keep the response time short.",
)


# Shared canned replies, with variables (see canned.render.VARIABLES).
DEMO_TAGS = (
    ("vip", "#b91c1c"),
    ("bug", "#c2410c"),
    ("billing-question", "#047857"),
    ("feature-request", "#7c3aed"),
    ("follow-up", "#2563eb"),
)
CANNED_REPLIES = (
    (
        "Thanks, we are on it",
        "General",
        'Hi {{customer.first_name}},\n\nthank you for contacting us about "{{ticket.title}}" '
        "({{ticket.number}}). We are looking into it and will get back to you shortly.\n\n"
        "Best regards,\n{{agent.name}}",
    ),
    (
        "Password reset steps",
        "Login",
        "Hi {{customer.first_name}},\n\nplease open the login page, choose *Forgot password* and "
        "follow the link we send to {{customer.email}}. The link is valid for one hour.\n\n"
        "{{agent.name}}",
    ),
    (
        "Refund issued",
        "Billing",
        "Hi {{customer.name}},\n\nwe have issued the refund for {{ticket.number}}. It shows on your "
        "statement within 5 business days.\n\n{{agent.name}}, {{ticket.department}} team",
    ),
    (
        "Closing: solved",
        "General",
        "Hi {{customer.first_name}},\n\nwe believe {{ticket.number}} is solved, so we are closing it. "
        "Just reply to this message if anything is still wrong.\n\n{{agent.name}}",
    ),
)


def _actor(db: Database, user_id: int) -> Actor:
    with db.unit_of_work(write=False) as session:
        return auth_service.actor_for(session, users.get_user(session, user_id))


def load_demo(
    db: Database, *, tickets: int = 200, seed: int = 7, files: FileStore | None = None
) -> list[tuple[str, str]]:
    """Create the demo data unless it exists; return (role, e-mail) of the demo accounts.
    With `files`, some tickets come with a screenshot or a log file attached."""
    accounts = (
        [("admin", ADMIN_EMAIL)] + [("agent", a[1]) for a in AGENTS] + [("customer", c[1]) for c in CUSTOMERS]
    )
    with db.unit_of_work(write=False) as session:
        if users.find_user_by_email(session, ADMIN_EMAIL) is not None:
            return accounts
    rng = random.Random(seed)  # noqa: S311 - demo data, repeatable on purpose
    password_hash = hash_password(DEMO_PASSWORD)
    with db.unit_of_work() as session:
        departments = {d.slug: d.id for d in users.list_departments(session)}
        orgs = {
            name: users.create_organization(session, name=name, shared=shared).id
            for name, shared in ORGANIZATIONS
        }
        admin = users.create_user(
            session,
            email=ADMIN_EMAIL,
            name="Ada Admin",
            role=Role.ADMIN,
            password_hash=password_hash,
            department_ids=list(departments.values()),
        )
        agent_ids = {
            users.create_user(
                session,
                email=email,
                name=name,
                role=Role.AGENT,
                password_hash=password_hash,
                department_ids=[departments[d] for d in deps],
            ).id: deps
            for name, email, deps in AGENTS
        }
        customer_ids = [
            users.create_user(
                session,
                email=email,
                name=name,
                role=Role.CUSTOMER,
                password_hash=password_hash,
                organization_id=orgs[org] if org else None,
            ).id
            for name, email, org in CUSTOMERS
        ]
        # The demo addresses are example.com ones nobody can receive mail at: treat them as proven.
        users.mark_all_verified(session)
        admin_id = admin.id
        # A mailbox to look at in Admin → Mailboxes: it polls nothing until an admin gives it an
        # IMAP server (or makes it a webhook secret).
        session.add(
            Mailbox(
                name="Support",
                address="support@example.com",
                department_id=departments["technical"],
                is_active=False,
                last_error="",
                last_uid=0,
            )
        )
    admin_actor = _actor(db, admin_id)
    for name in ("Login", "Invoices", "Integrations", "Feature request"):
        with db.unit_of_work() as session:
            ticket_service.create_category(session, admin_actor, name=name)
    with db.unit_of_work() as session:
        for name, color in DEMO_TAGS:
            tag_service.create_tag(session, admin_actor, name=name, color=color)
    with db.unit_of_work() as session:
        for title, category, body in CANNED_REPLIES:
            canned_service.create_reply(
                session, admin_actor, title=title, body=body, category=category, shared=True
            )
    agents = {agent_id: _actor(db, agent_id) for agent_id in agent_ids}
    customers = [_actor(db, customer_id) for customer_id in customer_ids]
    start = now() - timedelta(days=60)
    for index in range(tickets):
        moment = start + timedelta(minutes=index * (60 * 24 * 59) // max(tickets, 1) + rng.randint(0, 120))
        attach = files if files is not None and index % 6 == 0 else None
        _one_ticket(db, rng, moment, rng.choice(customers), agents, departments, admin_actor, attach)
    return accounts


def _screenshot(rng: random.Random) -> bytes:
    """A small PNG: a window with a title bar and an error banner, in the demo's colours."""
    width, height = 240, 150
    banner = (rng.randint(180, 230), 60, 60)
    rows = []
    for y in range(height):
        if y < 18:
            colour = (40, 48, 66)
        elif 60 <= y < 90:
            colour = banner
        else:
            colour = (246, 247, 249)
        rows.append(b"\x00" + bytes(colour) * width)
    raw = zlib.compress(b"".join(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _log_file(rng: random.Random) -> bytes:
    lines = [
        f"2026-11-{rng.randint(1, 20):02d} 09:{minute:02d}:{rng.randint(0, 59):02d} "
        f"{rng.choice(['INFO', 'INFO', 'WARN', 'ERROR'])} "
        f"{rng.choice(['sync started', 'token refreshed', 'timeout after 30s', 'retrying upload'])}"
        for minute in range(0, 60, 3)
    ]
    return ("\n".join(lines) + "\n").encode()


def _demo_files(files: FileStore, db: Database, rng: random.Random) -> list[StagedFile]:
    """Received and stored like an upload: through the intake, so the demo shows real files."""
    name, content = (
        ("screenshot.png", _screenshot(rng)) if rng.random() < 0.5 else ("client.log", _log_file(rng))
    )
    staged = [files.intake.receive_all(name, [content])]
    attachment_service.store(db, files.storage, staged)
    return staged


def _one_ticket(
    db: Database,
    rng: random.Random,
    moment: object,
    customer: Actor,
    agents: dict[int, Actor],
    departments: dict[str, int],
    admin: Actor,
    files: FileStore | None = None,
) -> None:
    assert hasattr(moment, "tzinfo")
    department = rng.choice(list(SUBJECTS))
    title, description = rng.choice(SUBJECTS[department])
    eligible = [a for a in agents.values() if departments[department] in a.department_ids] or list(
        agents.values()
    )
    agent = rng.choice(eligible)
    target = rng.choices(list(TicketStatus), weights=(4, 3, 2, 1, 3, 3, 4))[0]
    clock = moment

    def step(minutes: int) -> object:
        nonlocal clock
        clock = clock + timedelta(minutes=minutes)  # type: ignore[operator]
        return clock

    with staged_batch() as staged:
        if files is not None:
            staged.extend(_demo_files(files, db, rng))
            description += "\n\nI attached what I see."
        with db.unit_of_work() as session, travel_to(clock):  # type: ignore[arg-type]
            ticket = ticket_service.create_ticket(
                session,
                customer,
                title=title,
                description=description,
                priority=rng.choices(list(Priority), weights=(2, 5, 2, 1))[0],
                department=department,
                source=rng.choice([Source.WEB, Source.WEB, Source.EMAIL, Source.API]),
                files=NewFiles(files.intake.limits.max_ticket, staged=staged) if files else None,
            )
            ticket_id = ticket.id
    if rng.random() < 0.6:
        with db.unit_of_work() as session, travel_to(clock):  # type: ignore[arg-type]
            for name, _ in rng.sample(DEMO_TAGS, rng.randint(1, 2)):
                ticket_service.add_tag(session, admin, ticket_id, name)
    if target is TicketStatus.OPEN:
        return

    def act(actor: Actor, minutes: int, fn: object, **kwargs: object) -> None:
        with db.unit_of_work() as session, travel_to(step(minutes)):  # type: ignore[arg-type]
            fn(session, actor, ticket_id, **kwargs)  # type: ignore[operator]

    if rng.random() < 0.4:
        act(agent, rng.randint(5, 90), message_service.post_reply, body=rng.choice(NOTES), is_internal=True)
    reply = AGENT_REPLIES[rng.randrange(3)]
    if target in (TicketStatus.IN_PROGRESS, TicketStatus.ON_HOLD):
        act(agent, rng.randint(5, 240), ticket_service.assign_ticket, assignee_id=agent.user_id)
        act(agent, rng.randint(10, 600), message_service.post_reply, body=reply)
        if target is TicketStatus.ON_HOLD:
            act(
                agent,
                5,
                ticket_service.change_status,
                status=TicketStatus.ON_HOLD,
                reason="Waiting on a vendor fix",
            )
        return
    act(agent, rng.randint(10, 600), message_service.post_reply, body=reply)
    if target is TicketStatus.ANSWERED:
        return
    if target is TicketStatus.WAITING_FOR_RESPONSE:
        act(
            agent,
            5,
            ticket_service.change_status,
            status=TicketStatus.WAITING_FOR_RESPONSE,
            reason="Waiting for the customer's screenshot",
        )
        return
    act(customer, rng.randint(30, 1440), message_service.post_reply, body=rng.choice(CUSTOMER_REPLIES))
    act(agent, rng.randint(5, 240), ticket_service.assign_ticket, assignee_id=agent.user_id)
    act(agent, rng.randint(30, 2880), message_service.post_reply, body=AGENT_REPLIES[3], is_solution=True)
    act(agent, 1, ticket_service.change_status, status=TicketStatus.RESOLVED, reason="Fixed and confirmed")
    if target is TicketStatus.CLOSED:
        act(customer if rng.random() < 0.5 else agent, rng.randint(60, 4000), ticket_service.close_ticket)
