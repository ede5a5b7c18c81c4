"""A model card for a bundle (Mitchell et al. 2019, "Model Cards for Model Reporting", FAT* '19).

Built from the bundle's manifest.json and, when the bundle sits in its run folder, the run's metrics.json
(calibration and per-class figures). One Markdown text; HTML is the same text through markdown-it-py
(raw HTML in it is escaped, since names and paths come from user files).
"""
from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

from .._json import strict_dumps
from ..birads import (
    BIRADS_DESCRIPTIONS,
    DEFAULT_DEPLOYMENT_PREVALENCE,
    PREVALENCE_SOURCE,
    BiradsThresholds,
)
from ..bundle import model_evidence, read_manifest
from ..constants import RESEARCH_DISCLAIMER
from ..errors import ModelError

CARD_SECTIONS = ("Model details", "Intended use", "Training data", "Evaluation protocol",
                 "Measured figures", "Calibration", "Prevalence assumptions", "The BI-RADS rule",
                 "Known limits and untested domains")
# What each training set is, and so what it does not cover.
_DATASET_NOTES = {
    "mias": ("mini-MIAS: 322 scanned-film mediolateral-oblique (MLO) mammograms of 161 women, UK, early "
             "1990s, 200 micron pixels, 8-bit; 207 normal, 63 benign, 52 malignant images"),
    "cbis_ddsm": "CBIS-DDSM: scanned film (DDSM, US, 1990s), curated lesion cases: every image has a finding",
}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None


def _fmt(v, digits: int = 2) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return f"{v:.{digits}f}"
    return "n/a"


def _value_ci(v) -> str:
    """{"value": x, "ci": [lo, hi]} or a bare number -> 'x (95% CI lo-hi)'."""
    if isinstance(v, dict):
        ci = v.get("ci") or [None, None]
        text = _fmt(v.get("value", v.get("auc")))
        return text + (f" (95% CI {_fmt(ci[0])}-{_fmt(ci[1])})" if None not in ci[:2] else " (no CI recorded)")
    return _fmt(v) + " (no CI recorded)"


def _pct(x) -> str:
    return f"{100 * x:.3g}%" if isinstance(x, (int, float)) else "n/a"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[str(c).replace("|", "\\|") for c in r] for r in [header, *rows]]
    return ["| " + " | ".join(esc[0]) + " |", "|" + " --- |" * len(header),
            *["| " + " | ".join(r) + " |" for r in esc[1:]]]


