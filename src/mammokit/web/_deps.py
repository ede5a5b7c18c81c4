"""FastAPI dependencies shared by the route modules (_pages, _api): the database session, the logged-in
session or user, and the CSRF checks. Route modules take what they need from here, never from each other."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from ._auth import session_from_cookie, tokens_equal, user_from_bearer
from ._context import get_ctx
from ._db import User, WebSession


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to /login."""


class CsrfRejected(Exception):
    """A form without the session's CSRF token; the app answers 403."""


def get_db(request: Request):
    with get_ctx(request).factory() as db:
        yield db


DB = Annotated[Session, Depends(get_db)]


def current_session(request: Request, db: Session) -> WebSession | None:
    """The request's live browser session (its expiry slid), or None."""
    ctx = get_ctx(request)
    return session_from_cookie(ctx.session_signer, ctx.settings, db, request)


def page_session(request: Request, db: DB) -> WebSession:
    ws = current_session(request, db)
    if ws is None:
        raise LoginRequired()
    return ws


PageSession = Annotated[WebSession, Depends(page_session)]


def check_csrf(ws: WebSession, token: str | None) -> None:
    """A form's CSRF token must be its session's; CsrfRejected (403) otherwise."""
    if not tokens_equal(ws.csrf_token, token):
        raise CsrfRejected()


def api_user(request: Request, db: DB) -> User:
    """The API caller: a bearer token, or a browser session plus an X-CSRF-Token header on anything but a read."""
    user = user_from_bearer(db, request)
    if user is not None:
        return user
    ws = current_session(request, db)
    if ws is None:
        raise HTTPException(401, "login or an API token (Authorization: Bearer ...) required",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD", "OPTIONS") and not tokens_equal(
            ws.csrf_token, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "CSRF token missing or wrong (send the X-CSRF-Token header)")
    return ws.user


ApiUser = Annotated[User, Depends(api_user)]
