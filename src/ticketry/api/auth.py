"""Signing in and out, the current user, their password, personal API tokens and browser
sessions."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import Field

from ticketry.auth import mail as account_mail
from ticketry.auth import service as auth_service
from ticketry.auth.models import TokenScope
from ticketry.core.pagination import ListPage
from ticketry.core.schemas import Input, Schema
from ticketry.http.deps import CurrentActor, DbSession, PathId, client_ip, credential_secret
from ticketry.users import service as user_service
from ticketry.users.schemas import UserView

router = APIRouter(tags=["auth"])


class LoginIn(Input):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


class LoginOut(Schema):
    token: str = Field(description="A personal API token; send it as 'Authorization: Bearer <token>'.")
    user: UserView


class PasswordResetRequest(Input):
    email: str = Field(min_length=1, max_length=254)


class PasswordResetConfirm(Input):
    token: str = Field(min_length=1, max_length=account_mail.MAX_TOKEN_LENGTH)
    password: str = Field(min_length=1, max_length=1000)


class EmailVerification(Input):
    token: str = Field(min_length=1, max_length=account_mail.MAX_TOKEN_LENGTH)


class TokenView(Schema):
    id: int
    name: str
    prefix: str
    scope: TokenScope = Field(
        description="`read`: GET, HEAD and OPTIONS only; `full`: everything the user may do."
    )
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


MAX_TOKEN_DAYS = 3650


class TokenCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    scope: TokenScope = TokenScope.FULL
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TOKEN_DAYS,
        description="The token stops working after this many days; none: never.",
    )


class TokenCreated(TokenView):
    token: str = Field(description="Shown only now; store it safely.")


class PasswordChange(Input):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


class SessionView(Schema):
    id: int
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    user_agent: str
    ip: str
    current: bool = Field(description="The session this request was made with.")


@router.post("/auth/login", response_model=LoginOut)
def login(body: LoginIn, request: Request, session: DbSession) -> LoginOut:
    result = auth_service.login(session, email=body.email, password=body.password, ip=client_ip(request))
    user = user_service.get_user(session, result.user.id)
    return LoginOut(token=result.token, user=UserView.of(user))


@router.post("/auth/logout", status_code=204)
def logout(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    secret = credential_secret(request)
    if secret is not None:
        auth_service.revoke_secret(session, secret)
    return Response(status_code=204)


@router.post("/auth/sign-out-everywhere", status_code=204)
def sign_out_everywhere(session: DbSession, actor: CurrentActor) -> Response:
    """Ends every browser session and revokes every API token of the caller, the one this
    request was made with too."""
    auth_service.sign_out_everywhere(session, actor)
    return Response(status_code=204)


@router.post("/auth/password-reset", status_code=202)
def request_password_reset(body: PasswordResetRequest, session: DbSession) -> Response:
    """Mails a reset link if an active account has this address; the answer is the same either way."""
    account_mail.request_password_reset(session, body.email)
    return Response(status_code=202)


@router.post("/auth/password-reset/confirm", status_code=204)
def confirm_password_reset(body: PasswordResetConfirm, session: DbSession) -> Response:
    """Sets the new password; every session and API token of the account is revoked."""
    account_mail.reset_password(session, body.token, new_password=body.password)
    return Response(status_code=204)


@router.post("/auth/verify-email", status_code=204)
def verify_email(body: EmailVerification, session: DbSession) -> Response:
    account_mail.verify_email(session, body.token)
    return Response(status_code=204)


@router.post("/users/me/verify-email", status_code=202)
def resend_verification(session: DbSession, actor: CurrentActor) -> Response:
    """Mails a new verification link (nothing when the address is verified, or past 3 an hour)."""
    account_mail.resend_verification(session, actor)
    return Response(status_code=202)


@router.get("/users/me", response_model=UserView)
def me(session: DbSession, actor: CurrentActor) -> UserView:
    return UserView.of(user_service.get_user(session, actor.user_id))


@router.post("/users/me/password", status_code=204)
def change_password(
    body: PasswordChange, request: Request, session: DbSession, actor: CurrentActor
) -> Response:
    """Needs the current password. Every other browser session, every other API token and every
    mailed link of the account is revoked; the session or token this request was made with stays."""
    auth_service.change_password(
        session,
        actor,
        current=body.current_password,
        new=body.new_password,
        keep_secret=credential_secret(request),
    )
    return Response(status_code=204)


@router.get("/users/me/sessions", response_model=ListPage[SessionView])
def list_sessions(request: Request, session: DbSession, actor: CurrentActor) -> ListPage[SessionView]:
    """Where the caller is signed in with a browser, most recently used first."""
    rows = auth_service.list_sessions(session, actor, current_secret=credential_secret(request))
    return ListPage[SessionView].of([SessionView.model_validate(row) for row in rows])


@router.delete("/users/me/sessions/{session_id}", status_code=204)
def revoke_session(session_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    auth_service.revoke_session(session, actor, session_id)
    return Response(status_code=204)


@router.get("/users/me/tokens", response_model=ListPage[TokenView])
def list_tokens(session: DbSession, actor: CurrentActor) -> ListPage[TokenView]:
    return ListPage[TokenView].of(
        [TokenView.model_validate(t) for t in auth_service.list_tokens(session, actor)]
    )


@router.post("/users/me/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, session: DbSession, actor: CurrentActor) -> TokenCreated:
    token, secret = auth_service.create_own_token(
        session, actor, name=body.name, scope=body.scope, expires_in_days=body.expires_in_days
    )
    return TokenCreated.model_validate({**TokenView.model_validate(token).model_dump(), "token": secret})


@router.delete("/users/me/tokens/{token_id}", status_code=204)
def revoke_token(token_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    auth_service.revoke_token(session, actor, token_id)
    return Response(status_code=204)
