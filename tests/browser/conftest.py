"""Browser fixtures: the real app served by uvicorn in a thread on a free loopback port, and Chromium."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mammokit.web import create_app
from web.live import LiveServer  # the uvicorn options `mammokit serve` uses
from web.support import add_users, make_settings, shared_bundle

OUTPUT_DIR_ENV = "MAMMOKIT_TEST_OUTPUT"
CHROMIUM_ENV = "MAMMOKIT_CHROMIUM"  # optional: a Chromium binary other than Debian's on PATH
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


BUNDLE_ENV = "MAMMOKIT_BROWSER_BUNDLE"  # e.g. runs/mias-cv/bundle, for screenshots with the demo's model


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    if os.environ.get(BUNDLE_ENV):
        return Path(os.environ[BUNDLE_ENV])
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="session")
def screenshot_dir():
    from mammokit.constants import REPO_ROOT

    out = Path(os.environ.get(OUTPUT_DIR_ENV, REPO_ROOT / "test-output")) / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def live(tmp_path_factory, tiny_bundle):
    """(url, settings) of a running server with users alice, bob (clinicians) and root (admin)."""
    tmp = tmp_path_factory.mktemp("live")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'web.db'}", model_path=tiny_bundle)
    app = create_app(settings)
    add_users(settings, ("alice", "clinician"), ("bob", "clinician"), ("root", "admin"))
    with LiveServer(app) as server:
        yield server.url, settings
    app.state.engine.dispose()


def chromium_path() -> str:
    """$MAMMOKIT_CHROMIUM, else Debian's chromium (or chromium-browser) on PATH; a missing one fails the test."""
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium not found on PATH: `make test` installs it (apt-get install chromium), "
                    f"or set ${CHROMIUM_ENV}", pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
