"""The model card: `mammokit model-card BUNDLE` (Markdown, HTML) and the /model page, from real bundles."""
from __future__ import annotations

import json
import re

import pytest

from mammokit.cli import main
from mammokit.report import CARD_SECTIONS, model_card_markdown

from .support import DISCRIMINATING_RECORD, add_users, bundle_with_record, login


def run_cli(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_card_markdown_from_the_run(tiny_bundle):
    text = model_card_markdown(tiny_bundle)
    for section in CARD_SECTIONS:
        assert f"## {section}\n" in text, section
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    metrics = json.loads((tiny_bundle.parent / "metrics.json").read_text())
    auc = m["discrimination"]["malignant_vs_rest"]
    assert (f"| malignant_vs_rest | {auc['auc']:.2f} (95% CI {auc['ci'][0]:.2f}-{auc['ci'][1]:.2f}) | yes |"
            in text)
    # calibration figures come from the run's metrics.json beside the bundle
    assert f"| before (head output) | {metrics['calibration']['before']['brier']:.3f} |" in text
    assert "malignant 33.3%" in text and "0.59% malignant" in text and "Lehman" in text
    assert text.index("has not shown it can separate the classes") < text.index("## Model details")
    assert "| 4B Moderate suspicion for malignancy | 10% < p <= 50% |" in text
    assert "Not tested on: full-field digital mammograms" in text and "Mitchell" in text


def test_card_of_an_old_bundle_without_metrics(tiny_bundle, tmp_path):
    """A bundle copied away from its run, made before evidence was recorded: the card still says what it can."""
    old = {k: v for k, v in json.loads((tiny_bundle / "manifest.json").read_text()).items()
           if k not in ("discrimination", "near_constant", "prevalence")}
    text = model_card_markdown(tmp_path / "b", manifest=old)
    assert "records no measured discrimination" in text and "- none recorded in the bundle" in text
    assert "not available (the run's metrics.json is not beside the bundle)" in text


def test_model_card_cli(tiny_bundle, tmp_path, capsys):
    code, out, _ = run_cli(["model-card", str(tiny_bundle)], capsys)
    assert code == 0 and out.startswith("# Model card: efficientnet_lite0 + logistic (3class)")
    code, out, _ = run_cli(["model-card", str(tiny_bundle), "--format", "html", "--out", str(tmp_path / "c.html"),
                            "--prevalence", "0.02"], capsys)
    html = (tmp_path / "c.html").read_text()
    assert code == 0 and html.startswith("<!DOCTYPE html>") and "<h2>Calibration</h2>" in html
    assert "<table>" in html and "2% malignant (set by the operator)" in html
    code, _, err = run_cli(["model-card", str(tmp_path / "nothing")], capsys)
    assert code != 0 and "nothing: not a model bundle folder" in err


def test_model_card_escapes_html_from_files(tiny_bundle, tmp_path):
    src = bundle_with_record(tiny_bundle, tmp_path / "b", trained_on="<script>alert(1)</script>")
    from mammokit.report import model_card_html

    html = model_card_html(src)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_model_page(make_client, tiny_bundle, tmp_path):
    earned = bundle_with_record(tiny_bundle, tmp_path / "earned", **DISCRIMINATING_RECORD)
    for name, bundle, verdict in (("alice", tiny_bundle, "has not"), ("bob", earned, "has")):
        client, settings = make_client(model_path=bundle, prevalence=0.01)  # the same database twice
        add_users(settings, (name, "clinician"))
        assert client.get("/model", follow_redirects=False).status_code == 303  # login first
        login(client, name)
        page = client.get("/model")
        assert page.status_code == 200 and 'id="model-card"' in page.text
        assert f"Verdict: <strong>{verdict}</strong> shown it can separate the classes" in page.text
        assert "1% malignant (set by the operator)" in page.text
        assert re.search(r"<h2>Prevalence assumptions</h2>", page.text)
        assert '<a href="/model">Model</a>' in page.text
