"""The paper's bar chart redrawn: its claimed figures beside the measured ones, per protocol.

Claims are drawn as hatched, grey, outlined bars labelled "paper's claim" so they cannot be
mistaken for a measurement; measured bars carry their 95% CI as error bars; Module 1 bars are
hatched and labelled LEAKY. A dashed line marks what always predicting the commonest class
scores on the real class mix.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ...constants import RESEARCH_DISCLAIMER
from ._config import PROTOCOL_ORDER
from ._table import HEADERS

DPI = 120
CLAIM_STYLE = {"color": "#dddddd", "edgecolor": "black", "hatch": "xx", "linewidth": 1.0}
PROTOCOL_STYLE = {
    "module1": {"color": "#d62728", "hatch": "//", "edgecolor": "#7f1212", "label": "Module 1 (LEAKY)"},
    "module2": {"color": "#1f77b4", "label": "Module 2 (patient holdout)"},
    "cv": {"color": "#2ca02c", "label": "CV (grouped k-fold x repeats)"},
}


def _ok(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _draw(ax, comparison, metric: str, *, legend: bool) -> None:
    rows = comparison.rows
    models = list(dict.fromkeys(r["model"] for r in rows))
    labels = {r["model"]: r["label"] for r in rows}
    protocols = [p for p in PROTOCOL_ORDER if any(r["protocol"] == p for r in rows)]
    claims = {r["model"]: r["paper_claim"].get(metric) for r in rows}
    any_claim = any(_ok(c) for c in claims.values())
    slots = (["claim"] if any_claim else []) + protocols
    width = 0.8 / len(slots)
    x = np.arange(len(models))
    for s, slot in enumerate(slots):
        pos = x - 0.4 + width * (s + 0.5)
        if slot == "claim":
            vals = [claims[m] if _ok(claims[m]) else np.nan for m in models]
            bars = ax.bar(pos, vals, width, label="paper's claim (not measured here)", **CLAIM_STYLE)
            for b, v in zip(bars, vals):
                if _ok(v):
                    ax.text(b.get_x() + b.get_width() / 2, v + 0.01, f"claim\n{v:.2f}", ha="center", va="bottom",
                            fontsize=7, style="italic")
            continue
        by_model = {r["model"]: r for r in rows if r["protocol"] == slot}
        vals, lo, hi = [], [], []
        for m in models:
            entry = by_model.get(m, {}).get(metric) or {}
            v, ci = entry.get("value"), entry.get("ci")
            vals.append(v if _ok(v) else np.nan)
            ok_ci = ci and _ok(v) and all(_ok(c) for c in ci)
            lo.append(v - ci[0] if ok_ci else 0.0)
            hi.append(ci[1] - v if ok_ci else 0.0)
        style = dict(PROTOCOL_STYLE[slot])
        label = style.pop("label")
        bars = ax.bar(pos, vals, width, yerr=[lo, hi], capsize=2, label=label, error_kw={"linewidth": 0.8}, **style)
        for b, v in zip(bars, vals):
            if _ok(v):
                ax.text(b.get_x() + b.get_width() / 2, 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=7,
                        color="white", fontweight="bold", rotation=90)
    if metric == "accuracy":
        real = [r["majority_accuracy"] for r in rows if r["protocol"] != "module1"]
        if real:
            ax.axhline(float(np.mean(real)), ls="--", color="black", lw=1,
                       label=f"always predict the commonest class ({np.mean(real):.2f})")
    elif metric == "macro_roc_auc":
        ax.axhline(0.5, ls=":", color="black", lw=1, label="chance (0.5)")
    ax.set_xticks(x)
    ax.set_xticklabels([labels[m] for m in models], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(HEADERS[metric])
    ax.set_title(HEADERS[metric] + ("" if any_claim else " (the paper reports no figure for this metric)"),
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, framealpha=0.9)


def _footer(fig: Figure, comparison) -> None:
    p = comparison.provenance
    fig.text(0.01, 0.01, f"{comparison.name}: {p.get('n_images')} images, {p.get('n_patients')} patients; "
             f"error bars 95% patient-bootstrap CI. {RESEARCH_DISCLAIMER}", fontsize=6, color="#444444")


def accuracy_figure(comparison) -> Figure:
    fig = Figure(figsize=(9, 5.6))
    ax = fig.add_subplot(1, 1, 1)
    _draw(ax, comparison, "accuracy", legend=True)
    fig.suptitle("The paper's accuracy claims vs accuracy measured with our code on mini-MIAS", fontsize=11)
    _footer(fig, comparison)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def f1_auc_figure(comparison) -> Figure:
    fig = Figure(figsize=(14, 5.8))
    for i, metric in enumerate(("macro_f1", "macro_roc_auc")):
        _draw(fig.add_subplot(1, 2, i + 1), comparison, metric, legend=True)
    fig.suptitle("Macro F1 and macro ROC-AUC of the same models (the metrics that do not reward always "
                 "saying 'normal')", fontsize=11)
    _footer(fig, comparison)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def write_charts(comparison) -> dict[str, Path]:
    figures = Path(comparison.out_dir) / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, maker, name in (("chart_accuracy", accuracy_figure, "accuracy_vs_paper.png"),
                             ("chart_f1_auc", f1_auc_figure, "f1_auc_vs_paper.png")):
        path = figures / name
        maker(comparison).savefig(path, dpi=DPI, format="png")
        out[key] = path
    return out
