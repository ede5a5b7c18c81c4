"""Save / load the lesion model as a bundle folder (no pickle) and predict one image with a heatmap.

Files: manifest.json (kind mammokit-bundle, model_type lesion, settings, backbone identity, data set,
commit, cross-validated metrics), cells.npz (linear cell classifiers per input size), aggregator.npz.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._json import strict_dumps
from ..constants import MALIGNANT
from ..errors import ModelError
from ..features import CellMaps, ScaleMap, backbone_identity, maps_for_image
from ..models.lesion import Aggregator, CellModels, LesionModel, LesionSettings
from ..models.lesion._heatmap import heatmap_view, peak_original, resize_grid
from ..preprocess import Geometry
from ._evidence import ModelEvidence, model_evidence
from ._load import as_image, load_npz  # the same image input and npz reading as the head bundles
from ._manifest import MANIFEST, common_fields, read_manifest
from ._prediction import Prediction

MODEL_TYPE = "lesion"
MASK_FRACTION_RANGE = (0.03, 0.97)


@dataclass
class LesionPrediction(Prediction):
    """A Prediction plus where the heatmap sits in the original image."""

    geometry: Geometry | None = None  # model view <-> original pixels (geometry.to_original(x, y))
    peak: tuple[float, float] | None = None  # the heatmap's highest peak, ORIGINAL pixels (x, y)
    extra_views: dict = field(default_factory=dict)

    def heatmap_original(self) -> np.ndarray | None:
        """The heatmap warped back onto the original image grid (rows, cols), zero outside the crop."""
        if self.heatmap is None or self.geometry is None:
            return None
        return view_to_original(self.heatmap, self.geometry)

    def as_dict(self) -> dict:
        d = super().as_dict()
        d["heatmap_peak_original_xy"] = None if self.peak is None else [round(v, 1) for v in self.peak]
        return d


def view_to_original(view_map: np.ndarray, g: Geometry) -> np.ndarray:
    """Map a (size, size) array over the model view onto the original image (rows, cols)."""
    import cv2

    rows, cols = g.original_shape
    r0, r1, c0, c1 = g.box
    h, w = r1 - r0, c1 - c0
    nh, nw = max(1, round(h * g.scale)), max(1, round(w * g.scale))
    inner = view_map[g.pad[0]: g.pad[0] + nh, g.pad[1]: g.pad[1] + nw].astype(np.float32)
    crop = cv2.resize(inner, (w, h), interpolation=cv2.INTER_LINEAR)
    if g.flipped:
        crop = crop[:, ::-1]
    out = np.zeros((rows, cols), np.float32)
    out[r0:r1, c0:c1] = crop
    return out


def save_lesion_bundle(path: str | Path, model: LesionModel, *, dataset: dict, seed: int,
                       metrics_summary: dict | None = None, trained_on: str = "",
                       discrimination: dict | None = None, near_constant: dict | None = None,
                       prevalence: dict | None = None) -> Path:
    """``discrimination`` / ``near_constant``: measured on the cross-validation's out-of-fold predictions
    (bundle._evidence); a bundle without them has not shown it can separate the classes. ``prevalence``: the
    class frequencies the aggregator's probabilities refer to (BI-RADS moves P(malignant) from it to the
    deployment prevalence; without it no category is given)."""
    if model.cells is None or model.aggregator is None:
        raise ModelError("lesion model: nothing to save (fit it first)")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    s = model.settings

    manifest = common_fields(
        model_type=MODEL_TYPE, task="3class", classes=model.classes, positive_class=MALIGNANT,
        backbone={"name": s.backbone, "weights": s.weights,
                  "identity": {str(sz): backbone_identity(s.backbone, s.weights, sz) for sz in s.sizes}},
        dataset=dataset, seed=seed, trained_on=trained_on, metrics=metrics_summary, discrimination=discrimination,
        near_constant=near_constant, prevalence=prevalence, ood={"mask_fraction_range": list(MASK_FRACTION_RANGE)})
    manifest.update({
        "settings": s.as_dict(), "features_used": list(model.features_used or s.image_features),
        "aggregator_kind": model.aggregator.kind, "sizes_used": list(model.sizes_used or s.sizes),
        "smooth_used": s.smooth if model.smooth_used is None else int(model.smooth_used),
        "selection": model.selection,
        "preprocess": {"sizes": list(s.sizes), "mode": "imagenet", "crop": True, "orient": True,
                       "intensity": s.intensity},
        "heatmap": "P(lesion) of every feature-map cell (mean of the input sizes' logits), bilinear over the "
                   "largest input view; prediction.geometry maps view pixels to the original image",
    })
    np.savez(out / "cells.npz", **model.cells.to_arrays())
    arrays = {}
    for name, agg in (("pair", model.aggregator), ("single", model.aggregator_single)):
        for k in ("mean", "scale", "coef", "intercept"):
            arrays[f"{name}_{k}"] = getattr(agg, k)
    np.savez(out / "aggregator.npz", **arrays)
    (out / MANIFEST).write_text(strict_dumps(manifest, indent=2, default=str, allow_nan=False))
    return out


class LesionPredictor:
    """A loaded lesion bundle: ``predict(image)`` gives image-level probabilities and a lesion heatmap."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        m = read_manifest(self.path, MODEL_TYPE)
        self.manifest = m
        self.classes: tuple[str, ...] = tuple(m["classes"])
        settings = LesionSettings.from_dict(m["settings"])
        try:
            cells = CellModels.from_arrays(load_npz(self.path / "cells.npz"), settings.sizes)
            a = load_npz(self.path / "aggregator.npz")
            aggs = {n: Aggregator(a[f"{n}_mean"], a[f"{n}_scale"], a[f"{n}_coef"], a[f"{n}_intercept"],
                                  m.get("aggregator_kind", "multinomial")) for n in ("pair", "single")}
        except KeyError as exc:
            raise ModelError(f"{self.path}: bundle arrays incomplete (missing {exc})") from None
        self.model = LesionModel(settings, cells, aggs["pair"], aggs["single"], self.classes,
                                 tuple(m.get("features_used") or settings.image_features),
                                 tuple(int(v) for v in m.get("sizes_used") or settings.sizes),
                                 int(m.get("smooth_used", settings.smooth)))
        self.target_layer = None
        self._backbone_checked = False

    @property
    def evidence(self) -> ModelEvidence:
        """Whether this model has earned a BI-RADS suggestion, and the prevalence it was calibrated at."""
        return model_evidence(self.manifest)

    def torch_model(self):
        raise ModelError(f"{self.path}: the lesion model makes its own heatmap (predict(..., heatmap=True)); "
                         "Grad-CAM does not apply")

    def check_backbone(self) -> None:
        """ModelError unless the backbone weights found here are the ones the model was trained on, for every
        input size it combines (by identity string); checked once per loaded bundle, as in HeadPredictor."""
        if self._backbone_checked:
            return
        s = self.model.settings
        for sz in self.model.sizes_used or s.sizes:
            ident = backbone_identity(s.backbone, s.weights, sz)
            want = self.manifest["backbone"]["identity"].get(str(sz))
            if want and ident != want:
                raise ModelError(f"{self.path}: backbone weights differ from training (bundle {want}, loaded {ident})")
        self._backbone_checked = True

    def _maps(self, image) -> tuple[CellMaps, np.ndarray]:
        s = self.model.settings
        sizes = self.model.sizes_used or s.sizes  # only the input sizes the model combines
        self.check_backbone()  # before the backbone passes, not after
        scales, views = maps_for_image(image, backbone=s.backbone, weights=s.weights, sizes=sizes,
                                       intensity=s.intensity)
        return CellMaps("image", scales), views[self.model.view_size]

    def predict(self, image_or_path, heatmap: bool = True, pair=None) -> LesionPrediction:
        """``pair``: optionally the other breast of the same woman (path, Image or array); with it the
        contralateral comparison is used, without it the single-breast aggregator."""
        image, source = as_image(image_or_path)
        maps, view = self._maps(image)
        batch = [maps]
        pairs = [None]
        notes: list[str] = []
        if pair is not None:
            pmaps, _ = self._maps(as_image(pair)[0])
            batch, pairs = [maps, pmaps], [1, 0]
        elif self.model.settings.contralateral:
            notes.append("scored without the other breast (no pair given): single-breast aggregator")
        P, A, _, K = self.model.predict(batch, pairs)
        proba = P[0]
        s = self.model.settings
        mask = K[0] >= s.min_breast
        finest: ScaleMap = maps.scales[self.model.view_size]
        heat = heatmap_view(A[0], K[0], finest.size) if heatmap else None
        frac = float(resize_grid(K[0], (64, 64)).mean())
        lo, hi = self.manifest.get("ood", {}).get("mask_fraction_range", MASK_FRACTION_RANGE)
        looks_like = lo <= frac <= hi
        if not looks_like:
            notes.append(f"breast mask covers {frac:.0%} of the model view (expected {lo:.0%}-{hi:.0%}): "
                         "this may not be a mammogram")
        probs = {c: float(p) for c, p in zip(self.classes, proba)}
        k = int(np.argmax(proba))
        return LesionPrediction(
            label=self.classes[k], classes=self.classes, probabilities=probs, p_malignant=probs.get(MALIGNANT),
            view=view, heatmap=heat, in_distribution=bool(looks_like), notes=notes,
            raw_probabilities=dict(probs), source=source, geometry=finest.geometry,
            peak=peak_original(A[0], mask, finest.geometry),
        )


def load_lesion_bundle(path: str | Path) -> LesionPredictor:
    return LesionPredictor(path)
