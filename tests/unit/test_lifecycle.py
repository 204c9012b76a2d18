"""The 7-state lifecycle of docs/product.md §2, on tickets held in memory (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketry.tickets import lifecycle
from ticketry.tickets.errors import InvalidTransition, TicketClosed
from ticketry.tickets.models import Ticket, TicketStatus

S = TicketStatus
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)

# docs/product.md §2 "Manual transitions allowed", copied from the spec rather than from the code under test.
SPEC_TABLE: dict[TicketStatus, set[TicketStatus]] = {
    S.OPEN: {S.ANSWERED, S.IN_PROGRESS, S.ON_HOLD, S.CLOSED},
    S.ANSWERED: {S.IN_PROGRESS, S.ON_HOLD, S.WAITING_FOR_RESPONSE, S.CLOSED},
    S.WAITING_FOR_RESPONSE: {S.ANSWERED, S.IN_PROGRESS, S.CLOSED},
    S.ON_HOLD: {S.IN_PROGRESS, S.ANSWERED, S.CLOSED},
    S.IN_PROGRESS: {S.RESOLVED, S.ON_HOLD, S.CLOSED},
    S.RESOLVED: {S.CLOSED, S.OPEN},
    S.CLOSED: {S.OPEN},
}
ALL_PAIRS = [(a, b) for a in TicketStatus for b in TicketStatus]
ALLOWED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b in SPEC_TABLE[a]]
REFUSED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b not in SPEC_TABLE[a]]


def ticket(
    status: TicketStatus = S.OPEN,
    *,
    first_response_at: datetime | None = None,
    resolved_at: datetime | None = None,
    closed_at: datetime | None = None,
) -> Ticket:
    return Ticket(
        number="TICK-2026-0001",
        title="Printer on fire",
        description="It is really on fire.",
        status=status,
        first_response_at=first_response_at,
        resolved_at=resolved_at,
        closed_at=closed_at,
    )


def pair_id(pair: tuple[TicketStatus, TicketStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


class TestTransitionTable:
    def test_table_covers_all_seven_statuses(self) -> None:
        assert len(TicketStatus) == 7
        assert len(ALL_PAIRS) == 49
        assert {s: set(lifecycle.allowed_targets(s)) for s in TicketStatus} == SPEC_TABLE

    @pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=[pair_id(p) for p in ALLOWED_PAIRS])
    def test_allowed_transition_succeeds(self, pair: tuple[TicketStatus, TicketStatus]) -> None:
        current, target = pair
        t = ticket(current)
        changes = lifecycle.change_status(t, target, T1)
        assert t.status is target
        assert len(changes) == 1
        change = changes[0]
        assert (change.field, change.old, change.new) == ("status", current.value, target.value)
        assert change.automatic is False

    @pytest.mark.parametrize("pair", REFUSED_PAIRS, ids=[pair_id(p) for p in REFUSED_PAIRS])
    def test_other_transition_is_refused_naming_allowed_targets(
        self, pair: tuple[TicketStatus, TicketStatus]
    ) -> None:
        current, target = pair
        t = ticket(current)
        with pytest.raises(InvalidTransition) as caught:
            lifecycle.change_status(t, target, T1)
        error = caught.value
        assert t.status is current, "a refused transition leaves the ticket as it was"
        assert t.resolved_at is None
        assert t.closed_at is None
        assert error.status == 409
        assert error.code == "invalid_transition"
        assert sorted(error.details["allowed"]) == sorted(s.value for s in SPEC_TABLE[current])
        assert error.details["from"] == current.value
        assert error.details["to"] == target.value
        for allowed in SPEC_TABLE[current]:
            assert allowed.value in error.message


class TestTimestamps:
    def test_entering_resolved_sets_resolved_at(self) -> None:
        t = ticket(S.IN_PROGRESS)
        lifecycle.change_status(t, S.RESOLVED, T1)
        assert t.resolved_at == T1
        assert t.closed_at is None

    @pytest.mark.parametrize("current", sorted(s for s in TicketStatus if S.CLOSED in SPEC_TABLE[s]))
    def test_entering_closed_sets_closed_at(self, current: TicketStatus) -> None:
        t = ticket(current)
        lifecycle.change_status(t, S.CLOSED, T1)
        assert t.closed_at == T1

    def test_closing_a_resolved_ticket_keeps_resolved_at(self) -> None:
        t = ticket(S.RESOLVED, resolved_at=T0)
        lifecycle.change_status(t, S.CLOSED, T1)
        assert t.resolved_at == T0
        assert t.closed_at == T1

    def test_reopening_a_resolved_ticket_clears_both(self) -> None:
        t = ticket(S.RESOLVED, resolved_at=T0)
        lifecycle.change_status(t, S.OPEN, T1)
        assert t.status is S.OPEN
        assert t.resolved_at is None
        assert t.closed_at is None

    def test_reopening_a_closed_ticket_clears_both(self) -> None:
        t = ticket(S.CLOSED, resolved_at=T0, closed_at=T1)
        lifecycle.change_status(t, S.OPEN, T2)
        assert t.status is S.OPEN
        assert t.resolved_at is None
        assert t.closed_at is None

    def test_other_transitions_leave_timestamps_alone(self) -> None:
        t = ticket(S.OPEN)
        lifecycle.change_status(t, S.ON_HOLD, T1)
        lifecycle.change_status(t, S.IN_PROGRESS, T2)
        assert t.resolved_at is None
        assert t.closed_at is None

    def test_full_cycle_resolve_reopen_resolve_stamps_the_latest_time(self) -> None:
        t = ticket(S.IN_PROGRESS)
        lifecycle.change_status(t, S.RESOLVED, T0)
        lifecycle.change_status(t, S.OPEN, T1)
        lifecycle.change_status(t, S.IN_PROGRESS, T1)
        lifecycle.change_status(t, S.RESOLVED, T2)
        assert t.resolved_at == T2


class TestOnAssign:
    def test_assigning_an_open_ticket_moves_it_to_in_progress(self) -> None:
        t = ticket(S.OPEN)
        changes = lifecycle.on_assign(t, T1)
        assert t.status is S.IN_PROGRESS
        assert [(c.field, c.old, c.new, c.automatic) for c in changes] == [
            ("status", "open", "in_progress", True)
        ]

    @pytest.mark.parametrize("current", [s for s in TicketStatus if s is not S.OPEN])
    def test_assigning_in_any_other_status_changes_nothing(self, current: TicketStatus) -> None:
        t = ticket(current)
        assert lifecycle.on_assign(t, T1) == []
        assert t.status is current


class TestOnUnassign:
    def test_unassigning_an_in_progress_ticket_moves_it_back_to_open(self) -> None:
        t = ticket(S.IN_PROGRESS)
        changes = lifecycle.on_unassign(t, T1)
        assert t.status is S.OPEN
        assert [(c.field, c.old, c.new, c.automatic) for c in changes] == [
            ("status", "in_progress", "open", True)
        ]

    @pytest.mark.parametrize("current", [s for s in TicketStatus if s is not S.IN_PROGRESS])
    def test_unassigning_in_any_other_status_changes_nothing(self, current: TicketStatus) -> None:
        t = ticket(current)
        assert lifecycle.on_unassign(t, T1) == []
        assert t.status is current


class TestOnMerge:
    """A merged duplicate closes automatically whatever its state; undoing the merge puts back the
    state it had (docs/product.md §3), the one move outside the table."""

    @pytest.mark.parametrize("current", [s for s in TicketStatus if s is not S.CLOSED])
    def test_a_merged_duplicate_closes(self, current: TicketStatus) -> None:
        t = ticket(current, resolved_at=T0 if current is S.RESOLVED else None)
        changes = lifecycle.on_merged(t, T1)
        assert (t.status, t.closed_at) == (S.CLOSED, T1)
        assert [(c.field, c.old, c.new, c.automatic) for c in changes] == [
            ("status", current.value, "closed", True)
        ]

    def test_a_closed_duplicate_stays_as_it_was(self) -> None:
        t = ticket(S.CLOSED, closed_at=T0)
        assert lifecycle.on_merged(t, T1) == []
        assert (t.status, t.closed_at) == (S.CLOSED, T0)

    def test_an_unmerge_restores_the_state_and_its_times(self) -> None:
        t = ticket(S.IN_PROGRESS)
        lifecycle.on_merged(t, T1)
        changes = lifecycle.on_unmerged(t, S.IN_PROGRESS, resolved_at=None, closed_at=None)
        assert (t.status, t.resolved_at, t.closed_at) == (S.IN_PROGRESS, None, None)
        assert [(c.field, c.old, c.new, c.automatic) for c in changes] == [
            ("status", "closed", "in_progress", True)
        ]

    def test_an_unmerge_of_a_duplicate_that_was_closed_records_no_status_change(self) -> None:
        t = ticket(S.CLOSED, closed_at=T0)
        assert lifecycle.on_unmerged(t, S.CLOSED, resolved_at=None, closed_at=T0) == []
        assert t.closed_at == T0


class TestOnStaffReply:
    def test_first_public_reply_answers_an_open_ticket(self) -> None:
        t = ticket(S.OPEN)
        changes = lifecycle.on_staff_reply(t, T1, internal=False)
        assert t.status is S.ANSWERED
        assert t.first_response_at == T1
        assert [(c.field, c.old, c.new, c.automatic) for c in changes] == [
            ("status", "open", "answered", True)
        ]

    def test_first_response_at_is_set_only_once(self) -> None:
        t = ticket(S.OPEN)
        lifecycle.on_staff_reply(t, T1, internal=False)
        lifecycle.on_customer_reply(t, T2)  # answered -> open
        assert t.status is S.OPEN
        lifecycle.on_staff_reply(t, T2, internal=False)
        assert t.first_response_at == T1
        assert t.status is S.ANSWERED

    def test_internal_note_neither_answers_nor_sets_first_response(self) -> None:
        t = ticket(S.OPEN)
        assert lifecycle.on_staff_reply(t, T1, internal=True) == []
        assert t.status is S.OPEN
        assert t.first_response_at is None

    @pytest.mark.parametrize(
        "current", [S.ANSWERED, S.WAITING_FOR_RESPONSE, S.ON_HOLD, S.IN_PROGRESS, S.RESOLVED]
    )
    def test_public_reply_in_other_statuses_keeps_the_status(self, current: TicketStatus) -> None:
        t = ticket(current)
        assert lifecycle.on_staff_reply(t, T1, internal=False) == []
        assert t.status is current
        assert t.first_response_at == T1

    @pytest.mark.parametrize("internal", [False, True], ids=["reply", "note"])
    def test_reply_on_closed_ticket_is_refused(self, internal: bool) -> None:
        t = ticket(S.CLOSED, closed_at=T0)
        with pytest.raises(TicketClosed) as caught:
            lifecycle.on_staff_reply(t, T1, internal=internal)
        assert caught.value.status == 409
        assert t.status is S.CLOSED
        assert t.first_response_at is None


class TestOnCustomerReply:
    @pytest.mark.parametrize("current", [S.ANSWERED, S.WAITING_FOR_RESPONSE, S.RESOLVED])
    def test_customer_reply_reopens(self, current: TicketStatus) -> None:
        t = ticket(current, resolved_at=T0 if current is S.RESOLVED else None)
        changes = lifecycle.on_customer_reply(t, T1)
        assert t.status is S.OPEN
        assert t.resolved_at is None
        assert [(c.field, c.old, c.new, c.automatic) for c in changes] == [
            ("status", current.value, "open", True)
        ]

    @pytest.mark.parametrize("current", [S.OPEN, S.ON_HOLD, S.IN_PROGRESS])
    def test_customer_reply_elsewhere_keeps_the_status(self, current: TicketStatus) -> None:
        t = ticket(current)
        assert lifecycle.on_customer_reply(t, T1) == []
        assert t.status is current

    def test_customer_reply_never_sets_first_response(self) -> None:
        t = ticket(S.OPEN)
        lifecycle.on_customer_reply(t, T1)
        assert t.first_response_at is None

    def test_reply_on_closed_ticket_is_refused(self) -> None:
        t = ticket(S.CLOSED, closed_at=T0)
        with pytest.raises(TicketClosed) as caught:
            lifecycle.on_customer_reply(t, T1)
        assert caught.value.details["allowed"] == ["open"]
        assert t.status is S.CLOSED
        assert t.closed_at == T0
