"""Errors about people and departments."""

from __future__ import annotations

from ticketry.core.errors import Conflict, NotFound, ValidationFailed


class UserNotFound(NotFound):
    code = "user_not_found"


class EmailTaken(Conflict):
    code = "email_taken"


class InvalidEmail(ValidationFailed):
    code = "invalid_email"


class NotAnAgent(ValidationFailed):
    code = "not_an_agent"


class OrganizationNotFound(NotFound):
    code = "organization_not_found"


class OrganizationNameTaken(Conflict):
    code = "organization_name_taken"


class DepartmentNotFound(NotFound):
    code = "department_not_found"


class DepartmentSlugTaken(Conflict):
    code = "department_slug_taken"


class DepartmentInUse(Conflict):
    code = "department_in_use"
