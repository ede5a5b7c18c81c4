"""What a user may see: the database queries the pages and the API share. A clinician sees their own
predictions and exams, an admin everyone's; what belongs to someone else is as absent as what does not exist."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ._db import Exam, Prediction, User


def visible(table: type[Prediction | Exam], user: User):
    """A select of the rows of `table` (Prediction or Exam) that `user` may see."""
    q = select(table)
    return q if user.is_admin else q.where(table.user_id == user.id)


def find(db: Session, table: type[Prediction | Exam], user: User, uid: str):
    """The row of `table` with this uid if `user` may see it, else None."""
    return db.scalar(visible(table, user).where(table.uid == uid))


def newest(db: Session, table: type[Prediction | Exam], user: User, limit: int) -> list:
    """The rows of `table` that `user` may see, newest first, at most `limit` (1-1000)."""
    query = visible(table, user).order_by(table.created_at.desc(), table.id.desc())
    return db.scalars(query.limit(max(1, min(limit, 1000)))).all()
