"""User accounts: add, list, disable, API tokens. The CLI (`mammokit users`) is a thin shell over these."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigError, MammokitError
from ._auth import hash_password, new_token, token_digest
from ._db import ROLES, ApiToken, User, WebSession

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LEN = 10


class AccountError(MammokitError):
    """A user-management request that cannot be done (unknown user, duplicate name, weak password)."""


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: str
    active: bool
    created_at: str


def _check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise AccountError(f"user name {name!r} is invalid: use 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def _get(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise AccountError(f"no user named {name!r}")
    return user


def add_user(factory: sessionmaker, name: str, role: str, password: str) -> UserInfo:
    _check_name(name)
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
    with factory() as db:
        if db.scalar(select(User).where(User.name == name)) is not None:
            raise AccountError(f"a user named {name!r} already exists")
    if len(password or "") < MIN_PASSWORD_LEN:
        raise AccountError(f"password for {name!r} is too short: use at least {MIN_PASSWORD_LEN} characters")
    with factory.begin() as db:
        user = User(name=name, role=role, password_hash=hash_password(password), active=True)
        db.add(user)
        db.flush()
        return UserInfo(user.name, user.role, user.active, user.created_at.isoformat(timespec="seconds"))


def list_users(factory: sessionmaker) -> list[UserInfo]:
    with factory() as db:
        return [UserInfo(u.name, u.role, u.active, u.created_at.isoformat(timespec="seconds"))
                for u in db.scalars(select(User).order_by(User.name))]


def set_active(factory: sessionmaker, name: str, active: bool) -> None:
    """Disable (or re-enable) a user; disabling also ends their sessions and revokes API tokens."""
    with factory.begin() as db:
        user = _get(db, name)
        user.active = active
        if not active:
            for row in db.scalars(select(WebSession).where(WebSession.user_id == user.id)):
                db.delete(row)
            for row in db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
                db.delete(row)


def create_api_token(factory: sessionmaker, name: str) -> str:
    """A new bearer token for the JSON API, shown once; only its SHA-256 is stored."""
    token = "mk_" + new_token()
    with factory.begin() as db:
        user = _get(db, name)
        if not user.active:
            raise AccountError(f"user {name!r} is disabled")
        db.add(ApiToken(user_id=user.id, token_hash=token_digest(token)))
    return token
