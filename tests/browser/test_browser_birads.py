"""Issue 13 in a real Chromium: a model that has not shown it can separate the classes gets no BI-RADS
category (said at the top), a discriminating one gets a category that follows the deployment prevalence,
and /model shows the model card."""
from __future__ import annotations

import os
import re
import shutil

import pytest

from mammokit.birads import assess
from mammokit.bundle import evidence_of, load_bundle
from mammokit.constants import REPO_ROOT
from web.support import DISCRIMINATING_RECORD, add_users, bundle_with_record, make_settings, shared_bundle

from .conftest import LiveServer
from .test_browser_app import DOCS_SCREENSHOT_ENV, log_in, upload

pytestmark = pytest.mark.browser
BADGE = re.compile(r"BI-RADS (0|1|2|3|4A|4B|4C|5)\b")


def serve(tmp_path_factory, bundle, name):
    from mammokit.web import create_app

    tmp = tmp_path_factory.mktemp(name)
    settings = make_settings(tmp, f"sqlite:///{tmp / 'web.db'}", model_path=bundle)
    app = create_app(settings)
    add_users(settings, ("alice", "clinician"))
    return app


@pytest.fixture(scope="module")
def unproven_url(tmp_path_factory, tiny_bundle):
    """The real tiny bundle (or $MAMMOKIT_BROWSER_BUNDLE, e.g. the demo's): its AUC CI reaches 0.5."""
    assert not evidence_of(load_bundle(tiny_bundle)).earned
    app = serve(tmp_path_factory, tiny_bundle, "unproven")
    with LiveServer(app) as server:
        yield server.url
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def earned_bundle(tmp_path_factory):
    """The real tiny bundle's weights with a discriminating record: 36 images cannot earn one by measurement,
    and this test is about what the app does once a model has (see web.support.DISCRIMINATING_RECORD)."""
    return bundle_with_record(shared_bundle(tmp_path_factory), tmp_path_factory.mktemp("earned") / "bundle",
                              **DISCRIMINATING_RECORD)


@pytest.fixture(scope="module")
def earned_url(tmp_path_factory, earned_bundle):
    app = serve(tmp_path_factory, earned_bundle, "earned")
    with LiveServer(app) as server:
        yield server.url
    app.state.engine.dispose()


def shot(page, screenshot_dir, name: str, docs_name: str | None = None) -> None:
    path = screenshot_dir / name
    page.screenshot(path=str(path), full_page=True)
    if docs_name and os.environ.get(DOCS_SCREENSHOT_ENV) == "1":
        (REPO_ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, REPO_ROOT / "docs" / "screenshots" / docs_name)


def test_unproven_model_gives_no_category(unproven_url, browser, mias_png, screenshot_dir):
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    log_in(page, unproven_url, "alice")
    assert "has not shown it can separate the classes" in page.inner_text("#model-warning")
    upload(page, mias_png(28))
    assert "/results/" in page.url
    warning = page.locator("#no-category")
    assert warning.is_visible()
    assert "this model has not shown it can separate the classes" in warning.inner_text().lower()
    # at the top of the result: above the images and the numbers, visible without scrolling
    box = warning.bounding_box()
    assert box["y"] + box["height"] < page.locator("#model-view").bounding_box()["y"]
    assert box["y"] + box["height"] < page.locator("#predicted-class").bounding_box()["y"] < 950
    assert page.inner_text("#birads").startswith("none")
    assert not BADGE.search(page.inner_text("main"))
    assert page.inner_text("#p-training").endswith("%") and page.inner_text("#p-deployment").endswith("%")
    shot(page, screenshot_dir, "result-unproven.png", "result-unproven.png")
    page.goto(f"{unproven_url}/history")
    assert "none (model unproven)" in page.inner_text("#history")
    ctx.close()


def expected_category(bundle, image, prevalence: float) -> str:
    pred = load_bundle(bundle).predict(image)
    ev = evidence_of(load_bundle(bundle))
    return assess(pred.probabilities, earned=ev.earned, training_prevalence=ev.training_prevalence,
                  deployment_prevalence=prevalence, assessable=pred.in_distribution).category


def test_discriminating_model_follows_deployment_prevalence(earned_url, earned_bundle, browser, mias_png,
                                                            screenshot_dir):
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    log_in(page, earned_url, "alice")
    assert page.locator("#model-warning").count() == 0
    seen = {}
    for prevalence in ("", "0.5"):
        page.goto(f"{earned_url}/")
        page.fill("#prevalence", prevalence)
        upload(page, mias_png(28))
        assert page.locator("#no-category").count() == 0
        category = BADGE.search(page.inner_text("#birads")).group(1)
        assert category == expected_category(earned_bundle, mias_png(28), float(prevalence or 0.0059))
        rule = page.inner_text("#birads-rule")
        assert f"at the deployment prevalence of {'0.59' if not prevalence else '50'}% malignant" in rule
        assert "used by the rule" in page.inner_text("#prevalence")  # the table row the rule used
        seen[prevalence] = (category, float(page.inner_text("#p-deployment").rstrip("%")))
        if not prevalence:
            shot(page, screenshot_dir, "result-discriminating.png", "result.png")
    # one image, two populations: a higher prevalence raises P(malignant) and changes the category
    assert seen[""][1] < seen["0.5"][1] and seen[""][0] != seen["0.5"][0]
    ctx.close()


def test_model_card_page(unproven_url, browser, screenshot_dir):
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    log_in(page, unproven_url, "alice")
    page.click("text=Model")
    assert page.url.endswith("/model")
    card = page.inner_text("#model-card")
    for heading in ("Intended use", "Training data", "Evaluation protocol", "Measured figures", "Calibration",
                    "Prevalence assumptions", "The BI-RADS rule", "Known limits and untested domains"):
        assert page.locator("h2", has_text=heading).count() == 1, heading
    assert "has not shown it can separate the classes" in card and "Lehman" in card
    assert page.locator("#model-card table").count() >= 3
    shot(page, screenshot_dir, "model-card.png", "model-card.png")
    ctx.close()


def test_exam_of_four_dicoms(earned_url, browser, tmp_path_factory, screenshot_dir):
    """Four real CBIS-DDSM DICOMs of one woman in one upload (one StudyInstanceUID and PatientID written into
    copies, see web.test_web_exams.one_exam): one result per breast, the images side by side."""
    from web.test_web_exams import one_exam

    files = one_exam(tmp_path_factory.mktemp("exam-browser"))
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    log_in(page, earned_url, "alice")
    page.set_input_files("#files", [str(p) for p in files.values()])
    with page.expect_navigation():
        page.click("#analyse-exam")
    assert "/exams/" in page.url
    for lat in ("R", "L"):
        breast = page.locator(f"#breast-{lat}")
        assert breast.locator("img").count() == 2
        assert page.eval_on_selector_all(f"#breast-{lat} img", "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
        assert BADGE.search(page.inner_text(f"#birads-{lat}"))
        assert "CC" in breast.inner_text() and "MLO" in breast.inner_text()
    assert BADGE.search(page.inner_text("#exam-birads"))
    shot(page, screenshot_dir, "exam.png", "exam.png")
    page.goto(f"{earned_url}/history")
    assert page.locator("#exams tbody tr").count() == 1
    ctx.close()
