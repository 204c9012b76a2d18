"""The admin area (`/admin`): the dashboard, users, organizations, departments, categories and
site settings. Plain forms that POST and redirect with a flash; every page and action calls a
use case that checks the admin permission, so the refusals (403) come from the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.auth import directory
from ticketry.core.errors import ValidationFailed
from ticketry.core.pagination import PageRequest
from ticketry.core.schemas import MAX_ID
from ticketry.http.deps import DbSession, PathId
from ticketry.reports import dashboard as dashboard_service
from ticketry.sitesettings import service as site_settings
from ticketry.sitesettings.service import UNSET
from ticketry.tickets import service as ticket_service
from ticketry.users.models import Role
from ticketry.web.dashboard_charts import dashboard_charts
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(prefix="/admin", include_in_schema=False)

PERIODS = (7, 30, 90)
Name = Annotated[str, Form(min_length=1, max_length=200)]
OptionalId = Annotated[str, Form(max_length=10)]
# Only the shape: the API is strict about addresses; here an admin must be able to save a user
# whose address came in by e-mail from a domain the validator would not take (e.g. `.local`).
Email = Annotated[str, Form(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


def _done(target: str, text: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_flash(response, text)
    return response


def _optional_id(value: str) -> int | None:
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def _clean(value: str) -> str:
    """Names without stray whitespace; blank is not a name."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValidationFailed("Enter a name.")
    return cleaned


# --- dashboard ----------------------------------------------------------------------------------


@router.get("")
def dashboard(
    request: Request,
    session: DbSession,
    who: SignedIn,
    days: Annotated[int, Query(ge=1, le=dashboard_service.MAX_DAYS)] = 30,
) -> Response:
    board = dashboard_service.overview(session, who.actor, days=days)
    context = {"board": board, "charts": dashboard_charts(board), "periods": PERIODS, "section": "dashboard"}
    return render(request, "admin/dashboard.html", context, who=who)


# --- users --------------------------------------------------------------------------------------


