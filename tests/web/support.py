"""Helpers shared by the web and browser tests (plain functions; fixtures live in the conftest files)."""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from mammokit.web import WebSettings, add_user, init_db

PG_DEFAULT = "postgresql+psycopg://mammokit:mammokit@127.0.0.1:5432/mammokit_test"
PASSWORD = "correct horse battery"


def pg_url() -> str:
    """The test server's URL; never skipped: if the server is down the tests fail."""
    return os.environ.get("MAMMOKIT_TEST_PG_URL") or PG_DEFAULT


@contextmanager
def pg_schema_url():
    """A fresh PostgreSQL schema for one test, dropped afterwards; yields a URL whose search_path is it."""
    base = pg_url()
    schema = "mk_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def make_settings(tmp_path: Path, db_url: str, model_path: Path | None = None, **kw) -> WebSettings:
    return WebSettings(data_dir=tmp_path / "data", db_url=db_url, model_path=model_path,
                       secret_key="test-secret-" + "x" * 40, **kw)


def add_users(settings: WebSettings, *users: tuple[str, str]) -> None:
    _engine, factory = init_db(settings.database_url)
    for name, role in users:
        add_user(factory, name, role, PASSWORD)
    _engine.dispose()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log in through the real form (CSRF included); returns the POST response (not followed)."""
    page = client.get("/login")
    return client.post("/login", data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


def page_csrf(client) -> str:
    return csrf_of(client.get("/").text)
