"""Synthetic helpdesk data: users, tickets and messages, deterministic for a given seed.

Rows are produced in batches of plain Python values (epoch seconds for times, None for NULL)
so that each backend formats them the cheap way it needs (COPY text or executemany tuples).
The text uses a Zipf-like vocabulary: a few words occur in most documents, many in few, and a
long tail of rare words occurs in a handful each, so full-text search sees every kind of term.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

PASSWORD = "bench-password-1"
ADMIN_EMAIL = "bench-admin@example.com"
AGENT_EMAIL = "bench-agent@example.com"
CUSTOMER_EMAIL = "bench-customer@example.com"
ADMIN_ID, AGENT_ID, CUSTOMER_ID = 1, 2, 3
# The departments the migration seeds (ids 1..4 in this order), with each one's share of tickets.
DEPARTMENTS = (("technical", 0.40), ("billing", 0.25), ("sales", 0.15), ("general", 0.20))
AGENT_DEPARTMENTS = (1, 2)  # the bench agent works in technical and billing
PREFIX = "TICK"
DAY = 86400.0

COMMON_WORDS = [
    "error",
    "login",
    "password",
    "account",
    "invoice",
    "export",
    "report",
    "email",
    "server",
    "customer",
    "payment",
    "update",
    "access",
    "settings",
    "dashboard",
    "upload",
    "order",
    "refund",
    "billing",
    "network",
    "browser",
    "mobile",
    "install",
    "license",
    "renewal",
    "timeout",
    "certificate",
    "backup",
    "restore",
    "migration",
    "integration",
    "webhook",
]
ACTIVE = ("open", "answered", "waiting_for_response", "on_hold", "in_progress")
RECENT_STATUS = (
    ("open", 0.25),
    ("in_progress", 0.20),
    ("answered", 0.15),
    ("waiting_for_response", 0.10),
    ("on_hold", 0.05),
    ("resolved", 0.15),
    ("closed", 0.10),
)
OLD_STATUS = (
    ("closed", 0.62),
    ("resolved", 0.28),
    ("open", 0.02),
    ("in_progress", 0.03),
    ("answered", 0.02),
    ("waiting_for_response", 0.02),
    ("on_hold", 0.01),
)
PRIORITIES = (("low", 0.30), ("medium", 0.45), ("high", 0.20), ("urgent", 0.05))
SOURCES = (("web", 0.55), ("email", 0.35), ("api", 0.10))
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
]
LAST_NAMES = [
    "Adams",
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
]


def _cumulative(pairs: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    values, weights, total = [], [], 0.0
    for value, weight in pairs:
        total += weight
        values.append(value)
        weights.append(total)
    return values, weights


@dataclass(frozen=True)
class Plan:
    tickets: int
    messages_per_ticket: int = 5
    customers: int = 10_000
    agents: int = 60
    organizations: int = 500
    categories: int = 12
    tags: int = 30
    seed: int = 42
    days: int = 365
    batch: int = 10_000
    end: float = field(default_factory=time.time)

    @property
    def start(self) -> float:
        return self.end - self.days * DAY

    @property
    def first_customer_id(self) -> int:
        return 4 + self.agents


@dataclass(frozen=True)
class Vocabulary:
    words: list[str]  # by frequency rank, most frequent first
    weights: list[float]  # cumulative Zipf weights over `words`
    rare: list[str]

    @classmethod
    def build(cls, rng: random.Random, *, size: int = 3000, rare: int = 50_000) -> Vocabulary:
        syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
        seen = set(COMMON_WORDS)
        words = list(COMMON_WORDS)
        while len(words) < size:
            word = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 3))))
            if word not in seen:
                seen.add(word)
                words.append(word)
        rare_words: list[str] = []
        while len(rare_words) < rare:
            word = "".join(rng.choice(syllables) for _ in range(4)) + rng.choice("xqw")
            if word not in seen:
                seen.add(word)
                rare_words.append(word)
        cumulative, total = [], 0.0
        for rank in range(1, size + 1):
            total += 1.0 / rank
            cumulative.append(total)
        return cls(words, cumulative, rare_words)

    def search_terms(self) -> dict[str, list[str]]:
        """Words for the search scenarios, by how many documents contain them (ticket numbers and
        e-mail addresses come from the database: `bench.__main__.sample`)."""
        return {
            "common": self.words[20:30],  # each in 5-10% of messages, 10-20% of tickets
            "medium": self.words[200:210],  # each in about 1% of messages
            "rare": self.rare[100:110],  # each in a few dozen messages
            # two common-ish words (ranks 21-30 with 31-40), both in the same text for a match
            "two-words": [f"{a} {b}" for a, b in zip(self.words[20:30], self.words[30:40], strict=True)],
        }


@dataclass
class UserRow:
    id: int
    email: str
    name: str
    role: str
    organization_id: int | None
    password_hash: str | None = None


@dataclass
class Batch:
    tickets: list[tuple[object, ...]]
    messages: list[tuple[object, ...]]
    watchers: list[tuple[int, int]]
    ticket_tags: list[tuple[int, int]]


TICKET_COLUMNS = [
    "id",
    "number",
    "title",
    "description",
    "description_html",
    "status",
    "status_reason",
    "priority",
    "department_id",
    "category_id",
    "customer_id",
    "assignee_id",
    "source",
    "created_at",
    "created_by_id",
    "updated_at",
    "updated_by_id",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "deleted_at",
    "deleted_by_id",
    "view_count",
    "version",
]
MESSAGE_COLUMNS = [
    "id",
    "ticket_id",
    "author_id",
    "body",
    "body_html",
    "is_internal",
    "is_staff_reply",
    "is_solution",
    "source",
    "created_at",
    "updated_at",
    "updated_by_id",
    "deleted_at",
    "deleted_by_id",
]


class Format:
    """How a backend wants values: COPY text (all strings) or driver parameters."""

    def __init__(self, *, text: bool, aware: bool) -> None:
        self.text, self.aware = text, aware
        self.null: object = "\\N" if text else None
        self.true: object = "t" if text else 1
        self.false: object = "f" if text else 0
        self.int: Callable[[int], object] = str if text else int
        self._days: dict[int, str] = {}

    def time(self, epoch: float) -> str:
        day, seconds = divmod(epoch, DAY)
        label = self._days.get(int(day))
        if label is None:
            label = self._days[int(day)] = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        return f"{label} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{int((seconds - whole) * 1e6):06d}" + (
            "+00" if self.aware else ""
        )

    def maybe_time(self, epoch: float | None) -> object:
        return self.null if epoch is None else self.time(epoch)


class Generator:
    def __init__(self, plan: Plan, fmt: Format) -> None:
        self.plan = plan
        self.fmt = fmt
        self.rng = random.Random(plan.seed)
        self.vocab = Vocabulary.build(self.rng)
        self.sentences = [self._sentence() for _ in range(20_000)]
        self.bodies = [self._text(2) for _ in range(100_000)]
        self.descriptions = [self._text(3) for _ in range(50_000)]
        self.titles = [self._title() for _ in range(50_000)]
        self.statuses_recent = _cumulative(RECENT_STATUS)
        self.statuses_old = _cumulative(OLD_STATUS)
        self.priorities = _cumulative(PRIORITIES)
        self.sources = _cumulative(SOURCES)
        self.departments = _cumulative(tuple((str(i + 1), w) for i, (_, w) in enumerate(DEPARTMENTS)))
        self.agent_departments = self._agent_departments()
        self.by_department: dict[int, list[int]] = {}
        for agent, departments in self.agent_departments.items():
            for department in departments:
                self.by_department.setdefault(department, []).append(agent)
        self.numbers: dict[int, int] = {}

    # --- people -----------------------------------------------------------------------------

    def _agent_departments(self) -> dict[int, tuple[int, ...]]:
        result: dict[int, tuple[int, ...]] = {AGENT_ID: AGENT_DEPARTMENTS}
        for agent in range(4, 4 + self.plan.agents):
            first = 1 + (agent % len(DEPARTMENTS))
            second = 1 + self.rng.randrange(len(DEPARTMENTS))
            result[agent] = tuple(sorted({first, second}))
        return result

    def _name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def users(self) -> list[UserRow]:
        rows = [
            UserRow(ADMIN_ID, ADMIN_EMAIL, "Bench Admin", "admin", None),
            UserRow(AGENT_ID, AGENT_EMAIL, "Bench Agent", "agent", None),
            UserRow(CUSTOMER_ID, CUSTOMER_EMAIL, "Bench Customer", "customer", None),
        ]
        rows += [
            UserRow(agent, f"agent{agent}@bench.example", self._name(), "agent", None)
            for agent in range(4, 4 + self.plan.agents)
        ]
        for n in range(self.plan.customers):
            org = 1 + self.rng.randrange(self.plan.organizations) if self.rng.random() < 0.6 else None
            rows.append(
                UserRow(
                    self.plan.first_customer_id + n,
                    f"customer{n}@bench.example",
                    self._name(),
                    "customer",
                    org,
                )
            )
        return rows

    def memberships(self) -> list[tuple[int, int]]:
        return [(d, agent) for agent, departments in self.agent_departments.items() for d in departments]

    # --- text -------------------------------------------------------------------------------

    def _sentence(self) -> str:
        words = self.rng.choices(self.vocab.words, cum_weights=self.vocab.weights, k=self.rng.randint(6, 14))
        return " ".join(words).capitalize() + "."

    def _title(self) -> str:
        words = self.rng.choices(self.vocab.words, cum_weights=self.vocab.weights, k=self.rng.randint(4, 8))
        return " ".join(words).capitalize()

    def _text(self, sentences: int) -> str:
        """A few sentences; three in ten also carry a word of the rare tail."""
        rnd, pool = self.rng.random, self.sentences
        parts = [pool[int(rnd() * len(pool))] for _ in range(sentences)]
        if rnd() < 0.3:
            rare = self.vocab.rare
            parts.append(f"Reference {rare[int(rnd() * len(rare))]}.")
        return " ".join(parts)

    # --- tickets ----------------------------------------------------------------------------

    def batches(self) -> Iterator[Batch]:
        plan = self.plan
        for first in range(1, plan.tickets + 1, plan.batch):
            yield self._batch(first, min(first + plan.batch, plan.tickets + 1))

    def _pick(self, table: tuple[list[str], list[float]]) -> str:
        values, cumulative = table
        return values[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]

    def _batch(self, first: int, stop: int) -> Batch:
        plan, fmt = self.plan, self.fmt
        rnd = self.rng.random
        to_int, to_time, null = fmt.int, fmt.time, fmt.null
        yes, no = fmt.true, fmt.false
        span = plan.end - plan.start - 2 * DAY
        bodies, descriptions, titles = self.bodies, self.descriptions, self.titles
        tickets: list[tuple[object, ...]] = []
        messages: list[tuple[object, ...]] = []
        watchers: list[tuple[int, int]] = []
        tags: list[tuple[int, int]] = []
        per = plan.messages_per_ticket
        last = plan.end - 60
        for ticket_id in range(first, stop):
            created = plan.start + (ticket_id - 1 + rnd()) * span / plan.tickets
            age = plan.end - created
            status = self._pick(self.statuses_recent if age < 30 * DAY else self.statuses_old)
            department = int(self._pick(self.departments))
            # The bench customer owns a few seeded tickets; the rest spread over everyone.
            customer = CUSTOMER_ID if rnd() < 0.002 else plan.first_customer_id + int(rnd() * plan.customers)
            staff = self.by_department[department]
            assignee: int | None = staff[int(rnd() * len(staff))]
            if status == "open" and rnd() < 0.7:
                assignee = None
            year = time.gmtime(created).tm_year
            self.numbers[year] = number = self.numbers.get(year, 0) + 1
            # The conversation: customer and staff take turns; some staff turns are notes.
            at = created
            first_response: float | None = None
            ticket_text = to_int(ticket_id)
            for k in range(per):
                at = min(at + 60 + rnd() * rnd() * 2 * DAY, last)
                is_staff = k % 2 == 1
                author = (assignee or staff[int(rnd() * len(staff))]) if is_staff else customer
                internal = is_staff and rnd() < 0.1
                if is_staff and not internal and first_response is None:
                    first_response = at
                body = bodies[int(rnd() * len(bodies))]
                messages.append(
                    (
                        to_int((ticket_id - 1) * per + k + 1),
                        ticket_text,
                        to_int(author),
                        body,
                        f"<p>{body}</p>",
                        yes if internal else no,
                        yes if is_staff else no,
                        no,
                        "email" if rnd() < 0.35 else "web",
                        to_time(at),
                        null,
                        null,
                        null,
                        null,
                    )
                )
            if status == "open":
                first_response = None
            resolved = at + 600 if status in ("resolved", "closed") else None
            closed = min(at + 3 * DAY, plan.end - 30) if status == "closed" else None
            deleted = min(at + DAY, plan.end - 30) if rnd() < 0.005 else None
            updated = max(t for t in (at, resolved, closed, deleted) if t is not None)
            description = descriptions[int(rnd() * len(descriptions))]
            tickets.append(
                (
                    ticket_text,
                    f"{PREFIX}-{year}-{number:04d}",
                    titles[int(rnd() * len(titles))],
                    description,
                    f"<p>{description}</p>",
                    status,
                    null,
                    self._pick(self.priorities),
                    to_int(department),
                    to_int(1 + int(rnd() * plan.categories)) if rnd() < 0.7 else null,
                    to_int(customer),
                    null if assignee is None else to_int(assignee),
                    self._pick(self.sources),
                    to_time(created),
                    to_int(customer),
                    to_time(updated),
                    to_int(assignee or customer),
                    fmt.maybe_time(first_response),
                    fmt.maybe_time(resolved),
                    fmt.maybe_time(closed),
                    fmt.maybe_time(deleted),
                    null if deleted is None else to_int(ADMIN_ID),
                    to_int(int(rnd() * 20)),
                    to_int(1 + per // 2),
                )
            )
            if rnd() < 0.03:
                watchers.append((ticket_id, staff[int(rnd() * len(staff))]))
            if rnd() < 0.3:
                for tag in sorted({1 + int(rnd() * plan.tags) for _ in range(1 + int(rnd() * 2))}):
                    tags.append((ticket_id, tag))
        return Batch(tickets, messages, watchers, tags)
