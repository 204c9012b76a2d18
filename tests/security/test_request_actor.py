"""The actor a request runs as (issue 13): read with the credential in one query (departments and
the organization's sharing flag as columns of the token's or the session's row), it must be the
actor `actor_for` builds from the user, for every kind of user, after changes to them too."""

from __future__ import annotations

from sqlalchemy import delete, update

from tests.factories import Persona, make_admin, make_agent, make_customer, make_organization
from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.users.models import Organization, User, department_members


def from_credentials(db: Database, persona: Persona) -> tuple[Actor, Actor]:
    """The actor behind the persona's token, and behind a fresh browser session of theirs."""
    with db.unit_of_work() as session:
        user = session.get(User, persona.id)
        assert user is not None
        cookie = auth_service.start_web_session(session, user).secret
    with db.unit_of_work(write=False) as session:
        grant = auth_service.token_grant(session, persona.token)
        browser = auth_service.web_session_for(session, cookie)
    assert grant is not None and browser is not None
    return grant.actor, browser.actor


def built(db: Database, persona: Persona) -> Actor:
    with db.unit_of_work(write=False) as session:
        user = session.get(User, persona.id)
        assert user is not None
        return auth_service.actor_for(session, user)


def test_every_kind_of_user_gets_the_actor_actor_for_builds(db: Database) -> None:
    shared, private = make_organization(db, shared=True), make_organization(db, shared=False)
    people = [
        make_agent(db, departments=("technical", "billing")),
        make_agent(db, departments=()),
        make_admin(db),
        make_customer(db),
        make_customer(db, organization_id=shared),
        make_customer(db, organization_id=private),
    ]
    for persona in people:
        token_actor, session_actor = from_credentials(db, persona)
        assert token_actor == built(db, persona) == session_actor, persona.email
    two_departments = from_credentials(db, people[0])[0].department_ids
    assert len(two_departments) == 2
    assert from_credentials(db, people[4])[0].organization_shared is True
    assert from_credentials(db, people[5])[0].organization_shared is False


def test_a_change_shows_in_the_next_request(db: Database) -> None:
    agent = make_agent(db, departments=("technical", "billing"))
    organization = make_organization(db, shared=True)
    customer = make_customer(db, organization_id=organization)
    with db.unit_of_work() as session:
        session.execute(delete(department_members).where(department_members.c.user_id == agent.id))
        session.execute(update(Organization).where(Organization.id == organization).values(shared=False))
    assert from_credentials(db, agent)[0].department_ids == frozenset()
    assert from_credentials(db, customer)[0].organization_shared is False
