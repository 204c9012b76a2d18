"""Reading and writing people and departments. No permission checks here: callers above
(`auth.directory`, the CLI, the demo loader) decide who may."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import BindParameter, Select, bindparam, func, select, update
from sqlalchemy.orm import Session, selectinload

from ticketry.core.clock import now
from ticketry.core.db import Selected, unlikely
from ticketry.core.schemas import MAX_ID
from ticketry.mailparse.addresses import ADDR_SPEC
from ticketry.users.errors import (
    DepartmentNotFound,
    DepartmentSlugTaken,
    EmailTaken,
    InvalidEmail,
    NotAnAgent,
    OrganizationNameTaken,
    OrganizationNotFound,
    UserNotFound,
)
from ticketry.users.models import Department, Organization, Role, User

MAX_EMAIL = 254  # the column's length, and RFC 5321's limit on a forward path


def normalize_email(email: str) -> str:
    return email.strip().lower()


def is_valid_email(email: str) -> bool:
    """Whether a user may have this address (normalised first): never blank, never garbage. As
    loose as the mail channel's reading of From and Cc (the same `ADDR_SPEC`): every sender it
    finds, up to MAX_EMAIL, can be a customer."""
    email = normalize_email(email)
    return len(email) <= MAX_EMAIL and email.isprintable() and ADDR_SPEC.fullmatch(email) is not None


def check_email(email: str) -> str:
    """The normalised address, or `InvalidEmail`: every user has a usable address, whoever makes
    them (issue 14 A.1: a mail without a sender once made a customer with an empty address, and
    every later one joined it)."""
    if not is_valid_email(email):
        raise InvalidEmail(
            "A user needs a valid e-mail address (name@domain, at most 254 characters).",
            details={"email": email[:320]},
        )
    return normalize_email(email)


def get_user(session: Session, user_id: int) -> User:
    user = session.scalars(
        select(User).where(User.id == user_id).options(selectinload(User.departments))
    ).one_or_none()
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.", details={"userId": user_id})
    return user


def find_user_by_email(session: Session, email: str) -> User | None:
    """None for a blank address, whatever the table holds: nobody is "the user without one"."""
    email = normalize_email(email)
    if not email:
        return None
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def get_agent(session: Session, user_id: int) -> User:
    """An active staff member who can hold tickets."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise UserNotFound(f"User {user_id} does not exist.", details={"userId": user_id})
    if not user.role.is_staff:
        raise NotAnAgent(f"User {user_id} is not an agent.", details={"userId": user_id})
    return user


def get_department(session: Session, department_id: int) -> Department:
    department = session.get(Department, department_id)
    if department is None:
        raise DepartmentNotFound(
            f"Department {department_id} does not exist.", details={"departmentId": department_id}
        )
    return department


@cache
def _by_slug_or_name() -> Select[Department]:
    """Built once: a list filtered by department resolves it on every request, and building the
    statement cost more than running it."""
    key: BindParameter[str] = bindparam("key")
    return select(Department).where((Department.slug == key) | (func.lower(Department.name) == key))


def find_department(session: Session, ref: str | int) -> Department:
    """By id, or by slug or name (case-insensitive): API clients send either."""
    if isinstance(ref, str) and ref.isascii() and ref.isdigit():
        ref = int(ref)
    if isinstance(ref, int):
        if not 0 < ref <= MAX_ID:
            raise DepartmentNotFound(f"Department {ref} does not exist.", details={"department": ref})
        return get_department(session, ref)
    department = session.scalars(_by_slug_or_name(), {"key": ref.strip().lower()}).first()
    if department is None or not department.is_active:
        raise DepartmentNotFound(f"Department '{ref}' does not exist.", details={"department": ref})
    return department


def departments_by_ids(session: Session, ids: Iterable[int]) -> list[Department]:
    wanted = sorted(set(ids))
    found = list(session.scalars(select(Department).where(Department.id.in_(wanted)))) if wanted else []
    missing = sorted(set(wanted) - {d.id for d in found})
    if missing:
        raise DepartmentNotFound("Unknown department ids.", details={"departmentIds": missing})
    return found


def get_organization(session: Session, organization_id: int) -> Organization:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise OrganizationNotFound(
            f"Organization {organization_id} does not exist.", details={"organizationId": organization_id}
        )
    return organization


def active_staff(query: Selected) -> Selected:
    """`query` (on User) of active agents and admins only: whom a ticket can be assigned to.
    SQLite's statistics know a role only as one of three values among all users, not that staff
    are a few among many customers: it read every user (0.49 ms for 62 staff among 10,000
    customers; 0.05 by the role index)."""
    return query.where(unlikely(User.role.in_([Role.AGENT, Role.ADMIN])), User.is_active.is_(True))


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password_hash: str | None = None,
    organization_id: int | None = None,
    department_ids: Iterable[int] = (),
) -> User:
    email = check_email(email)
    if find_user_by_email(session, email) is not None:
        raise EmailTaken("A user with this e-mail address already exists.", details={"email": email})
    if organization_id is not None:
        get_organization(session, organization_id)
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=password_hash,
        organization_id=organization_id,
        departments=departments_by_ids(session, department_ids) if role.is_staff else [],
    )
    session.add(user)
    session.flush()
    return user


def mark_all_verified(session: Session) -> None:
    """Treat every address not yet proven as proven (demo data only)."""
    session.execute(update(User).where(User.email_verified_at.is_(None)).values(email_verified_at=now()))


def set_departments(session: Session, user: User, department_ids: Iterable[int]) -> None:
    user.departments = departments_by_ids(session, department_ids) if user.role.is_staff else []


def create_organization(session: Session, *, name: str, shared: bool) -> Organization:
    if session.scalar(select(Organization.id).where(func.lower(Organization.name) == name.lower())):
        raise OrganizationNameTaken("An organization with this name exists.", details={"name": name})
    organization = Organization(name=name, shared=shared)
    session.add(organization)
    session.flush()
    return organization


def create_department(session: Session, *, slug: str, name: str) -> Department:
    slug = slug.strip().lower()
    if session.scalar(select(Department.id).where(Department.slug == slug)):
        raise DepartmentSlugTaken("A department with this slug exists.", details={"slug": slug})
    department = Department(slug=slug, name=name)
    session.add(department)
    session.flush()
    return department


def list_departments(session: Session, *, include_inactive: bool = False) -> list[Department]:
    query = select(Department).order_by(Department.name)
    if not include_inactive:
        query = query.where(Department.is_active.is_(True))
    return list(session.scalars(query))
