"""Admin use cases over people: users, organizations, departments (docs/product.md §1 "admin").
They live in auth because deciding who may manage whom is an auth rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ticketry.auth import mail as account_mail
from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor, require
from ticketry.auth.passwords import hash_password
from ticketry.auth.permissions import Permission
from ticketry.auth.service import check_new_password
from ticketry.core.errors import Conflict
from ticketry.core.pagination import Page, PageRequest, count_rows
from ticketry.users import service as users
from ticketry.users.errors import DepartmentInUse, DepartmentSlugTaken, EmailTaken, OrganizationNameTaken
from ticketry.users.models import Department, Organization, Role, User, department_members


def list_users(
    session: Session, actor: Actor, *, role: Role | None, q: str | None, page: PageRequest
) -> Page[User]:
    require(actor, Permission.ADMIN_USERS)
    query = select(User).order_by(User.id)
    if role is not None:
        query = query.where(User.role == role)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    items = session.scalars(
        query.options(selectinload(User.departments)).limit(page.page_size).offset(page.offset)
    )
    return Page(items=list(items), total=count_rows(session, query), request=page)


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    require(actor, Permission.ADMIN_USERS)
    return users.get_user(session, user_id)


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None,
    organization_id: int | None = None,
    department_ids: Sequence[int] = (),
) -> User:
    require(actor, Permission.ADMIN_USERS)
    if password is not None:
        check_new_password(password)
    return users.create_user(
        session,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password) if password else None,
        organization_id=organization_id,
        department_ids=department_ids,
    )


def update_user(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    provided: frozenset[str],
    email: str | None = None,
    name: str | None = None,
    role: Role | None = None,
    password: str | None = None,
    organization_id: int | None = None,
    department_ids: Sequence[int] | None = None,
    is_active: bool | None = None,
    keep_secret: str | None = None,
) -> User:
    """A new password, a new address, a new role or disabling revokes every session, API token
    and mailed link of the user, for good (issue 12 item 5); when admins change themselves, the
    credential of this request (`keep_secret`) stays."""
    require(actor, Permission.ADMIN_USERS)
    user = users.get_user(session, user_id)
    if user.id == actor.user_id and ((role is not None and role is not Role.ADMIN) or is_active is False):
        raise Conflict("You cannot demote or disable yourself; ask another admin.")
    if password is not None:
        check_new_password(password)
    revoke = False
    if email is not None and users.normalize_email(email) != user.email:
        if users.find_user_by_email(session, email) is not None:
            raise EmailTaken("A user with this e-mail address already exists.")
        user.email = users.normalize_email(email)
        account_mail.forget_address_proofs(session, user)
        revoke = True
    if name is not None:
        user.name = name
    if role is not None and role is not user.role:
        user.role = role
        revoke = True
    if password is not None:
        user.password_hash = hash_password(password)
        revoke = True
    if "organization_id" in provided:
        if organization_id is not None:
            users.get_organization(session, organization_id)
        user.organization_id = organization_id
    if department_ids is not None:
        users.set_departments(session, user, department_ids)
    elif role is not None and not role.is_staff:
        users.set_departments(session, user, [])
    if is_active is not None:
        revoke = revoke or not is_active
        user.is_active = is_active
    if revoke:
        keep = keep_secret if user.id == actor.user_id else None
        auth_service.revoke_credentials(session, user.id, keep_secret=keep)
    session.flush()
    return user


def deactivate_user(session: Session, actor: Actor, user_id: int) -> User:
    """Users are never hard-deleted: their tickets and messages keep an author."""
    return update_user(session, actor, user_id, provided=frozenset({"is_active"}), is_active=False)


# --- organizations ------------------------------------------------------------------------------


def list_organizations(session: Session, actor: Actor) -> list[Organization]:
    require(actor, Permission.ADMIN_DIRECTORY)
    return list(session.scalars(select(Organization).order_by(Organization.name)))


def create_organization(session: Session, actor: Actor, *, name: str, shared: bool) -> Organization:
    require(actor, Permission.ADMIN_DIRECTORY)
    return users.create_organization(session, name=name, shared=shared)


def update_organization(
    session: Session, actor: Actor, organization_id: int, *, name: str | None, shared: bool | None
) -> Organization:
    require(actor, Permission.ADMIN_DIRECTORY)
    organization = users.get_organization(session, organization_id)
    if name is not None and name.lower() != organization.name.lower():
        if session.scalar(select(Organization.id).where(func.lower(Organization.name) == name.lower())):
            raise OrganizationNameTaken("An organization with this name exists.", details={"name": name})
        organization.name = name
    if shared is not None:
        organization.shared = shared
    session.flush()
    return organization


def delete_organization(session: Session, actor: Actor, organization_id: int) -> None:
    """Members stay, without an organization (ON DELETE SET NULL)."""
    require(actor, Permission.ADMIN_DIRECTORY)
    session.delete(users.get_organization(session, organization_id))
    session.flush()


# --- departments --------------------------------------------------------------------------------


def create_department(session: Session, actor: Actor, *, slug: str, name: str) -> Department:
    require(actor, Permission.ADMIN_DIRECTORY)
    return users.create_department(session, slug=slug, name=name)


def update_department(
    session: Session,
    actor: Actor,
    department_id: int,
    *,
    slug: str | None,
    name: str | None,
    is_active: bool | None,
) -> Department:
    require(actor, Permission.ADMIN_DIRECTORY)
    department = users.get_department(session, department_id)
    if slug is not None and slug.lower() != department.slug:
        if session.scalar(select(Department.id).where(Department.slug == slug.lower())):
            raise DepartmentSlugTaken("A department with this slug exists.", details={"slug": slug})
        department.slug = slug.lower()
    if name is not None:
        department.name = name
    if is_active is not None:
        department.is_active = is_active
    session.flush()
    return department


def delete_department(session: Session, actor: Actor, department_id: int) -> None:
    """Only an empty department can go; one that holds tickets is refused (deactivate it instead)."""
    require(actor, Permission.ADMIN_DIRECTORY)
    department = users.get_department(session, department_id)
    try:
        with session.begin_nested():
            session.delete(department)
            session.flush()
    except IntegrityError as error:
        raise DepartmentInUse(
            "This department still has tickets. Move them, or deactivate the department instead.",
            details={"departmentId": department_id},
        ) from error


def list_departments(session: Session, actor: Actor) -> list[tuple[Department, int]]:
    """Every department, inactive ones too, with how many staff members it has."""
    require(actor, Permission.ADMIN_DIRECTORY)
    rows = session.execute(
        select(Department, func.count(department_members.c.user_id))
        .outerjoin(department_members, department_members.c.department_id == Department.id)
        .group_by(Department.id)
        .order_by(Department.name)
    ).all()
    return [(department, int(members)) for department, members in rows]


# --- what the user forms offer ------------------------------------------------------------------


@dataclass(frozen=True)
class UserChoices:
    departments: list[Department]
    organizations: list[Organization]


def user_choices(session: Session, actor: Actor) -> UserChoices:
    """The departments (inactive too: a user may still belong to one) and organizations a user
    can be put in."""
    require(actor, Permission.ADMIN_USERS)
    return UserChoices(
        departments=users.list_departments(session, include_inactive=True),
        organizations=list(session.scalars(select(Organization).order_by(Organization.name))),
    )
