"""CLI: `mammokit predict IMAGE... [--model BUNDLE] [--json] [--heatmap-dir DIR]`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..constants import DEFAULT_RUNS_DIR
from ._app import app, data_app, users_app  # noqa: F401

DEFAULT_BUNDLE = DEFAULT_RUNS_DIR / "mias-cv" / "bundle"


def _birads(pred) -> dict | None:
    """Suggested BI-RADS category when mammokit.birads provides suggest_birads."""
    try:
        from ..birads import suggest_birads
    except ImportError:
        return None
    if "malignant" not in pred.probabilities:
        return None
    s = suggest_birads(pred.probabilities, assessable=pred.in_distribution,
                       reason=None if pred.in_distribution else "; ".join(pred.notes) or None)
    return {"category": s.category, "description": s.description, "rule": s.rule}


def _save_heatmap(pred, out_dir: Path, stem: str) -> Path | None:
    if pred.heatmap is None:
        return None
    from ..io import write_png

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        from ..explain import overlay_heatmap

        img = overlay_heatmap(pred.view, pred.heatmap).astype("float32") / 255.0
    except ImportError:
        img = pred.heatmap
    path = out_dir / f"{stem}-heatmap.png"
    write_png(path, img)
    return path


@app.command("predict")
def predict_cmd(
    images: Annotated[list[Path], typer.Argument(help="image files (DICOM, PGM, PNG, JPEG, TIFF)")],
    model: Annotated[Path, typer.Option("--model", help="model bundle folder written by `mammokit run`")] = (
        DEFAULT_BUNDLE),
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per image instead of text")] = False,
    heatmap_dir: Annotated[Path | None, typer.Option("--heatmap-dir", help="write Grad-CAM overlays here")] = None,
) -> None:
    """Classify images with a trained bundle: class, calibrated probabilities, suggested BI-RADS."""
    from ..bundle import load_bundle
    from ..constants import RESEARCH_DISCLAIMER
    from ..errors import MammokitError

    predictor = load_bundle(model)
    failures = 0
    for path in images:
        try:
            pred = predictor.predict(path, heatmap=heatmap_dir is not None)
        except MammokitError as exc:
            failures += 1
            print(f"mammokit: error: {exc}", file=sys.stderr)
            continue
        birads = _birads(pred)
        heat_path = _save_heatmap(pred, heatmap_dir, path.stem) if heatmap_dir is not None else None
        if as_json:
            d = pred.as_dict()
            d["birads"] = birads
            d["heatmap"] = str(heat_path) if heat_path else None
            print(json.dumps(d))
            continue
        probs = "  ".join(f"{c} {p:.3f}" for c, p in pred.probabilities.items())
        print(f"{path}: {pred.label}   ({probs})")
        if birads:
            print(f"  suggested BI-RADS {birads['category']}: {birads['description']} [{birads['rule']}]")
        if not pred.in_distribution:
            print("  warning: out of distribution; " + "; ".join(pred.notes))
        if heat_path:
            print(f"  heatmap: {heat_path}")
    if not as_json:
        print(RESEARCH_DISCLAIMER)
    if failures:
        raise typer.Exit(code=2)
