"""Which bundle `make serve` and `mammokit predict` use by default: the best *measured* one.

`make demo` trains several models; ``choose_served_bundle`` ranks their bundles by what each has shown
(``model_evidence``): a bundle measured by a leaky protocol or with near-constant out-of-fold predictions
is never chosen; among the rest, one that has earned a BI-RADS suggestion comes first, then the higher
lower CI bound of its relevant AUCs (the weakest of them). The choice and the reasons are written to
``runs/served-bundle.json``, which ``served_bundle_path`` reads back.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .._json import strict_dumps
from ..errors import ModelError
from ._evidence import model_evidence
from ._manifest import read_manifest

SERVED_FILE = "served-bundle.json"


def _weakest_lower_bound(evidence) -> float:
    lows = [e["ci"][0] for e in evidence.relevant.values() if e["ci"][0] is not None]
    return min(lows) if lows else -math.inf


def rank_bundles(bundles) -> list[dict]:
    """One row per bundle, best first: path, eligible, earned, weakest lower AUC bound, reasons."""
    rows = []
    for b in map(Path, bundles):
        manifest = read_manifest(b)
        ev = model_evidence(manifest)
        leaky = bool((manifest.get("metrics") or {}).get("leaky"))
        near_constant = bool((ev.near_constant or {}).get("value", True))
        rows.append({"bundle": str(b), "model_type": manifest.get("model_type"), "task": manifest.get("task"),
                     "eligible": not leaky and not near_constant, "leaky": leaky, "near_constant": near_constant,
                     "earned": ev.earned, "weakest_auc_lower_bound": _weakest_lower_bound(ev),
                     "reasons": list(ev.reasons)})
    return sorted(rows, key=lambda r: (r["eligible"], r["earned"], r["weakest_auc_lower_bound"]), reverse=True)


def choose_served_bundle(bundles, runs_dir: str | Path) -> dict:
    """Rank ``bundles``, write ``runs_dir/served-bundle.json`` and return it (``bundle`` None if none is eligible)."""
    ranked = rank_bundles(bundles)
    best = next((r for r in ranked if r["eligible"]), None)
    choice = {"bundle": best["bundle"] if best else None,
              "rule": "never a leaky-protocol or near-constant bundle; earned a BI-RADS suggestion first; "
                      "then the highest lower 95% CI bound of its relevant ROC AUCs",
              "candidates": ranked}
    out = Path(runs_dir) / SERVED_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(strict_dumps(choice, indent=2))
    return choice


def served_bundle_path(runs_dir: str | Path) -> Path | None:
    """The bundle ``runs_dir/served-bundle.json`` names, or None when there is no such choice."""
    f = Path(runs_dir) / SERVED_FILE
    if not f.is_file():
        return None
    try:
        chosen = json.loads(f.read_text()).get("bundle")
    except (OSError, ValueError):
        raise ModelError(f"{f}: unreadable; run `make demo` again or pass --model BUNDLE") from None
    return Path(chosen) if chosen else None
