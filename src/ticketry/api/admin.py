"""Admin CRUD: users, organizations, departments, categories, site settings, and the job queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ticketry.auth import directory
from ticketry.auth.actor import require
from ticketry.auth.permissions import Permission
from ticketry.core.pagination import ListPage, PaginationView, pagination_view
from ticketry.core.schemas import Schema
from ticketry.http.deps import CurrentActor, DbSession, Paging, PathId, credential_secret
from ticketry.jobs import service as job_service
from ticketry.jobs.models import JobStatus
from ticketry.jobs.schemas import JobView
from ticketry.sitesettings import service as site_settings
from ticketry.sitesettings.schemas import SiteSettingsUpdate, SiteSettingsView
from ticketry.sitesettings.service import UNSET
from ticketry.tickets import service as ticket_service
from ticketry.tickets.schemas import CategoryCreate, CategoryUpdate, CategoryView
from ticketry.users import service as user_service
from ticketry.users.models import Role
from ticketry.users.schemas import (
    DepartmentCreate,
    DepartmentUpdate,
    DepartmentView,
    OrganizationCreate,
    OrganizationUpdate,
    OrganizationView,
    UserCreate,
    UserUpdate,
    UserView,
)

router = APIRouter(tags=["admin"])


class UserPage(Schema):
    data: list[UserView]
    pagination: PaginationView


class JobPage(Schema):
    data: list[JobView]
    pagination: PaginationView
    counts: dict[str, int]


# --- users --------------------------------------------------------------------------------------


@router.get("/users", response_model=UserPage)
def list_users(
    session: DbSession,
    actor: CurrentActor,
    paging: Paging,
    role: Role | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> UserPage:
    page = directory.list_users(session, actor, role=role, q=q, page=paging)
    return UserPage(data=[UserView.of(u) for u in page.items], pagination=pagination_view(page))


@router.post("/users", response_model=UserView, status_code=201)
def create_user(body: UserCreate, session: DbSession, actor: CurrentActor) -> UserView:
    user = directory.create_user(
        session,
        actor,
        email=str(body.email),
        name=body.name,
        role=body.role,
        password=body.password,
        organization_id=body.organization_id,
        department_ids=body.department_ids,
    )
    return UserView.of(user_service.get_user(session, user.id))


@router.get("/users/{user_id}", response_model=UserView)
def get_user(user_id: PathId, session: DbSession, actor: CurrentActor) -> UserView:
    return UserView.of(directory.get_user(session, actor, user_id))


@router.patch("/users/{user_id}", response_model=UserView)
def update_user(
    user_id: PathId, body: UserUpdate, request: Request, session: DbSession, actor: CurrentActor
) -> UserView:
    """A new `password`, `email` or `role`, or `isActive: false`, revokes every session, API token
    and mailed link of the user, for good (admins changing themselves keep this request's)."""
    user = directory.update_user(
        session,
        actor,
        user_id,
        provided=frozenset(body.model_fields_set),
        email=str(body.email) if body.email else None,
        name=body.name,
        role=body.role,
        password=body.password,
        organization_id=body.organization_id,
        department_ids=body.department_ids,
        is_active=body.is_active,
        keep_secret=credential_secret(request),
    )
    return UserView.of(user_service.get_user(session, user.id))


@router.delete("/users/{user_id}", status_code=204)
def deactivate_user(user_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    """Users are deactivated, never erased: their tickets and messages keep an author. Their
    sessions, API tokens and mailed links are revoked for good."""
    directory.deactivate_user(session, actor, user_id)
    return Response(status_code=204)


# --- organizations ------------------------------------------------------------------------------


@router.get("/organizations", response_model=ListPage[OrganizationView])
def list_organizations(session: DbSession, actor: CurrentActor) -> ListPage[OrganizationView]:
    organizations = directory.list_organizations(session, actor)
    return ListPage[OrganizationView].of([OrganizationView.model_validate(o) for o in organizations])


@router.post("/organizations", response_model=OrganizationView, status_code=201)
def create_organization(
    body: OrganizationCreate, session: DbSession, actor: CurrentActor
) -> OrganizationView:
    organization = directory.create_organization(session, actor, name=body.name, shared=body.shared)
    return OrganizationView.model_validate(organization)


@router.get("/organizations/{organization_id}", response_model=OrganizationView)
def get_organization(organization_id: PathId, session: DbSession, actor: CurrentActor) -> OrganizationView:
    require(actor, Permission.ADMIN_DIRECTORY)
    return OrganizationView.model_validate(user_service.get_organization(session, organization_id))


@router.patch("/organizations/{organization_id}", response_model=OrganizationView)
def update_organization(
    organization_id: PathId, body: OrganizationUpdate, session: DbSession, actor: CurrentActor
) -> OrganizationView:
    organization = directory.update_organization(
        session, actor, organization_id, name=body.name, shared=body.shared
    )
    return OrganizationView.model_validate(organization)


@router.delete("/organizations/{organization_id}", status_code=204)
def delete_organization(organization_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    directory.delete_organization(session, actor, organization_id)
    return Response(status_code=204)


# --- departments (reading them is in meta.py) ---------------------------------------------------


@router.post("/departments", response_model=DepartmentView, status_code=201)
def create_department(body: DepartmentCreate, session: DbSession, actor: CurrentActor) -> DepartmentView:
    return DepartmentView.model_validate(
        directory.create_department(session, actor, slug=body.slug, name=body.name)
    )


@router.patch("/departments/{department_id}", response_model=DepartmentView)
def update_department(
    department_id: PathId, body: DepartmentUpdate, session: DbSession, actor: CurrentActor
) -> DepartmentView:
    department = directory.update_department(
        session, actor, department_id, slug=body.slug, name=body.name, is_active=body.is_active
    )
    return DepartmentView.model_validate(department)


@router.delete("/departments/{department_id}", status_code=204)
def delete_department(department_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    directory.delete_department(session, actor, department_id)
    return Response(status_code=204)


# --- categories ---------------------------------------------------------------------------------


@router.post("/categories", response_model=CategoryView, status_code=201)
def create_category(body: CategoryCreate, session: DbSession, actor: CurrentActor) -> CategoryView:
    category = ticket_service.create_category(session, actor, name=body.name, description=body.description)
    return CategoryView.model_validate(category)


@router.patch("/categories/{category_id}", response_model=CategoryView)
def update_category(
    category_id: PathId, body: CategoryUpdate, session: DbSession, actor: CurrentActor
) -> CategoryView:
    category = ticket_service.update_category(
        session, actor, category_id, name=body.name, description=body.description, is_active=body.is_active
    )
    return CategoryView.model_validate(category)


@router.delete("/categories/{category_id}", status_code=204)
def delete_category(category_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    ticket_service.delete_category(session, actor, category_id)
    return Response(status_code=204)


# --- site settings ------------------------------------------------------------------------------


@router.get("/admin/settings", response_model=SiteSettingsView)
def get_site_settings(session: DbSession, actor: CurrentActor) -> SiteSettingsView:
    return SiteSettingsView.model_validate(site_settings.read(session, actor))


@router.patch("/admin/settings", response_model=SiteSettingsView)
def update_site_settings(
    body: SiteSettingsUpdate, session: DbSession, actor: CurrentActor
) -> SiteSettingsView:
    saved = site_settings.update(
        session,
        actor,
        ticket_prefix=body.ticket_prefix,
        allow_signup=body.allow_signup,
        agents_create_tags=body.agents_create_tags,
        attachment_retention_days=body.attachment_retention_days,
        mail_deny_senders=body.mail_deny_senders,
        mail_allow_senders=body.mail_allow_senders,
        # Absent keeps the threshold; an explicit null turns it off.
        mail_spam_score=body.mail_spam_score if "mail_spam_score" in body.model_fields_set else UNSET,
    )
    return SiteSettingsView.model_validate(saved)


# --- jobs ---------------------------------------------------------------------------------------


@router.get("/admin/jobs", response_model=JobPage)
def list_jobs(
    session: DbSession,
    actor: CurrentActor,
    paging: Paging,
    status: Annotated[JobStatus | None, Query(description="Default: dead jobs.")] = JobStatus.DEAD,
) -> JobPage:
    require(actor, Permission.ADMIN_JOBS)
    page = job_service.list_jobs(session, status=status, page=paging)
    return JobPage(
        data=[JobView.model_validate(j) for j in page.items],
        pagination=pagination_view(page),
        counts=job_service.counts_by_status(session),
    )


@router.post("/admin/jobs/{job_id}/retry", response_model=JobView)
def retry_job(job_id: PathId, session: DbSession, actor: CurrentActor) -> JobView:
    require(actor, Permission.ADMIN_JOBS)
    return JobView.model_validate(job_service.retry_job(session, job_id))
