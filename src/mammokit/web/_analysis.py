"""Run the loaded model bundle on one image and derive what the result page shows."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..birads import (
    DEFAULT_DEPLOYMENT_PREVALENCE,
    BiradsAssessment,
    BiradsThresholds,
    assess,
    check_prevalence,
)
from ..bundle import ModelEvidence, evidence_of
from ..errors import ModelError
from ..explain import overlay_heatmap
from ..io import Image
from ._display import original_with_peak


@dataclass
class Analysis:
    label: str
    classes: tuple[str, ...]
    probabilities: dict[str, float]
    p_malignant: float | None
    in_distribution: bool
    notes: list[str]
    birads: BiradsAssessment  # category None when the model has not earned one
    view: np.ndarray  # uint8 (size, size): what the model saw
    heatmap: np.ndarray | None  # float [0, 1] (size, size)
    overlay: np.ndarray | None = field(default=None)  # uint8 RGB
    original: np.ndarray | None = field(default=None)  # the uploaded image for display (see _display)
    peak_marked: bool = False  # the heatmap peak is marked on `original` and `overlay`


class ModelService:
    """Owns the predictor. Loads the bundle once; one prediction at a time (Grad-CAM hooks the model)."""

    def __init__(self, model_path: Path | None, thresholds: BiradsThresholds | dict | None = None,
                 predictor: Any = None, prevalence: float = DEFAULT_DEPLOYMENT_PREVALENCE):
        self.model_path = Path(model_path) if model_path else None
        self.thresholds = (thresholds if isinstance(thresholds, BiradsThresholds)
                           else BiradsThresholds.from_mapping(thresholds))
        self.prevalence = check_prevalence(prevalence)
        self._predictor = predictor
        self._evidence: ModelEvidence | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._predictor is not None or self.model_path is not None

    def load(self) -> Any:
        if self._predictor is None:
            if self.model_path is None:
                raise ModelError("no model loaded: start the server with --model BUNDLE")
            from ..bundle import load_bundle

            self._predictor = load_bundle(self.model_path)
        return self._predictor

    @property
    def evidence(self) -> ModelEvidence:
        """Whether the loaded model has earned a BI-RADS suggestion (read once from its manifest)."""
        if self._evidence is None:
            self._evidence = evidence_of(self.load())
        return self._evidence

    @property
    def manifest(self) -> dict:
        return getattr(self.load(), "manifest", {}) or {}

    @property
    def heatmap_method(self) -> str:
        manifest = getattr(self._predictor, "manifest", {}) or {}
        return "lesion model" if manifest.get("model_type") == "lesion" else "Grad-CAM"

    @property
    def identity(self) -> str:
        """One line saying which model answered and how well it measured, shown with every result."""
        if self._predictor is None:
            return str(self.model_path or "")
        return describe_manifest(getattr(self._predictor, "manifest", {}) or {}, self.model_path)[:255]

    @property
    def compares_breasts(self) -> bool:
        """Whether the model scores a breast against the other one (the lesion model's `pair=`)."""
        import inspect

        try:
            return "pair" in inspect.signature(self.load().predict).parameters
        except (TypeError, ValueError):
            return False

    def analyse(self, image: Image, prevalence: float | None = None, pair: Image | None = None) -> Analysis:
        """``prevalence``: the deployment prevalence for this request (default: the server's); ``pair``: the
        other breast (same view), used when the model compares the two."""
        predictor = self.load()
        evidence = self.evidence
        kw = {"pair": pair} if pair is not None and self.compares_breasts else {}
        with self._lock:
            pred = predictor.predict(image, heatmap=True, **kw)
        probs = {str(k): float(v) for k, v in pred.probabilities.items()}
        notes = [str(n) for n in (pred.notes or [])]
        in_dist = bool(pred.in_distribution)
        reason = None if in_dist else ("; ".join(notes) or "the image is unlike the training images")
        birads = assess(probs, earned=evidence.earned, warning=evidence.warning,
                        training_prevalence=evidence.training_prevalence,
                        deployment_prevalence=self.prevalence if prevalence is None else prevalence,
                        assessable=in_dist, reason=reason, thresholds=self.thresholds)
        view = np.asarray(pred.view)
        if view.dtype != np.uint8:
            view = (np.clip(view.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
        heat = None if pred.heatmap is None else np.clip(np.asarray(pred.heatmap, dtype=np.float32), 0, 1)
        overlay = overlay_heatmap(view, heat) if heat is not None else None
        original, overlay, marked = original_with_peak(pred, image.pixels, overlay)
        p_mal = None if pred.p_malignant is None else float(pred.p_malignant)
        return Analysis(str(pred.label), tuple(pred.classes), probs, p_mal, in_dist, notes, birads,
                        view, heat, overlay, original, marked)


def describe_manifest(m: dict, path: Path | None = None) -> str:
    """'efficientnet_lite2 + dense_head, 3class, mias 322 images; measured by cv: balanced accuracy 0.52 (95% CI ...)'."""
    try:
        parts = [f"{m['backbone']['name']} + {m.get('model_type') or m['head']['type']}", str(m.get("task", ""))]
        ds = m.get("dataset") or {}
        if ds:
            parts.append(f"{ds.get('name', '?')} {ds.get('n_images', '?')} images")
        text = ", ".join(p for p in parts if p)
        metrics = m.get("metrics") or {}
        scores = []
        for key, name in (("balanced_accuracy", "balanced accuracy"), ("macro_roc_auc", "macro ROC AUC"),
                          ("3class_macro_roc_auc", "3-class macro ROC AUC"),
                          ("normal_vs_abnormal_roc_auc", "normal-vs-abnormal ROC AUC")):
            v = metrics.get(key)
            if isinstance(v, dict) and v.get("value") is not None:
                ci = v.get("ci") or [None, None]
                ci_txt = f" (95% CI {ci[0]:.2f}-{ci[1]:.2f})" if None not in ci else ""
                scores.append(f"{name} {v['value']:.2f}{ci_txt}")
            elif isinstance(v, (int, float)):
                scores.append(f"{name} {v:.2f}")
        if scores:
            how = metrics.get("protocol") or m.get("protocol") or "cross-validation"
            text += f"; measured by {how}: " + ", ".join(scores)
        return text
    except (KeyError, TypeError, ValueError):
        return str(path or "model")
