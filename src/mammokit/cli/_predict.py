"""CLI: `mammokit predict IMAGE... [--model BUNDLE] [--json] [--heatmap-dir DIR] [--prevalence P]`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .._json import strict_dumps
from ..birads import DEFAULT_DEPLOYMENT_PREVALENCE
from ._app import app, data_app, users_app  # noqa: F401


def _save_heatmap(pred, out_dir: Path, stem: str) -> Path | None:
    if pred.heatmap is None:
        return None
    from ..io import write_png

    out_dir.mkdir(parents=True, exist_ok=True)
    from ..explain import overlay_heatmap

    img = overlay_heatmap(pred.view, pred.heatmap).astype("float32") / 255.0
    path = out_dir / f"{stem}-heatmap.png"
    write_png(path, img)
    return path


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.3g}%"


def _print_text(path: Path, pred, a, heat_path: Path | None) -> None:
    if a.withheld:  # first, before any number: the model has not earned a category
        print(f"{path}: NO BI-RADS CATEGORY. {a.withheld}")
    probs = "  ".join(f"{c} {p:.3f}" for c, p in pred.probabilities.items())
    print(f"{path}: {pred.label}   ({probs})")
    if a.p_malignant_training is not None:
        print(f"  P(malignant) {_pct(a.p_malignant_training)} at training prevalence "
              f"({_pct(a.training_prevalence)}), {_pct(a.p_malignant_deployment)} at deployment prevalence "
              f"({_pct(a.deployment_prevalence)}); rule used: {a.rule_used}")
    if a.category is not None:
        print(f"  suggested BI-RADS {a.category}: {a.description} [{a.rule}]")
    if not pred.in_distribution:
        print("  warning: out of distribution; " + "; ".join(pred.notes))
    if heat_path:
        print(f"  heatmap: {heat_path}")


@app.command("predict")
def predict_cmd(
    images: Annotated[list[Path] | None, typer.Argument(
        help="image files (DICOM, PGM, PNG, JPEG, TIFF); with --out also folders or a manifest .csv")] = None,
    model: Annotated[Path | None, typer.Option(
        "--model", help="model bundle folder written by `mammokit run` (default: the one `make demo` chose to "
                        "serve, runs/served-bundle.json, else runs/mias-cv/bundle)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per image instead of text")] = False,
    heatmap_dir: Annotated[Path | None, typer.Option("--heatmap-dir", help="write Grad-CAM overlays here")] = None,
    prevalence: Annotated[float, typer.Option(
        "--prevalence", help="malignant fraction of the population the images come from; the BI-RADS rule uses "
                             "P(malignant) moved to it (default: screening, BCSC; see docs/web.md)")] = (
        DEFAULT_DEPLOYMENT_PREVALENCE),
    out: Annotated[Path | None, typer.Option(
        "--out", help="batch mode: write one .csv or .parquet file (by its suffix) with a row per image and per "
                       "breast (resumes if interrupted)")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="batch mode: a data set to predict (cbis-ddsm, rsna, vindr-mammo, inbreast, cmmd, mias, "
                          "folder, manifest) with --data")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="the data set's folder or manifest")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="batch mode: images per engine call")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="batch mode: model intra-op threads")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="batch mode: cache folder for the ONNX export")] = None,
    restart: Annotated[bool, typer.Option("--restart", help="batch mode: start --out again instead of resuming")] = False,
    engine: Annotated[str, typer.Option("--engine", help="batch mode: local (default) | ray (docs/scaling.md)")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="--engine ray: the Ray cluster to join")] = None,
) -> None:
    """Classify images with a trained bundle: class, calibrated probabilities, suggested BI-RADS (only from a
    model that has shown it can separate the classes)."""
    from ..birads import check_prevalence
    from ..bundle import assessment_of, evidence_of, load_bundle
    from ..constants import RESEARCH_DISCLAIMER
    from ..errors import MammokitError

    prevalence = check_prevalence(prevalence)
    if out is not None:  # a wrong --out suffix is said before the bundle is loaded
        from ..bundle._batch import output_format

        output_format(out)
    if model is None:
        from ._serve import default_bundle

        model = default_bundle()
    predictor = load_bundle(model)
    evidence = evidence_of(predictor)
    if not evidence.earned:
        print(f"mammokit: WARNING: {evidence.warning}", file=sys.stderr)
    if out is not None or dataset is not None:  # batch mode (bundle/_batch.py)
        from ._predict_batch import batch_records, run_batch

        if out is None:
            raise typer.BadParameter("--dataset needs --out FILE.csv or FILE.parquet (batch predictions go to a file)")
        records = batch_records(images, dataset, data)
        if run_batch(predictor, records, out, prevalence=prevalence, batch_size=batch_size, threads=threads,
                     cache=cache, restart=restart, engine=engine, address=address):
            raise typer.Exit(code=2)
        return
    if not images:
        raise typer.BadParameter("give at least one image (or --out FILE.csv with folders, a manifest or --dataset)")
    failures = 0
    for path in images:
        try:
            pred = predictor.predict(path, heatmap=heatmap_dir is not None)
        except MammokitError as exc:
            failures += 1
            print(f"mammokit: error: {exc}", file=sys.stderr)
            continue
        except Exception as exc:  # noqa: BLE001 - one file the library did not foresee never stops the batch
            failures += 1
            print(f"mammokit: error: {path}: cannot be analysed: {' '.join(str(exc).split())[:200]}", file=sys.stderr)
            continue
        a = assessment_of(pred, evidence, prevalence)
        heat_path = _save_heatmap(pred, heatmap_dir, path.stem) if heatmap_dir is not None else None
        if as_json:
            # "warning" first: a reader of the JSON meets it before any number
            d = {"warning": a.withheld, **pred.as_dict()}
            d["birads"] = None if a.category is None else {"category": a.category, "description": a.description,
                                                           "rule": a.rule}
            d["assessment"] = a.as_dict()
            d["heatmap"] = str(heat_path) if heat_path else None
            print(strict_dumps(d, allow_nan=False))
            continue
        _print_text(path, pred, a, heat_path)
    if not as_json:
        print(RESEARCH_DISCLAIMER)
    if failures:
        raise typer.Exit(code=2)
