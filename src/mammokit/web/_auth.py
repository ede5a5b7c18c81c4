"""Authentication: passwords (argon2), random tokens, signed cookies, and who a request's session cookie or
API token belongs to (failed-login throttling: _throttle.py; the FastAPI dependencies on top: _deps.py)."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Request
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ._db import ApiToken, User, WebSession, utcnow
from ._settings import WebSettings

SESSION_COOKIE = "mammokit_session"
LOGIN_CSRF_COOKIE = "mammokit_login_csrf"

_HASHER = PasswordHasher()
# Verified against when the user name is unknown, so both cases cost the same time.
_DUMMY_HASH = _HASHER.hash("not-a-real-password-" + secrets.token_hex(8))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class CookieSigner:
    """Signs cookie values with the server secret (itsdangerous) and checks their age."""

    def __init__(self, secret: str, salt: str, max_age_s: int):
        self._signer = TimestampSigner(secret, salt=salt)
        self.max_age_s = max_age_s

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode()

    def unsign(self, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            return self._signer.unsign(signed, max_age=self.max_age_s).decode()
        except (BadSignature, UnicodeDecodeError):
            return None


def is_https(request: Request) -> bool:
    """Whether cookies set on this request's answer are marked Secure."""
    return request.url.scheme == "https"


def session_lifetime(settings: WebSettings) -> dt.timedelta:
    return dt.timedelta(hours=settings.session_hours)


def session_idle(settings: WebSettings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.session_idle_minutes)


def session_from_cookie(signer: CookieSigner, settings: WebSettings, db: Session,
                        request: Request) -> WebSession | None:
    """The live session the request's (signed) session cookie names, its expiry slid; None when none."""
    raw = signer.unsign(request.cookies.get(SESSION_COOKIE))
    if not raw:
        return None
    ws = db.scalar(select(WebSession).where(WebSession.token_hash == token_digest(raw)))
    now = utcnow()
    if ws is None or ws.expires_at < now or not ws.user.active:
        return None
    # Idle timeout: each use moves the expiry to now + idle, never past the absolute lifetime. Written
    # only when it moves by a tenth of the idle time or more, so that a busy page costs few writes.
    idle = session_idle(settings)
    slid = min(ws.created_at + session_lifetime(settings), now + idle)
    if slid - ws.expires_at >= idle / 10:
        ws.expires_at = slid
        db.commit()
    return ws


def user_from_bearer(db: Session, request: Request) -> User | None:
    """The active user whose API token the request's `Authorization: Bearer` header carries; None otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token.strip())))
    if row is None or not row.user.active:
        return None
    return row.user


def request_user(signer: CookieSigner, settings: WebSettings, db: Session, request: Request) -> User | None:
    """The user of a request's API token or, failing that, its session cookie; None when neither is valid."""
    user = user_from_bearer(db, request)
    if user is None:
        ws = session_from_cookie(signer, settings, db, request)
        user = ws.user if ws is not None else None
    return user
