"""Who is signed in, for pages: the browser session behind the cookie, or a trip to /login."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from ticketry.http.deps import BrowserSession, DbSession, browser_session, sent_csrf


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-origin relative paths: `/desk?x=1` yes; `//evil`, `https://…`, `/\\evil` no."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ch in value for ch in ("\\", "\r", "\n", "\t")) or ":" in value.split("?", 1)[0]:
        return default
    return value


def optional_session(
    request: Request, session: DbSession, csrf: Annotated[str, Depends(sent_csrf)]
) -> BrowserSession | None:
    return browser_session(request, session, csrf)


async def required_session(  # async: no I/O, so no thread hop
    who: Annotated[BrowserSession | None, Depends(optional_session)], request: Request
) -> BrowserSession:
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    return who


MaybeSignedIn = Annotated[BrowserSession | None, Depends(optional_session)]
SignedIn = Annotated[BrowserSession, Depends(required_session)]
