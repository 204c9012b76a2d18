"""The account events, as jobs (see `jobs.events`): the requests whose mail a job sends, so that
neither the answer nor its timing tells whether an account exists (`auth.mail`)."""

from __future__ import annotations

from typing import TypedDict

from ticketry.jobs.events import Event


class PasswordResetRequested(TypedDict):
    email: str


class SignupRequested(TypedDict):
    signup_id: int


PASSWORD_RESET_REQUESTED = Event("auth.password_reset_requested", PasswordResetRequested)
SIGNUP_REQUESTED = Event("auth.signup_requested", SignupRequested)
