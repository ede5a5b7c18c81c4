"""Whether a bundle has earned a BI-RADS suggestion: the manifest record, its measurement, and what
`mammokit predict` and `mammokit serve` say about a model that has not."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mammokit.bundle import discrimination_from_summary, model_evidence, near_constant_from
from mammokit.cli import main

from .support import DISCRIMINATING_RECORD, bundle_with_record

GOOD = {"task": "3class", "classes": ["normal", "benign", "malignant"], **DISCRIMINATING_RECORD,
        "prevalence": {"training": {"normal": 0.64, "benign": 0.2, "malignant": 0.16}}}

TEST_CASES_EVIDENCE = [
    (GOOD, True, ""),
    ({**GOOD, "discrimination": {**GOOD["discrimination"], "benign_vs_malignant": {"auc": 0.75, "ci": [0.6, 0.88]}}},
     True, ""),
    ({k: v for k, v in GOOD.items() if k != "discrimination"}, False, "records no measured discrimination"),
    ({k: v for k, v in GOOD.items() if k != "near_constant"}, False, "no check of its out-of-fold predictions"),
    ({**GOOD, "discrimination": {"3class": {"auc": 0.6, "ci": [0.5, 0.7]},
                                 "malignant_vs_rest": {"auc": 0.7, "ci": [0.6, 0.8]}}}, False,
     "3class ROC AUC 0.60 (95% CI 0.50-0.70): the lower bound is at or below 0.5"),
    ({**GOOD, "discrimination": {"3class": {"auc": 0.8, "ci": [0.7, 0.9]},
                                 "malignant_vs_rest": {"auc": 0.55, "ci": [0.41, 0.69]}}}, False,
     "malignant_vs_rest ROC AUC 0.55 (95% CI 0.41-0.69)"),
    # the demo lesion model (2026-12-02): above chance on its task and on malignant vs rest, at chance on
    # benign vs malignant, so it cannot say whether a finding looks malignant: no category
    ({**GOOD, "discrimination": {"3class": {"auc": 0.61, "ci": [0.56, 0.66]},
                                 "malignant_vs_rest": {"auc": 0.65, "ci": [0.58, 0.71]},
                                 "benign_vs_malignant": {"auc": 0.50, "ci": [0.44, 0.56]}}}, False,
     "benign_vs_malignant ROC AUC 0.50 (95% CI 0.44-0.56): the lower bound is at or below 0.5"),
    ({**GOOD, "discrimination": {"3class": {"auc": 0.8, "ci": [None, None]}}}, False, "no confidence interval"),
    ({**GOOD, "near_constant": {"value": True, "spread": 0.0004, "threshold": 0.02}}, False,
     "near-constant (spread 0.0004 < 0.02)"),
    ({**GOOD, "near_constant": True}, False, "near-constant"),
    ({**GOOD, "metrics": {"leaky": True}}, False, "leaks patients"),
    ({**GOOD, "discrimination": {"normal_vs_abnormal": {"auc": 0.9, "ci": [0.8, 0.95]}}}, False,
     "no discrimination for its task '3class'"),
]


@pytest.mark.parametrize("manifest, earned, reason", TEST_CASES_EVIDENCE)
def test_model_evidence(manifest, earned, reason):
    ev = model_evidence(manifest)
    assert ev.earned is earned
    if earned:
        assert ev.warning is None and set(ev.relevant) == {"3class", "malignant_vs_rest"} | (
            {"benign_vs_malignant"} & set(manifest["discrimination"]))
    else:
        assert ev.warning.startswith("This model has not shown it can separate the classes") and reason in ev.warning


def test_old_bundle_prevalence_falls_back_to_the_calibrator():
    ev = model_evidence({"task": "3class", "classes": ["normal", "malignant"]}, {"normal": 0.8, "malignant": 0.2})
    assert ev.training_prevalence == {"normal": 0.8, "malignant": 0.2} and not ev.earned


def test_near_constant_measure():
    rng = np.random.default_rng(0)
    prior = np.array([0.645, 0.194, 0.161])
    folds = np.repeat(np.arange(5), 20)
    # the model: every image gets the class prior (a little different in each fold)
    constant = np.tile(prior, (100, 1)) + np.repeat(rng.normal(0, 0.02, (5, 1)), 20, axis=0) * [1, -0.5, -0.5]
    nc = near_constant_from(constant, folds)
    assert nc["value"] is True and nc["spread"] < 1e-9
    varied = rng.dirichlet([1, 1, 1], size=100)
    nc = near_constant_from(varied, folds)
    assert nc["value"] is False and nc["spread"] > 0.15
    assert json.dumps(nc, allow_nan=False)


def test_discrimination_from_summary():
    summary = {"macro_roc_auc": {"value": 0.71, "ci": [0.62, 0.79]},
               "per_class": {"malignant": {"roc_auc": 0.66}}, "per_class_ci": {"malignant": {"roc_auc": [0.5, 0.8]}}}
    d = discrimination_from_summary(summary, "3class", ("normal", "benign", "malignant"))
    assert d == {"3class": {"auc": 0.71, "ci": [0.62, 0.79]}, "malignant_vs_rest": {"auc": 0.66, "ci": [0.5, 0.8]}}
    d = discrimination_from_summary({"macro_roc_auc": {"value": float("nan"), "ci": None}}, "normal_vs_abnormal",
                                    ("normal", "abnormal"))
    assert d == {"normal_vs_abnormal": {"auc": None, "ci": [None, None]}}


def test_the_run_records_evidence(tiny_bundle):
    """`mammokit run` (through the tiny bundle) writes all three fields, measured."""
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    assert set(m["discrimination"]) == {"3class", "malignant_vs_rest"}
    for e in m["discrimination"].values():
        assert 0 <= e["ci"][0] <= e["auc"] <= e["ci"][1] <= 1
    assert isinstance(m["near_constant"]["value"], bool) and m["near_constant"]["spread"] >= 0
    assert m["prevalence"]["training"] == pytest.approx({"normal": 1 / 3, "benign": 1 / 3, "malignant": 1 / 3},
                                                        abs=1e-5)


def run_cli(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_predict_without_earned_category(tiny_bundle, mias_png, capsys):
    code, out, err = run_cli(["predict", str(mias_png(1)), "--model", str(tiny_bundle)], capsys)
    assert code == 0 and "WARNING: This model has not shown it can separate the classes" in err
    first = out.splitlines()[0]
    assert first.startswith(f"{mias_png(1)}: NO BI-RADS CATEGORY. This model has not shown")
    assert "suggested BI-RADS" not in out and "at deployment prevalence (0.59%); rule used: none" in out
    code, out, _ = run_cli(["predict", str(mias_png(1)), "--model", str(tiny_bundle), "--json"], capsys)
    d = json.loads(out)
    assert next(iter(d)) == "warning" and d["birads"] is None and d["assessment"]["category"] is None


def test_predict_with_earned_category_follows_prevalence(tiny_bundle, mias_png, capsys, tmp_path):
    earned = bundle_with_record(tiny_bundle, tmp_path / "earned", **DISCRIMINATING_RECORD)
    cats = {}
    for prevalence in ("0.0059", "0.9"):
        code, out, err = run_cli(["predict", str(mias_png(3)), "--model", str(earned), "--json",
                                  "--prevalence", prevalence], capsys)
        d = json.loads(out)
        assert code == 0 and "WARNING" not in err and d["warning"] is None
        assert d["assessment"]["deployment_prevalence"] == float(prevalence)
        assert d["assessment"]["rule_used"] == "deployment prevalence"
        cats[prevalence] = d["birads"]["category"]
    assert cats["0.0059"] != cats["0.9"]
    code, _, err = run_cli(["predict", str(mias_png(3)), "--model", str(earned), "--prevalence", "2"], capsys)
    assert code != 0 and "prevalence 2.0 must be a fraction between 0 and 1" in err


def test_serve_warns_at_start_up(tiny_bundle, tmp_path):
    """`mammokit serve` with the unproven bundle: the warning is on stderr before it serves."""
    mammokit = Path(sys.executable).parent / "mammokit"  # the installed console script
    proc = subprocess.Popen([str(mammokit), "serve", "--model", str(tiny_bundle),
                             "--data-dir", str(tmp_path / "data"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "WARNING" in line or "Uvicorn running" in line:
                break
        text = "".join(lines)
        assert "mammokit: WARNING: This model has not shown it can separate the classes" in text, text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_prevalence_in_the_serve_config_file(tmp_path):
    from mammokit.cli._serve import read_birads_config
    from mammokit.errors import ConfigError

    good = tmp_path / "site.yaml"
    good.write_text("prevalence: 0.012\nbirads:\n  cat3_max: 0.03\n")
    assert read_birads_config(good) == ({"cat3_max": 0.03}, 0.012)
    (tmp_path / "plain.yaml").write_text("cat3_max: 0.03\n")
    assert read_birads_config(tmp_path / "plain.yaml") == ({"cat3_max": 0.03}, None)
    bad = tmp_path / "bad.yaml"
    bad.write_text("prevalence: 12\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: prevalence 12 must be a fraction between 0 and 1"):
        read_birads_config(bad)
