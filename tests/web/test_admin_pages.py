"""The admin area in the browser (issue: admin): plain forms that POST and redirect with a flash,
refusals for everyone but admins, the runtime settings, the dashboard's charts and tables, and
escaping of every name an admin can type."""

from __future__ import annotations

import html
import re
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    PASSWORD,
    make_admin,
    make_agent,
    make_customer,
    make_organization,
    make_ticket,
    make_user,
    set_status,
)

from ticketry.core.db import Database
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Category, Priority
from ticketry.users import service as user_service
from ticketry.users.models import Department, Organization, Role, User

T = TypeVar("T")
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A signed-in browser: the test client's cookie jar plus the session's CSRF token."""

    def __init__(self, client: TestClient, email: str, password: str = PASSWORD) -> None:
        self.client = client
        client.cookies.clear()
        login = client.get("/login")
        match = FORM_TOKEN.search(login.text)
        assert match, login.text
        signed_in = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": match.group(1)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        page = client.get("/account/password")
        meta = CSRF_META.search(page.text)
        assert meta, page.text
        self.csrf = meta.group(1)

    def get(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.text

    def post(self, path: str, data: dict[str, object], *, back: str | None = None) -> str:
        """Submit a form as a browser would; return the page the redirect lands on."""
        headers = {"referer": f"http://testserver{back}"} if back else {}
        response = self.client.post(
            path, data={**data, "csrf_token": self.csrf}, headers=headers, follow_redirects=False
        )
        assert response.status_code == 303, (path, response.status_code, response.text[:500])
        landed = self.client.get(response.headers["location"])
        assert landed.status_code == 200, landed.text[:500]
        return landed.text


def flash(page: str) -> str:
    match = re.search(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', page, re.S)
    assert match, "no flash message on the page"
    return f"{match.group(1)}: {html.unescape(match.group(2))}"


def department_id(db: Database, slug: str) -> int:
    with db.unit_of_work() as session:
        return user_service.find_department(session, slug).id


def row(db: Database, model: type[T], **where: object) -> T | None:
    """The first row of `model` matching `where`, read in its own unit of work."""
    with db.unit_of_work() as session:
        return session.scalars(select(model).filter_by(**where)).first()


ADMIN_PAGES = [
    "/admin",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{user_id}",
    "/admin/organizations",
    "/admin/departments",
    "/admin/categories",
    "/admin/settings",
]


class TestAccess:
    @pytest.mark.parametrize("role", [Role.AGENT, Role.CUSTOMER])
    def test_every_admin_page_is_forbidden_to_agents_and_customers(
        self, client: TestClient, db: Database, role: Role
    ) -> None:
        someone = make_user(db, role=role)
        browser = Browser(client, someone.email)
        for path in ADMIN_PAGES:
            response = browser.client.get(path.format(user_id=someone.id))
            assert response.status_code == 403, path
            assert "Not allowed" in response.text

    def test_admin_sees_every_page_and_the_admin_link(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        browser = Browser(client, admin.email)
        for path in ADMIN_PAGES:
            page = browser.get(path.format(user_id=admin.id))
            assert 'aria-label="Administration"' in page
        assert '<a href="/admin"' in browser.get("/desk")

    def test_agent_desk_has_no_admin_link(self, client: TestClient, db: Database) -> None:
        assert '<a href="/admin"' not in Browser(client, make_agent(db).email).get("/desk")

    def test_signed_out_visitor_is_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get("/admin/users", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/admin/users"

    def test_agent_form_post_is_refused_and_changes_nothing(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_agent(db).email)
        page = browser.post("/admin/departments", {"name": "Returns", "slug": "returns"}, back="/desk")
        assert flash(page) == (
            "error: You are not allowed to manage organizations, departments and categories. "
            "Ask an admin if you need to."
        )
        assert row(db, Department, slug="returns") is None

    def test_form_without_csrf_token_is_refused(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        response = browser.client.post(
            "/admin/organizations", data={"name": "Forged"}, follow_redirects=False
        )
        assert response.status_code == 303
        assert row(db, Organization, name="Forged") is None


class TestUsers:
    def test_admin_creates_an_agent_with_departments(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        organization = make_organization(db, shared=False)
        technical, billing = department_id(db, "technical"), department_id(db, "billing")

        page = browser.post(
            "/admin/users",
            {
                "email": "New.Agent@Example.com",
                "name": "  Nora   Agent ",
                "role": "agent",
                "password": "a long enough password",
                "departments": [technical, billing],
                "organization": str(organization),
            },
        )

        assert flash(page) == "success: Nora Agent (agent) was created."
        with db.unit_of_work() as session:
            created = user_service.find_user_by_email(session, "new.agent@example.com")
            assert created is not None
            user = user_service.get_user(session, created.id)
            assert user.role is Role.AGENT
            assert user.organization_id == organization
            assert sorted(d.slug for d in user.departments) == ["billing", "technical"]
        assert f'value="{technical}" checked' in page and f'value="{billing}" checked' in page
        # The new agent can sign in with the password the admin set, and lands on the desk.
        assert "My queue" in Browser(client, "new.agent@example.com", "a long enough password").get("/desk")

    def test_create_with_a_taken_email_comes_back_with_the_reason(
        self, client: TestClient, db: Database
    ) -> None:
        agent = make_agent(db)
        browser = Browser(client, make_admin(db).email)
        page = browser.post(
            "/admin/users",
            {"email": agent.email, "name": "Twin", "role": "agent"},
            back="/admin/users/new",
        )
        assert flash(page) == "error: A user with this e-mail address already exists."
        assert "Add a user" in page

    def test_list_searches_and_filters_by_role(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        make_user(db, role=Role.AGENT, name="Zelda Support")
        make_user(db, role=Role.CUSTOMER, name="Zelda Customer")

        page = browser.get("/admin/users?q=zelda&role=agent")

        assert "Zelda Support" in page and "Zelda Customer" not in page
        assert re.search(r'id="user-count" class="result-count" aria-live="polite">1 user found', page)
        everyone = browser.get("/admin/users?q=zelda&role=")
        assert "Zelda Support" in everyone and "Zelda Customer" in everyone

    def test_edit_role_departments_and_organization(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        customer = make_customer(db)
        organization = make_organization(db, shared=True)
        sales = department_id(db, "sales")

        page = browser.post(
            f"/admin/users/{customer.id}",
            {
                "email": customer.email,
                "name": "Promoted",
                "role": "agent",
                "departments": [sales],
                "organization": str(organization),
            },
        )

        assert flash(page) == "success: Promoted was saved."
        with db.unit_of_work() as session:
            user = user_service.get_user(session, customer.id)
            assert (user.role, user.name, user.organization_id) == (Role.AGENT, "Promoted", organization)
            assert [d.slug for d in user.departments] == ["sales"]
        browser.post(
            f"/admin/users/{customer.id}",
            {"email": customer.email, "name": "Promoted", "role": "agent", "organization": ""},
        )
        with db.unit_of_work() as session:
            user = user_service.get_user(session, customer.id)
            assert (user.organization_id, user.departments) == (None, [])

    def test_disabling_a_user_revokes_their_token_for_good(self, client: TestClient, db: Database) -> None:
        """Enabling them again revives no old session or token (issue 12 item 5): they sign in anew."""
        agent = make_agent(db)
        browser = Browser(client, make_admin(db).email)
        assert client.get("/api/v1/users/me", headers=agent.headers).status_code == 200

        page = browser.post(f"/admin/users/{agent.id}/active", {"active": "false"})

        assert "is disabled" in flash(page)
        assert "Enable user" in page
        assert client.get("/api/v1/users/me", headers=agent.headers).status_code == 401
        page = browser.post(f"/admin/users/{agent.id}/active", {"active": "true"})
        assert "can sign in again" in flash(page)
        assert client.get("/api/v1/users/me", headers=agent.headers).status_code == 401
        login = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
        assert login.status_code == 200

    def test_admin_cannot_disable_themself(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        browser = Browser(client, admin.email)
        page = browser.post(
            f"/admin/users/{admin.id}/active", {"active": "false"}, back=f"/admin/users/{admin.id}"
        )
        assert flash(page) == "error: You cannot demote or disable yourself; ask another admin."
        assert getattr(row(db, User, id=admin.id), "is_active", None) is True

    def test_reset_password(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        browser = Browser(client, make_admin(db).email)
        page = browser.post(f"/admin/users/{customer.id}/password", {"password": "brand new secret"})
        assert flash(page).startswith("success: The password of")
        assert "My tickets" in Browser(client, customer.email, "brand new secret").get("/")

    def test_too_short_password_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        browser = Browser(client, make_admin(db).email)
        page = browser.post(
            f"/admin/users/{customer.id}/password", {"password": "short"}, back=f"/admin/users/{customer.id}"
        )
        assert flash(page).startswith("error:")


class TestOrganizations:
    def test_create_rename_share_and_delete(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)

        page = browser.post("/admin/organizations", {"name": "Initech"})
        assert flash(page) == "success: Organization Initech was created."
        organization = row(db, Organization, name="Initech")
        assert isinstance(organization, Organization) and organization.shared is False

        page = browser.post(f"/admin/organizations/{organization.id}", {"name": "Initrode", "shared": "true"})
        assert flash(page) == "success: Organization Initrode was saved."
        renamed = row(db, Organization, id=organization.id)
        assert isinstance(renamed, Organization) and (renamed.name, renamed.shared) == ("Initrode", True)

        page = browser.post(f"/admin/organizations/{organization.id}/delete", {})
        assert "was deleted" in flash(page)
        assert row(db, Organization, id=organization.id) is None
        assert re.search(r'aria-live="polite">0 organizations<', page)

    def test_duplicate_name_is_refused(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        browser.post("/admin/organizations", {"name": "Umbrella"})
        page = browser.post("/admin/organizations", {"name": "umbrella"}, back="/admin/organizations")
        assert flash(page) == "error: An organization with this name exists."


class TestDepartments:
    def test_create_rename_deactivate_and_delete(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)

        page = browser.post("/admin/departments", {"name": "Returns", "slug": "returns"})
        assert flash(page) == "success: Department Returns was created."
        department = row(db, Department, slug="returns")
        assert isinstance(department, Department)

        browser.post(f"/admin/departments/{department.id}", {"name": "Refunds", "slug": "refunds"})
        page = browser.post(f"/admin/departments/{department.id}/active", {"active": "false"})
        assert "deactivated" in flash(page)
        changed = row(db, Department, id=department.id)
        assert isinstance(changed, Department)
        assert (changed.name, changed.slug, changed.is_active) == ("Refunds", "refunds", False)
        assert 'aria-label="Activate department Refunds"' in page

        page = browser.post(f"/admin/departments/{department.id}/delete", {})
        assert flash(page) == "success: The department was deleted."
        assert row(db, Department, id=department.id) is None

    def test_deleting_a_department_with_tickets_is_refused_with_the_reason(
        self, client: TestClient, db: Database
    ) -> None:
        make_ticket(db, make_customer(db), department="billing")
        browser = Browser(client, make_admin(db).email)
        billing = department_id(db, "billing")

        page = browser.post(f"/admin/departments/{billing}/delete", {}, back="/admin/departments")

        assert flash(page) == (
            "error: This department still has tickets. Move them, or deactivate the department instead."
        )
        assert '<h1 id="page-title">Departments</h1>' in page
        assert row(db, Department, id=billing) is not None

    def test_bad_slug_is_refused(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        page = browser.post(
            "/admin/departments", {"name": "X", "slug": "Not A Slug"}, back="/admin/departments"
        )
        assert flash(page) == "error: Please check: slug."


class TestCategories:
    def test_create_rename_deactivate_and_delete(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)

        page = browser.post("/admin/categories", {"name": "Refund", "description": "Money back"})
        assert flash(page) == "success: Category Refund was created."
        category = row(db, Category, name="Refund")
        assert isinstance(category, Category)

        browser.post(f"/admin/categories/{category.id}", {"name": "Refunds", "description": "All of them"})
        page = browser.post(f"/admin/categories/{category.id}/active", {"active": "false"})
        assert flash(page) == "success: Category Refunds is deactivated."
        changed = row(db, Category, id=category.id)
        assert isinstance(changed, Category)
        assert (changed.name, changed.description, changed.is_active) == ("Refunds", "All of them", False)
        assert 'value="Refunds"' in page  # inactive categories stay listed for the admin

        page = browser.post(f"/admin/categories/{category.id}/delete", {})
        assert "was deleted" in flash(page)
        assert row(db, Category, id=category.id) is None


class TestSettings:
    def test_changing_the_prefix_numbers_the_next_ticket_with_it(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        before = make_ticket(db, customer)
        browser = Browser(client, make_admin(db).email)

        page = browser.post("/admin/settings", {"ticket_prefix": "help", "allow_signup": "true"})

        assert flash(page) == "success: Settings saved: prefix HELP, sign-up open."
        assert 'value="HELP"' in page
        after = make_ticket(db, customer)
        assert before.number.startswith("TICK-")
        assert after.number.startswith("HELP-")
        assert after.number.split("-")[2] > before.number.split("-")[2]  # one sequence for all prefixes

    def test_an_invalid_prefix_is_refused(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        page = browser.post(
            "/admin/settings", {"ticket_prefix": "9-LIVES", "allow_signup": "true"}, back="/admin/settings"
        )
        assert flash(page).startswith("error: The ticket prefix must be 1 to 10 letters or digits")
        assert 'value="TICK"' in page

    def test_turning_sign_up_off_closes_the_sign_up_pages(self, client: TestClient, db: Database) -> None:
        assert client.get("/signup").status_code == 200
        assert 'href="/signup"' in client.get("/login").text
        browser = Browser(client, make_admin(db).email)

        page = browser.post("/admin/settings", {"ticket_prefix": "TICK"})

        assert flash(page) == "success: Settings saved: prefix TICK, sign-up closed."
        client.cookies.clear()
        closed = client.get("/signup", follow_redirects=False)
        assert (closed.status_code, closed.headers["location"]) == (303, "/login")
        login = client.get("/login")
        assert 'href="/signup"' not in login.text
        assert "Sign-up is turned off" in login.text
        token = FORM_TOKEN.search(client.get("/login").text)
        assert token
        refused = client.post(
            "/signup",
            data={
                "name": "Eve",
                "email": "eve@example.test",
                "password": "long enough pw",
                "csrf_token": token[1],
            },
            follow_redirects=False,
        )
        assert refused.status_code == 303
        assert "Sign-up is turned off" in client.get(refused.headers["location"]).text
        assert row(db, User, email="eve@example.test") is None


def numbers(page: str, caption: str) -> dict[str, str]:
    """The rows of the data table whose caption is `caption`: first column -> other columns."""
    start = page.index(f'<caption class="visually-hidden">{caption}</caption>')
    table = page[start : page.index("</tbody>", start)]
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", table, re.S)
    return {
        html.unescape(re.sub(r"<[^>]+>", "", head)): " ".join(
            re.findall(r'<td class="num">(.*?)</td>', cells)
        )
        for head, cells in rows
    }


class TestDashboard:
    def test_charts_and_tables_show_the_numbers(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db, departments=("technical",))
        customer = make_customer(db)
        first = make_ticket(db, customer, department="technical", priority=Priority.HIGH)
        make_ticket(db, customer, department="technical", priority=Priority.HIGH)
        make_ticket(db, customer, department="billing", priority=Priority.LOW)
        solved = make_ticket(db, customer, department="sales")
        with db.unit_of_work() as session:
            ticket_service.assign_ticket(session, admin.actor, first.id, assignee_id=agent.id)
        set_status(db, admin, solved.id, "in_progress")
        set_status(db, admin, solved.id, "resolved")

        page = Browser(client, admin.email).get("/admin")

        assert page.count('role="img"') == 6
        assert page.count("<svg") == 6
        assert 'aria-label="Open tickets by department: Billing 1, General 0, Sales 0, Technical 2."' in page
        assert numbers(page, "Open tickets by department") == {
            "Billing": "1",
            "General": "0",
            "Sales": "0",
            "Technical": "2",
        }
        assert numbers(page, "Open tickets by status") == {
            "Open": "2",
            "Answered": "0",
            "Waiting for response": "0",
            "On hold": "0",
            "In progress": "1",
        }
        assert numbers(page, "Open tickets by priority") == {
            "Low": "1",
            "Medium": "0",
            "High": "2",
            "Urgent": "0",
        }
        workload = numbers(page, "Open tickets per agent")
        assert workload[agent.actor.name] == "1"
        assert workload[admin.actor.name] == "0"
        trend = numbers(page, "Tickets created and resolved per day")
        assert len(trend) == 30
        assert list(trend.values())[-1] == "4 1"  # today: four created, one resolved
        assert re.search(
            r'<tfoot><tr><th scope="row">Total</th><td class="num">4</td><td class="num">1</td>', page
        )
        times = numbers(page, "Response and resolution times, last 30 days")
        assert times["Resolution"].startswith("1 ")  # one ticket resolved in the period
        assert re.search(r'<span class="stat-value">3</span> <span class="stat-label">open now', page)

    def test_period_can_be_chosen(self, client: TestClient, db: Database) -> None:
        page = Browser(client, make_admin(db).email).get("/admin?days=7")
        assert len(numbers(page, "Tickets created and resolved per day")) == 7
        assert '<option value="7" selected>' in page

    def test_out_of_range_period_is_refused(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_admin(db).email)
        assert browser.client.get("/admin?days=0").status_code == 422
        assert browser.client.get("/admin?days=9999").status_code == 422


class TestEscaping:
    def test_names_with_markup_render_as_text_everywhere(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        browser = Browser(client, admin.email)
        browser.post("/admin/departments", {"name": XSS, "slug": "xss"})
        browser.post("/admin/organizations", {"name": XSS})
        browser.post("/admin/categories", {"name": XSS[:100]})
        browser.post("/admin/users", {"email": "xss@example.com", "name": XSS, "role": "agent"})
        with db.unit_of_work() as session:
            xss_user = user_service.find_user_by_email(session, "xss@example.com")
            assert xss_user is not None
            xss_user_id = xss_user.id
        customer = make_customer(db)
        make_ticket(db, customer, department="xss")

        pages = {
            path: browser.get(path)
            for path in (
                "/admin",
                "/admin/users",
                f"/admin/users/{xss_user_id}",
                "/admin/users/new",
                "/admin/organizations",
                "/admin/departments",
                "/admin/categories",
            )
        }

        for path, page in pages.items():
            assert "<script>alert(1)" not in page, path
            assert "<img src=x" not in page, path
            assert '"><img' not in page, path
        dashboard = pages["/admin"]
        svg = dashboard[dashboard.index('aria-label="Open tickets by department') :]
        svg = svg[: svg.index("</svg>")]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in svg
        assert "&lt;script&gt;alert(1)&lt;/scr…" in svg  # the axis label, shortened
        assert numbers(dashboard, "Open tickets by department")[XSS] == "1"
        assert numbers(dashboard, "Open tickets per agent")[XSS] == "0"
