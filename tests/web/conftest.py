"""Web fixtures: every app test runs against a real SQLite file and a real PostgreSQL schema.

PostgreSQL: the suite starts its own throwaway server (pytest-postgresql's process fixture) from the
installed binaries, on a free loopback port with its data in a temporary folder, one per pytest-xdist
worker that needs it, stopped at the end. As root it runs as an unprivileged user through
scripts/pg_ctl-unprivileged.sh. $MAMMOKIT_TEST_PG_URL points the tests at an existing server instead.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_postgresql import factories

from mammokit.web import create_app

from .support import PG_URL_ENV, make_settings, pg_schema_url, shared_bundle

PG_CTL = Path(__file__).resolve().parents[2] / "scripts" / "pg_ctl-unprivileged.sh"
pg_server = factories.postgresql_proc(executable=str(PG_CTL), host="127.0.0.1", port=None)


@pytest.fixture(scope="session")
def pg_base_url(request) -> str:
    """URL of the test server's database; the server starts on first use (never skipped: it fails loudly)."""
    if os.environ.get(PG_URL_ENV):
        return os.environ[PG_URL_ENV]
    proc = request.getfixturevalue("pg_server")
    return f"postgresql+psycopg://{proc.user}@{proc.host}:{proc.port}/{proc.maintenance_dbname}"


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A real model bundle (36 mini-MIAS images, EfficientNet-Lite0 224 px, logistic head)."""
    return shared_bundle(tmp_path_factory)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'web.db'}"
    else:
        with pg_schema_url(request.getfixturevalue("pg_base_url")) as url:
            yield url


@pytest.fixture
def make_client(tmp_path, db_url):
    """make_client(**settings) -> (TestClient, settings); the app is built fresh with those settings."""
    clients = []

    def _make(base_url: str = "http://testserver", model_path=None, **kw):
        settings = make_settings(tmp_path, db_url, model_path=model_path, **kw)
        app = create_app(settings)
        client = TestClient(app, base_url=base_url)
        clients.append((client, app))
        return client, settings

    yield _make
    for client, app in clients:
        client.close()
        app.state.engine.dispose()