def model_card_markdown(bundle: str | Path, *, prevalence: float = DEFAULT_DEPLOYMENT_PREVALENCE,
                        thresholds: BiradsThresholds | dict | None = None, manifest: dict | None = None) -> str:
    """The card as Markdown. ``prevalence`` / ``thresholds``: what the serving app applies."""
    path = Path(bundle)
    m = manifest if manifest is not None else read_manifest(path)
    metrics = _read(path.parent / "metrics.json") or {}
    t = thresholds if isinstance(thresholds, BiradsThresholds) else BiradsThresholds.from_mapping(thresholds)
    ev = model_evidence(m)
    classes = list(m.get("classes") or [])
    ds = m.get("dataset") or {}
    bb = m.get("backbone") or {}
    out = [f"# Model card: {bb.get('name', '?')} + {m.get('model_type', '?')} ({m.get('task', '?')})", "",
           f"> {RESEARCH_DISCLAIMER}", ""]
    if not ev.earned:
        out += [f"**{ev.warning}**", ""]

    out += ["## Model details", ""]
    out += [f"- Bundle: `{path}`", (f"- Made: {m.get('created', 'n/a')} by mammokit {m.get('mammokit_version', '?')}"
            f" (commit {m.get('git_commit') or m.get('commit') or 'unknown'})"),
            f"- Classes: {', '.join(classes)}; task `{m.get('task', '?')}`",
            (f"- Image model: {bb.get('name', '?')} backbone (weights {bb.get('weights') or 'package default'}), "
            f"{m.get('model_type', '?')} head; final model trained on {m.get('trained_on') or 'n/a'}"),
            f"- Seed {m.get('seed', 'n/a')}", ""]

    out += ["## Intended use", "",
            ("- Research on mammogram classification: comparing models, protocols and calibration, and "
            "demonstrating the pipeline. Not a medical device."),
            ("- Not for use on patients: the output must not guide screening, diagnosis or treatment. The BI-RADS "
            "category is a model suggestion from a fixed rule, not a radiologist's assessment."),
            "- Users: researchers and engineers who can read the figures below.", ""]

    out += ["## Training data", "",
            f"- Data set: {ds.get('name', '?')} ({ds.get('data', 'default')}), {ds.get('n_images', '?')} images"
            + (f" of {ds['n_patients']} women" if ds.get("n_patients") else "")]
    if ds.get("name") in _DATASET_NOTES:
        out.append(f"- {_DATASET_NOTES[ds['name']]}")
    prev = ev.training_prevalence
    if prev:
        out.append("- Class prevalence the model was calibrated at: "
                   + ", ".join(f"{c} {_pct(v)}" for c, v in prev.items()))
    pre = m.get("preprocess") or {}
    if pre:
        out.append(f"- Preprocessing: {strict_dumps(pre, sort_keys=True)}")
    out.append("")

    out += ["## Evaluation protocol", ""]
    out.append(f"- Protocol: {m.get('protocol') or metrics.get('protocol') or (m.get('metrics') or {}).get('protocol') or 'n/a'}")
    if metrics.get("protocol_description"):
        out.append(f"- {metrics['protocol_description']}")
    if metrics.get("leak_check"):
        out.append("- Leak check: " + ", ".join(f"{k} = {v}" for k, v in metrics["leak_check"].items()))
    if (m.get("metrics") or {}).get("leaky") or metrics.get("leaky"):
        out.append("- **This protocol leaks patients between training and test: its figures are inflated.**")
    boot = ((metrics.get("metrics") or {}).get("bootstrap") or {})
    if boot:
        out.append(f"- Confidence intervals: {boot.get('level', 0.95):.0%} percentile bootstrap over "
                   f"{boot.get('unit', 'patient')}s, {boot.get('n', '?')} resamples")
    out.append("")

    out += ["## Measured figures", "", "Discrimination (ROC AUC, out-of-fold):", ""]
    disc = m.get("discrimination") or {}
    if disc:
        out += _table(["task", "ROC AUC (95% CI)", "used to decide on a BI-RADS category"],
                      [[k, _value_ci(v), "yes" if k in ev.relevant else "no"] for k, v in disc.items()])
    else:
        out.append("- none recorded in the bundle")
    nc = m.get("near_constant")
    if isinstance(nc, dict):
        out += ["", (f"Out-of-fold predictions near-constant: **{'yes' if nc.get('value') else 'no'}** (spread "
                f"{_fmt(nc.get('spread'), 4)}, threshold {nc.get('threshold', 'n/a')}; {nc.get('measure', '')})")]
    summary = m.get("metrics") or {}
    rows = [[k.replace("_", " "), _value_ci(v)] for k, v in summary.items()
            if k not in ("protocol", "leaky") and (isinstance(v, (dict, int, float)))
            and not isinstance(v, bool)]
    if rows:
        out += ["", "Other figures:", "", *_table(["metric", "value (95% CI)"], rows)]
    out += ["", f"Verdict: **{'has' if ev.earned else 'has not'}** shown it can separate the classes"
            + ("" if ev.earned else ": " + "; ".join(ev.reasons)) + ".", ""]

    out += ["## Calibration", ""]
    cal = metrics.get("calibration") or {}
    out.append(f"- Method: {cal.get('method') or m.get('calibration') or 'n/a'}, fitted on a part of the "
               "training rows held out from the head")
    if cal.get("before") and cal.get("after"):
        out += ["", *_table(["", "Brier score", "ECE"],
                            [["before (head output)", _fmt(cal["before"].get("brier"), 3),
                              _fmt(cal["before"].get("ece"), 3)],
                             ["after (prior-corrected + calibrated)", _fmt(cal["after"].get("brier"), 3),
                              _fmt(cal["after"].get("ece"), 3)]])]
    else:
        out.append("- Brier score / ECE: not available (the run's metrics.json is not beside the bundle)")
    out.append("")

    out += ["## Prevalence assumptions", "",
            f"- Training / calibration prevalence of malignant: {_pct((prev or {}).get('malignant'))}",
            f"- Deployment prevalence applied by this server: {_pct(prevalence)} malignant"
            + (f" (default: {PREVALENCE_SOURCE})" if prevalence == DEFAULT_DEPLOYMENT_PREVALENCE else
               " (set by the operator)"),
            ("- The model's P(malignant) is moved from the training to the deployment prevalence by Bayes' rule "
            "(p ∝ p_model · π_deploy / π_train, the other classes keeping their training ratio). This assumes "
            "the images look the same in both populations (only the class mix differs)."),
            ("- The figure is per screening exam; the model scores single images. A cancer is in one breast, "
            "so per image the true prevalence is lower still."), ""]

    out += ["## The BI-RADS rule", "",
            ("A category is given only when the model has shown it can separate the classes (every relevant "
            "AUC's lower 95% bound above 0.5, out-of-fold predictions not near-constant, a non-leaky protocol). "
            "Then, with p = P(malignant) at the deployment prevalence:"), ""]
    out += _table(["category", "rule"], [
        ["0 " + BIRADS_DESCRIPTIONS["0"], "not assessable (not a mammogram, out of the training distribution)"],
        ["1 " + BIRADS_DESCRIPTIONS["1"], f"p <= {_pct(t.cat3_max)} and P(normal) >= {_pct(t.confident)}"],
        ["2 " + BIRADS_DESCRIPTIONS["2"], f"p <= {_pct(t.cat3_max)} and P(benign) >= {_pct(t.confident)}"],
        ["3 " + BIRADS_DESCRIPTIONS["3"], f"p <= {_pct(t.cat3_max)}"],
        ["4A " + BIRADS_DESCRIPTIONS["4A"], f"{_pct(t.cat3_max)} < p <= {_pct(t.cat4a_max)}"],
        ["4B " + BIRADS_DESCRIPTIONS["4B"], f"{_pct(t.cat4a_max)} < p <= {_pct(t.cat4b_max)}"],
        ["4C " + BIRADS_DESCRIPTIONS["4C"], f"{_pct(t.cat4b_max)} < p < {_pct(t.cat5_min)}"],
        ["5 " + BIRADS_DESCRIPTIONS["5"], f"p >= {_pct(t.cat5_min)}"],
    ])
    custom = [f.name for f in fields(t) if getattr(t, f.name) != getattr(BiradsThresholds(), f.name)]
    out += ["", "Thresholds: " + ("the ACR likelihood-of-malignancy ranges (defaults)" if not custom else
                                  "set by the operator: " + ", ".join(custom)), ""]

    out += ["## Known limits and untested domains", "",
            (f"- Tested only on {ds.get('name', 'its training data set')} by the protocol above; no external "
            "validation set."),
            ("- Not tested on: full-field digital mammograms from any vendor, digital breast tomosynthesis, "
            "synthetic 2-D views, other scanners or film digitisers, other countries' screening populations, "
            "women with implants, men."),
            "- Single images only: no comparison with the other breast, the other view or earlier exams."
            if m.get("model_type") != "lesion" else
            "- Compares a breast with the other one only when both are given; never with earlier exams.",
            ("- The out-of-distribution check (breast-mask share and feature distance) catches some but not all "
            "unsuitable images."),
            "- Small training set: wide confidence intervals; figures can change with another seed.", ""]
    if ds.get("name") == "mias":
        out.insert(-1, "- mini-MIAS has MLO views only: craniocaudal (CC) views are untested.")
    out += ["## Reference", "",
            ("Mitchell M, Wu S, Zaldivar A, et al. Model Cards for Model Reporting. FAT* '19, pp. 220-229, "
            "doi:10.1145/3287560.3287596."), ""]
    return "\n".join(out)


def markdown_to_html(text: str) -> str:
    """CommonMark + tables, raw HTML escaped."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def model_card_html(bundle: str | Path, **kw) -> str:
    """A self-contained HTML page of the card."""
    from ._html import render

    return render("model_card.html.j2", title="Model card", body=markdown_to_html(model_card_markdown(bundle, **kw)))
