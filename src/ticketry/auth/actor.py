"""The Actor: who is asking, resolved once per request or job, and the one permission check."""

from __future__ import annotations

from dataclasses import dataclass

from ticketry.auth.permissions import ROLE_PERMISSIONS, Permission
from ticketry.core.errors import PermissionDenied
from ticketry.users.models import Role, User


@dataclass(frozen=True)
class Actor:
    user_id: int
    name: str
    email: str
    role: Role
    organization_id: int | None
    organization_shared: bool
    department_ids: frozenset[int]
    permissions: frozenset[Permission]
    # The user followed a verification link (the portal asks the others to).
    email_verified: bool = True

    @property
    def is_staff(self) -> bool:
        """Sees internal notes and staff-only fields (docs/product.md §1)."""
        return Permission.TICKETS_VIEW_INTERNAL in self.permissions

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @classmethod
    def for_user(cls, user: User, *, organization_shared: bool, department_ids: frozenset[int]) -> Actor:
        return cls(
            user_id=user.id,
            name=user.name,
            email=user.email,
            role=user.role,
            organization_id=user.organization_id,
            # Staff read by department, customers by organization: each only what applies.
            organization_shared=organization_shared and not user.role.is_staff,
            department_ids=department_ids if user.role.is_staff else frozenset(),
            permissions=ROLE_PERMISSIONS[user.role],
            email_verified=user.email_verified_at is not None,
        )


def require(actor: Actor, permission: Permission) -> None:
    """Refuse with 403 unless the actor's role grants the permission."""
    if not actor.can(permission):
        raise PermissionDenied(
            f"You do not have the '{permission.value}' permission.",
            details={"permission": permission.value},
        )
