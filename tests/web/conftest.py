"""Web fixtures: every app test runs against a real SQLite file and a real PostgreSQL schema."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mammokit.web import create_app

from .support import make_settings, pg_schema_url, shared_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A real model bundle (36 mini-MIAS images, EfficientNet-Lite0 224 px, logistic head)."""
    return shared_bundle(tmp_path_factory)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'web.db'}"
    else:
        with pg_schema_url() as url:
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
