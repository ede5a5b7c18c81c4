"""One bundle format: the manifest every bundle kind writes, the one reader, and the Predictor protocol.

A bundle is a folder with ``manifest.json`` plus the arrays its ``model_type`` needs (no pickle):

    dense_head / logistic   head.pt or head.npz, scaler.npz, calibrator.json       (bundle/_save.py)
    lesion                  cells.npz, aggregator.npz                              (bundle/_lesion.py)

Every manifest holds ``COMMON_FIELDS`` (written by ``common_fields``, so the kinds cannot drift apart: the
web app, the model card, ``predict`` and the served-bundle choice read only these) and its kind's own
fields beside them. ``read_manifest`` is the one place a manifest is read and checked; ``load_bundle``
dispatches on its ``model_type``.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Protocol, runtime_checkable

from .. import __version__
from .._provenance import git_commit
from ..constants import RESEARCH_DISCLAIMER
from ..errors import ModelError

MANIFEST = "manifest.json"
KIND = "mammokit-bundle"
BUNDLE_FORMAT = 1
MODEL_TYPES = ("dense_head", "logistic", "lesion")
COMMON_FIELDS = ("kind", "format", "model_type", "disclaimer", "created", "mammokit_version", "git_commit",
                 "task", "classes", "positive_class", "backbone", "dataset", "seed", "trained_on", "metrics",
                 "discrimination", "near_constant", "prevalence", "ood")


def common_fields(*, model_type: str, task: str, classes, positive_class: str | None, backbone: dict,
                  dataset: dict, seed: int, trained_on: str, metrics: dict | None, discrimination: dict | None,
                  near_constant: dict | None, prevalence: dict | None, ood: dict) -> dict:
    """The fields every manifest carries, in ``COMMON_FIELDS`` order (see bundle/_evidence.py for
    ``discrimination``, ``near_constant`` and ``prevalence``)."""
    if model_type not in MODEL_TYPES:
        raise ModelError(f"bundle model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    return {
        "kind": KIND, "format": BUNDLE_FORMAT, "model_type": model_type, "disclaimer": RESEARCH_DISCLAIMER,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "mammokit_version": __version__,
        "git_commit": git_commit(), "task": task, "classes": list(classes), "positive_class": positive_class,
        "backbone": backbone, "dataset": dataset, "seed": int(seed), "trained_on": trained_on,
        "metrics": metrics or {}, "discrimination": discrimination, "near_constant": near_constant,
        "prevalence": prevalence, "ood": ood,
    }


def read_manifest(bundle: str | Path, model_type: str | None = None) -> dict:
    """The checked manifest of bundle folder ``bundle``; a one-line ModelError naming the file otherwise
    (no folder, no manifest, unreadable, not a bundle, a newer format, another ``model_type``)."""
    folder = Path(bundle)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ModelError(f"{folder}: not a model bundle folder (run `mammokit run` to make one)")
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing (not a model bundle folder)") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({type(exc).__name__})") from None
    if not isinstance(m, dict) or m.get("kind") != KIND:
        raise ModelError(f"{path}: not a mammokit bundle manifest")
    fmt = m.get("format")
    if not isinstance(fmt, int) or fmt > BUNDLE_FORMAT:
        raise ModelError(f"{path}: bundle format {fmt!r} is newer than this mammokit reads ({BUNDLE_FORMAT}); "
                         "upgrade mammokit")
    kind = m.get("model_type")
    if kind not in MODEL_TYPES:
        raise ModelError(f"{path}: unknown model_type {kind!r} (known: {', '.join(MODEL_TYPES)})")
    if model_type is not None and kind != model_type:
        raise ModelError(f"{path}: a {kind} bundle, not a {model_type} bundle")
    missing = [f for f in ("classes", "task", "backbone") if f not in m]
    if missing:
        raise ModelError(f"{path}: manifest lacks {', '.join(missing)}")
    return m


@runtime_checkable
class Predictor(Protocol):
    """What ``load_bundle`` returns for every bundle kind, and all that the CLI, the batch path and the web
    app use: the manifest, the classes, the evidence for BI-RADS, the backbone-weights check, and one image
    in, a Prediction out."""

    path: Path
    manifest: dict
    classes: tuple[str, ...]

    @property
    def evidence(self): ...  # bundle._evidence.ModelEvidence

    def check_backbone(self) -> None: ...  # ModelError unless the backbone weights are the trained ones

    def predict(self, image_or_path, heatmap: bool = ...): ...  # -> bundle._prediction.Prediction
