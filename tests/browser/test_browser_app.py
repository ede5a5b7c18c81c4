"""The web app in a real Chromium (Playwright): login, uploads, result, history, errors, 404s, logout."""
from __future__ import annotations

import pytest
from mammograms import gen_cases

from web.support import PASSWORD

pytestmark = pytest.mark.browser
CLASSES = ("normal", "benign", "malignant")
DOCS_SCREENSHOT_ENV = "MAMMOKIT_DOCS_SCREENSHOT"  # =1: test_browser_birads also copies its screenshots to docs/


def log_in(page, url, name, password=PASSWORD):
    page.goto(f"{url}/")
    assert page.url.endswith("/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login")


def upload(page, path):
    page.set_input_files("#file", str(path))
    with page.expect_navigation():
        page.click("#analyse")


def image_loaded(page, selector) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def check_result(page) -> str:
    assert "/results/" in page.url
    label = page.inner_text("#predicted-class").strip().lower()  # CSS capitalises it
    assert label in CLASSES
    probs = page.inner_text("#probabilities")
    assert all(c in probs for c in CLASSES) and probs.count("%") == 3
    # the tiny bundle has not shown it can separate the classes: no category, said first (test_browser_birads)
    assert "has not shown it can separate the classes" in page.inner_text("#no-category")
    assert page.inner_text("#birads").startswith("none")
    assert "not a diagnosis" in page.inner_text("main")
    assert image_loaded(page, "#heatmap") and image_loaded(page, "#model-view")
    return label


def test_clinician_session(live, browser, mias_png, screenshot_dir):
    url, _settings = live
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    # wrong password
    log_in(page, url, "alice", "not the password")
    assert "Wrong user name or password" in page.inner_text("#error")
    page.screenshot(path=str(screenshot_dir / "login-wrong-password.png"))
    # right password -> upload page
    log_in(page, url, "alice")
    assert page.inner_text("#who") == "alice (clinician)"
    # a real mini-MIAS PNG
    upload(page, mias_png(28))
    check_result(page)
    assert page.inner_text("h1") == "Result PNG"  # a name the server derives, never the client's (issue 14)
    page.screenshot(path=str(screenshot_dir / "result-mias-png.png"), full_page=True)
    first_result = page.url
    # a real CBIS-DDSM DICOM (RLE-compressed, 16-bit, 4464 x 2848)
    page.goto(f"{url}/")
    upload(page, next(iter(gen_cases()))["lmlo"])
    check_result(page)
    assert "DICOM 2848 × 4464" in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "result-dicom.png"), full_page=True)
    # a corrupt upload: clear message, nothing else changes
    page.goto(f"{url}/")
    bad = screenshot_dir.parent / "not-an-image.png"
    bad.write_bytes(b"this is not an image\n" * 50)
    with page.expect_navigation() as nav:
        page.set_input_files("#file", str(bad))
        page.click("#analyse")
    assert nav.value.status == 415
    assert "not-an-image.png: not a supported image" in page.inner_text("#error")
    page.screenshot(path=str(screenshot_dir / "upload-corrupt.png"))
    # history: both results, newest first, thumbnails loaded
    page.goto(f"{url}/history")
    rows = page.locator("#history tbody tr")
    assert rows.count() == 2
    assert "DICOM L MLO" in rows.nth(0).inner_text() and "PNG" in rows.nth(1).inner_text()
    assert "mdb028" not in page.content() and "1-131" not in page.content()
    assert page.eval_on_selector_all("img.thumb", "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(screenshot_dir / "history.png"), full_page=True)
    page.click("#history tbody tr:nth-child(2) a")
    assert page.url == first_result
    # logout ends the session, even for a copy of the old cookie
    old_cookies = ctx.cookies()
    page.click("#logout")
    assert page.url.endswith("/login")
    ctx.add_cookies(old_cookies)
    page.goto(first_result)
    assert page.url.endswith("/login")
    ctx.close()


def test_other_users_result_is_404(live, browser, mias_png, screenshot_dir):
    url, _ = live
    alice = browser.new_context()
    page = alice.new_page()
    log_in(page, url, "alice")
    upload(page, mias_png(40))
    result_url = page.url
    uid = result_url.rsplit("/", 1)[1]
    alice.close()
    bob = browser.new_context()
    page = bob.new_page()
    log_in(page, url, "bob")
    response = page.goto(result_url)
    assert response.status == 404 and "Not found" in page.inner_text("h1")
    assert page.request.get(f"{url}/media/{uid}/overlay.png").status == 404
    page.screenshot(path=str(screenshot_dir / "other-users-result-404.png"))
    page.goto(f"{url}/history")
    assert uid not in page.content()
    bob.close()
    root = browser.new_context()
    page = root.new_page()
    log_in(page, url, "root")
    assert page.goto(result_url).status == 200 and "uploaded by alice" in page.inner_text("main")
    root.close()
