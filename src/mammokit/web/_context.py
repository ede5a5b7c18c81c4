"""Everything a request handler needs, built once per app, plus the auth helpers."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .. import constants
from ._analysis import ModelService
from ._db import ApiToken, AuditEvent, User, WebSession, utcnow
from ._security import CookieSigner, token_digest
from ._settings import WebSettings
from ._store import FileStore

SESSION_COOKIE = "mammokit_session"
LOGIN_CSRF_COOKIE = "mammokit_login_csrf"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class AppContext:
    settings: WebSettings
    factory: sessionmaker
    secret: str
    session_signer: CookieSigner
    csrf_signer: CookieSigner
    templates: Jinja2Templates
    store: FileStore
    model: ModelService

    def render(self, request: Request, name: str, status_code: int = 200, **context):
        context.setdefault("disclaimer", constants.RESEARCH_DISCLAIMER)
        context.setdefault("user", None)
        context.setdefault("csrf_token", "")
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def audit(db: Session, event: str, request: Request | None, user: User | None = None,
          username: str | None = None, detail: str = "") -> None:
    db.add(AuditEvent(event=event, user_id=user.id if user else None,
                      username=(user.name if user else (username or ""))[:64],
                      address=client_address(request) if request else "", detail=detail[:2000]))


def session_from_cookie(ctx: AppContext, db: Session, request: Request) -> WebSession | None:
    raw = ctx.session_signer.unsign(request.cookies.get(SESSION_COOKIE))
    if not raw:
        return None
    ws = db.scalar(select(WebSession).where(WebSession.token_hash == token_digest(raw)))
    now = utcnow()
    if ws is None or ws.expires_at < now or not ws.user.active:
        return None
    # Idle timeout: each use moves the expiry to now + idle, never past the absolute lifetime. Written
    # only when it moves by a tenth of the idle time or more, so that a busy page costs few writes.
    idle = session_idle(ctx)
    slid = min(ws.created_at + session_lifetime(ctx), now + idle)
    if slid - ws.expires_at >= idle / 10:
        ws.expires_at = slid
        db.commit()
    return ws


def user_from_bearer(db: Session, request: Request) -> User | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token.strip())))
    if row is None or not row.user.active:
        return None
    return row.user


def session_lifetime(ctx: AppContext) -> dt.timedelta:
    return dt.timedelta(hours=ctx.settings.session_hours)


def session_idle(ctx: AppContext) -> dt.timedelta:
    return dt.timedelta(minutes=ctx.settings.session_idle_minutes)
