"""Database tables (SQLAlchemy 2.0) and engine set-up for SQLite (WAL) or PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from ..errors import ConfigError

ROLES = ("admin", "clinician")


def utcnow() -> dt.datetime:
    """Naive UTC: SQLite keeps no time zone, so every timestamp is stored as naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[User] = relationship()


class WebSession(Base):
    """A logged-in browser: the cookie carries a signed random token, the table its SHA-256."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """Every login attempt, for rate limiting failures per account and per address."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Prediction(Base):
    """One analysed upload. No patient name, ID or birth date: at most a salted hash of the ID."""

    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, index=True)  # public, unguessable
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    original_name: Mapped[str] = mapped_column(String(255))  # display only, never used as a path
    upload_sha256: Mapped[str] = mapped_column(String(64), index=True)
    stored_name: Mapped[str] = mapped_column(String(128))  # content-hash file name under uploads/
    format: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    cols: Mapped[int] = mapped_column(Integer)
    patient_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # HMAC of the patient ID
    laterality: Mapped[str | None] = mapped_column(String(8), nullable=True)
    view: Mapped[str | None] = mapped_column(String(16), nullable=True)
    label: Mapped[str] = mapped_column(String(32))
    probabilities_json: Mapped[str] = mapped_column(Text)
    p_malignant: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_distribution: Mapped[bool] = mapped_column(Boolean, default=True)
    notes_json: Mapped[str] = mapped_column(Text, default="[]")
    birads_category: Mapped[str] = mapped_column(String(4))
    birads_rule: Mapped[str] = mapped_column(Text)
    has_heatmap: Mapped[bool] = mapped_column(Boolean, default=False)
    heatmap_method: Mapped[str] = mapped_column(String(32), default="Grad-CAM")  # or "lesion model"
    model_identity: Mapped[str] = mapped_column(String(255), default="")
    user: Mapped[User] = relationship()
    # In its own table so that databases made before it gain it from create_all (no column migration).
    assessment: Mapped[Assessment | None] = relationship(back_populates="prediction", uselist=False,
                                                         lazy="selectin")

    @property
    def assessment_detail(self) -> dict | None:
        """birads.BiradsAssessment.as_dict() of this result; None for results stored before it existed."""
        return json.loads(self.assessment.detail_json) if self.assessment is not None else None

    @property
    def probabilities(self) -> dict[str, float]:
        return json.loads(self.probabilities_json)

    @property
    def notes(self) -> list[str]:
        return json.loads(self.notes_json or "[]")


class Assessment(Base):
    """How the BI-RADS suggestion of a prediction was made: withheld or not, P(malignant) at the training
    and the deployment prevalence, and which the rule used (birads.BiradsAssessment as JSON)."""

    __tablename__ = "birads_assessments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"), unique=True,
                                               index=True)
    earned: Mapped[bool] = mapped_column(Boolean)
    detail_json: Mapped[str] = mapped_column(Text)
    prediction: Mapped[Prediction] = relationship(back_populates="assessment")


class Exam(Base):
    """Several images of one woman's screening exam uploaded together, with one assessment per breast and
    one for the exam (detail_json: see _exams.exam_detail). No study or patient ID: salted hashes only."""

    __tablename__ = "exams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    patient_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    study_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # HMAC of StudyInstanceUID
    category: Mapped[str] = mapped_column(String(8))  # the exam's category, or "none"
    detail_json: Mapped[str] = mapped_column(Text)
    user: Mapped[User] = relationship()
    images: Mapped[list[ExamImage]] = relationship(back_populates="exam", lazy="selectin",
                                                   order_by="ExamImage.position")

    @property
    def detail(self) -> dict:
        return json.loads(self.detail_json)


class ExamImage(Base):
    """One image of an exam: the prediction row and where it sits (breast and view)."""

    __tablename__ = "exam_images"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    laterality: Mapped[str] = mapped_column(String(1))
    view: Mapped[str] = mapped_column(String(16))
    exam: Mapped[Exam] = relationship(back_populates="images")
    prediction: Mapped[Prediction] = relationship(lazy="selectin")


class AuditEvent(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(32), index=True)  # login, login_failed, logout, prediction, ...
    username: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


def normalise_db_url(url: str) -> str:
    """postgresql://... -> postgresql+psycopg://... (psycopg 3 is the installed driver)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    url = normalise_db_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"--db {url!r}: not a database URL (sqlite:///FILE or postgresql://USER@HOST/DB)") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
    else:
        raise ConfigError(f"--db {url!r}: only sqlite and postgresql databases are supported")
    return engine


def init_db(url: str) -> tuple[Engine, sessionmaker]:
    """Engine + session factory; creates the tables on first start (idempotent)."""
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
    except Exception as exc:  # noqa: BLE001 - connection problems become one clear line
        msg = " ".join(str(exc).split())[:300]
        raise ConfigError(f"database {engine.url.render_as_string(hide_password=True)}: {msg}") from None
    return engine, sessionmaker(engine, expire_on_commit=False)
