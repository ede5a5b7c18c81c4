"""The audit log: one row per security-relevant event (logins, uploads, refusals), with who and from where."""
from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from ._db import AuditEvent, User


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def audit(db: Session, event: str, request: Request | None, user: User | None = None,
          username: str | None = None, detail: str = "") -> None:
    """Add an audit row to `db` (the caller commits it with the rest of its transaction)."""
    db.add(AuditEvent(event=event, user_id=user.id if user else None,
                      username=(user.name if user else (username or ""))[:64],
                      address=client_address(request) if request else "", detail=detail[:2000]))
