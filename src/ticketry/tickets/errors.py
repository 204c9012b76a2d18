"""Ticket errors, each with its code and HTTP status."""

from __future__ import annotations

from ticketry.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class StaleTicket(Conflict):
    code = "stale_ticket"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class TicketClosed(Conflict):
    code = "ticket_closed"


class TicketDeleted(Conflict):
    code = "ticket_deleted"


class NotDeleted(Conflict):
    code = "ticket_not_deleted"


class EditNotAllowed(PermissionDenied):
    code = "edit_not_allowed"


class CategoryNotFound(NotFound):
    code = "category_not_found"


class CategoryNameTaken(Conflict):
    code = "category_name_taken"


class InvalidTicketField(ValidationFailed):
    code = "invalid_field"


class ParticipantNotFound(NotFound):
    code = "participant_not_found"


class InvalidParticipant(ValidationFailed):
    code = "invalid_participant"