@router.get("/users")
def users_page(
    request: Request,
    session: DbSession,
    who: SignedIn,
    q: Annotated[str, Query(max_length=200)] = "",
    role: Annotated[str, Query(pattern="^(customer|agent|admin)?$")] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    found = directory.list_users(
        session,
        who.actor,
        role=Role(role) if role else None,
        q=q.strip() or None,
        page=PageRequest(page=page, page_size=25),
    )
    context = {
        "page": found,
        "q": q,
        "role": Role(role) if role else None,
        "roles": list(Role),
        "org_names": {o.id: o.name for o in directory.user_choices(session, who.actor).organizations},
        "params": request.query_params,
        "section": "users",
    }
    return render(request, "admin/users.html", context, who=who)


@router.get("/users/new")
def new_user_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    context = {"choices": directory.user_choices(session, who.actor), "roles": list(Role), "section": "users"}
    return render(request, "admin/user_new.html", context, who=who)


@router.post("/users")
def create_user(
    session: DbSession,
    who: SignedIn,
    email: Email,
    name: Name,
    role: Annotated[Role, Form()] = Role.CUSTOMER,
    password: Annotated[str, Form(max_length=1000)] = "",
    organization: OptionalId = "",
    departments: Annotated[list[int] | None, Form(max_length=100)] = None,
) -> Response:
    user = directory.create_user(
        session,
        who.actor,
        email=email.strip(),
        name=_clean(name),
        role=role,
        password=password or None,
        organization_id=_optional_id(organization),
        department_ids=departments or [],
    )
    return _done(f"/admin/users/{user.id}", f"{user.name} ({user.role.value}) was created.")


@router.get("/users/{user_id}")
def user_page(request: Request, session: DbSession, who: SignedIn, user_id: PathId) -> Response:
    user = directory.get_user(session, who.actor, user_id)
    context = {
        "user": user,
        "choices": directory.user_choices(session, who.actor),
        "roles": list(Role),
        "section": "users",
    }
    return render(request, "admin/user_edit.html", context, who=who)


@router.post("/users/{user_id}")
def update_user(
    session: DbSession,
    who: SignedIn,
    user_id: PathId,
    email: Email,
    name: Name,
    role: Annotated[Role, Form()],
    organization: OptionalId = "",
    departments: Annotated[list[int] | None, Form(max_length=100)] = None,
) -> Response:
    user = directory.update_user(
        session,
        who.actor,
        user_id,
        provided=frozenset({"email", "name", "role", "organization_id", "department_ids"}),
        email=email.strip(),
        name=_clean(name),
        role=role,
        organization_id=_optional_id(organization),
        department_ids=departments or [],
        keep_secret=who.secret,
    )
    return _done(f"/admin/users/{user.id}", f"{user.name} was saved.")


@router.post("/users/{user_id}/active")
def set_user_active(
    session: DbSession, who: SignedIn, user_id: PathId, active: Annotated[bool, Form()]
) -> Response:
    user = directory.update_user(
        session, who.actor, user_id, provided=frozenset({"is_active"}), is_active=active
    )
    text = (
        "can sign in again (with a new sign-in: old sessions and API tokens stay revoked)"
        if active
        else "is disabled: their sessions and API tokens are revoked for good"
    )
    return _done(f"/admin/users/{user.id}", f"{user.name} {text}.")


@router.post("/users/{user_id}/password")
def reset_password(
    session: DbSession,
    who: SignedIn,
    user_id: PathId,
    password: Annotated[str, Form(min_length=1, max_length=1000)],
) -> Response:
    user = directory.update_user(
        session,
        who.actor,
        user_id,
        provided=frozenset({"password"}),
        password=password,
        keep_secret=who.secret,
    )
    return _done(
        f"/admin/users/{user.id}",
        f"The password of {user.name} was reset; they were signed out everywhere and their API tokens "
        "revoked.",
    )


# --- organizations ------------------------------------------------------------------------------


@router.get("/organizations")
def organizations_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    context = {"organizations": directory.list_organizations(session, who.actor), "section": "organizations"}
    return render(request, "admin/organizations.html", context, who=who)


@router.post("/organizations")
def create_organization(
    session: DbSession, who: SignedIn, name: Name, shared: Annotated[bool, Form()] = False
) -> Response:
    organization = directory.create_organization(session, who.actor, name=_clean(name), shared=shared)
    return _done("/admin/organizations", f"Organization {organization.name} was created.")


@router.post("/organizations/{organization_id}")
def update_organization(
    session: DbSession,
    who: SignedIn,
    organization_id: PathId,
    name: Name,
    shared: Annotated[bool, Form()] = False,
) -> Response:
    organization = directory.update_organization(
        session, who.actor, organization_id, name=_clean(name), shared=shared
    )
    return _done("/admin/organizations", f"Organization {organization.name} was saved.")


@router.post("/organizations/{organization_id}/delete")
def delete_organization(session: DbSession, who: SignedIn, organization_id: PathId) -> Response:
    directory.delete_organization(session, who.actor, organization_id)
    return _done("/admin/organizations", "The organization was deleted; its members stay, without it.")


# --- departments --------------------------------------------------------------------------------


@router.get("/departments")
def departments_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    context = {"departments": directory.list_departments(session, who.actor), "section": "departments"}
    return render(request, "admin/departments.html", context, who=who)


Slug = Annotated[str, Form(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
DepartmentName = Annotated[str, Form(min_length=1, max_length=100)]


@router.post("/departments")
def create_department(session: DbSession, who: SignedIn, slug: Slug, name: DepartmentName) -> Response:
    department = directory.create_department(session, who.actor, slug=slug, name=_clean(name))
    return _done("/admin/departments", f"Department {department.name} was created.")


@router.post("/departments/{department_id}")
def rename_department(
    session: DbSession, who: SignedIn, department_id: PathId, name: DepartmentName, slug: Slug
) -> Response:
    department = directory.update_department(
        session, who.actor, department_id, slug=slug, name=_clean(name), is_active=None
    )
    return _done("/admin/departments", f"Department {department.name} was saved.")


@router.post("/departments/{department_id}/active")
def set_department_active(
    session: DbSession, who: SignedIn, department_id: PathId, active: Annotated[bool, Form()]
) -> Response:
    department = directory.update_department(
        session, who.actor, department_id, slug=None, name=None, is_active=active
    )
    state = "active again" if active else "deactivated: new tickets cannot choose it"
    return _done("/admin/departments", f"Department {department.name} is {state}.")


@router.post("/departments/{department_id}/delete")
def delete_department(session: DbSession, who: SignedIn, department_id: PathId) -> Response:
    directory.delete_department(session, who.actor, department_id)
    return _done("/admin/departments", "The department was deleted.")


# --- categories ---------------------------------------------------------------------------------


@router.get("/categories")
def categories_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    context = {"categories": ticket_service.manage_categories(session, who.actor), "section": "categories"}
    return render(request, "admin/categories.html", context, who=who)


CategoryName = Annotated[str, Form(min_length=1, max_length=100)]
Description = Annotated[str, Form(max_length=2000)]


@router.post("/categories")
def create_category(
    session: DbSession, who: SignedIn, name: CategoryName, description: Description = ""
) -> Response:
    category = ticket_service.create_category(
        session, who.actor, name=_clean(name), description=description.strip()
    )
    return _done("/admin/categories", f"Category {category.name} was created.")


@router.post("/categories/{category_id}")
def update_category(
    session: DbSession,
    who: SignedIn,
    category_id: PathId,
    name: CategoryName,
    description: Description = "",
) -> Response:
    category = ticket_service.update_category(
        session, who.actor, category_id, name=_clean(name), description=description.strip(), is_active=None
    )
    return _done("/admin/categories", f"Category {category.name} was saved.")


@router.post("/categories/{category_id}/active")
def set_category_active(
    session: DbSession, who: SignedIn, category_id: PathId, active: Annotated[bool, Form()]
) -> Response:
    category = ticket_service.update_category(
        session, who.actor, category_id, name=None, description=None, is_active=active
    )
    state = "active again" if active else "deactivated"
    return _done("/admin/categories", f"Category {category.name} is {state}.")


@router.post("/categories/{category_id}/delete")
def delete_category(session: DbSession, who: SignedIn, category_id: PathId) -> Response:
    ticket_service.delete_category(session, who.actor, category_id)
    return _done("/admin/categories", "The category was deleted; its tickets keep no category.")


# --- settings -----------------------------------------------------------------------------------


def _spam_score(value: str | None) -> float | None:
    """An empty field turns the threshold off."""
    if value is None or not value.strip():
        return None
    try:
        return float(value.strip())
    except ValueError as error:
        raise ValidationFailed("The spam score must be a number, e.g. 5 or 7.5.") from error


@router.get("/settings")
def settings_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    context = {"settings": site_settings.read(session, who.actor), "section": "settings"}
    return render(request, "admin/settings.html", context, who=who)


@router.post("/settings")
def save_settings(
    session: DbSession,
    who: SignedIn,
    ticket_prefix: Annotated[str, Form(min_length=1, max_length=10)],
    allow_signup: Annotated[bool, Form()] = False,
    agents_create_tags: Annotated[bool, Form()] = False,
    attachment_retention_days: Annotated[int | None, Form(ge=0, le=36500)] = None,
    # The form's incoming-mail fields are there (FastAPI reads an empty field as a missing one,
    # and here empty means "clear the list" or "no spam threshold").
    incoming_mail: Annotated[bool, Form()] = False,
    mail_deny_senders: Annotated[str | None, Form(max_length=200_000)] = None,
    mail_allow_senders: Annotated[str | None, Form(max_length=200_000)] = None,
    mail_spam_score: Annotated[str | None, Form(max_length=30)] = None,
) -> Response:
    saved = site_settings.update(
        session,
        who.actor,
        ticket_prefix=ticket_prefix,
        allow_signup=allow_signup,
        agents_create_tags=agents_create_tags,
        attachment_retention_days=attachment_retention_days,
        mail_deny_senders=(mail_deny_senders or "") if incoming_mail else None,
        mail_allow_senders=(mail_allow_senders or "") if incoming_mail else None,
        mail_spam_score=_spam_score(mail_spam_score) if incoming_mail else UNSET,
    )
    signup = "open" if saved.allow_signup else "closed"
    return _done("/admin/settings", f"Settings saved: prefix {saved.ticket_prefix}, sign-up {signup}.")
