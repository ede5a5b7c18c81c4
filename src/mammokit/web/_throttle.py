"""Failed-login throttling: atomic, and a back-off that slows an attacker without locking others out.

Atomic: an attempt is first recorded as a failure and committed, and only then are the failures counted
(every other row, committed before this count). Of n attempts racing, the j-th to count sees at least
j - 1 others, so no more than `threshold` of them reach the password check, however many run at once.
The row becomes a success after a right password, and is removed when the attempt is throttled (a refused
attempt is not a failure, so it does not lengthen anyone's wait).

Back-off instead of lock-out: past a threshold of failures inside the window, the next attempt has to
wait `base * 2**(failures - threshold)` seconds after the last failure, up to a cap. Three keys:
- account + address: `max_failures_per_account`, base 30 s, cap the whole window (guessing from one place);
- account alone: twice that, base 5 s, cap 60 s (guessing from many places: the owner waits a minute at
  most, the attacker gets about one try a minute);
- address alone: `max_failures_per_address`, base 5 s, cap 60 s (a clinic behind one NAT is slowed, not
  locked out).
The address is the TCP peer; proxy headers count only from `--forwarded-allow-ips` (see cli/_serve.py).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ._db import LoginAttempt, utcnow
from ._settings import WebSettings


@dataclass(frozen=True)
class Rule:
    by_user: bool
    by_address: bool
    threshold: int
    base_s: float
    cap_s: float


def rules(s: WebSettings) -> tuple[Rule, ...]:
    return (Rule(True, True, s.max_failures_per_account, 30.0, float(s.failure_window_s)),
            Rule(True, False, 2 * s.max_failures_per_account, 5.0, 60.0),
            Rule(False, True, s.max_failures_per_address, 5.0, 60.0))


def _wait_s(db: Session, rule: Rule, row: LoginAttempt, since: dt.datetime, now: dt.datetime) -> float:
    q = select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.success.is_(False), LoginAttempt.at >= since, LoginAttempt.id != row.id)
    if rule.by_user:
        q = q.where(LoginAttempt.username == row.username)
    if rule.by_address:
        q = q.where(LoginAttempt.address == row.address)
    failures, last = db.execute(q).one()
    if not failures or failures < rule.threshold or last is None:
        return 0.0
    delay = min(rule.cap_s, rule.base_s * 2.0 ** min(failures - rule.threshold, 30))
    return max(0.0, (last - now).total_seconds() + delay)


def begin_attempt(db: Session, settings: WebSettings, username: str, address: str) -> tuple[LoginAttempt | None, int]:
    """(the recorded attempt, 0) when the password may be checked; (None, seconds to wait) when throttled."""
    row = LoginAttempt(username=username, address=address, success=False, at=utcnow())
    db.add(row)
    db.commit()
    now = utcnow()
    since = now - dt.timedelta(seconds=settings.failure_window_s)
    wait = max(_wait_s(db, rule, row, since, now) for rule in rules(settings))
    if wait > 0:
        db.execute(delete(LoginAttempt).where(LoginAttempt.id == row.id))
        db.commit()
        return None, max(1, int(wait + 0.999))
    return row, 0


def finish_attempt(row: LoginAttempt, ok: bool) -> None:
    """Mark the attempt a success (the caller commits); a failure is already recorded."""
    row.success = ok
