"""Load a bundle into a Predictor (bundle/_manifest.py): image (or path) in, calibrated class probabilities out.

``HeadPredictor`` serves the whole-image bundles (dense head or logistic on pooled backbone features);
``load_bundle`` dispatches on the manifest's ``model_type`` (the lesion model: bundle/_lesion.py)."""
from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from ..constants import MALIGNANT
from ..errors import MammokitError, ModelError
from ..evaluate import Calibrator
from ..models import logistic_from_arrays
from ..protocols import FittedPipeline
from ._evidence import ModelEvidence, model_evidence
from ._manifest import MANIFEST, Predictor, read_manifest
from ._prediction import Prediction
from ._save import standardised_distance

HEAD_TYPES = ("dense_head", "logistic")  # the whole-image bundles' model_type (= their head)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing from the bundle") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None


def load_npz(path: Path) -> dict:
    """Every array of a bundle's .npz file (no pickle); a missing or unreadable file is a ModelError."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ModelError(f"{path}: missing from the bundle") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None


def as_image(image_or_path):
    """(Image, source name) for what a predictor is given: an Image, a 2-D grey array (0-1, 0-255 or raw
    counts, scaled to 0-1) or a path to read."""
    from ..io import Image, ImageMeta, read_image

    if isinstance(image_or_path, Image):
        return image_or_path, str(image_or_path.meta.path)
    if isinstance(image_or_path, np.ndarray):
        px = np.asarray(image_or_path, dtype=np.float32)
        if px.ndim != 2:
            raise ModelError(f"image array must be 2-D grey (rows, cols); got shape {px.shape}")
        if px.max(initial=0) > 1.0:
            px = px / 255.0 if px.max() <= 255 else px / px.max()
        return Image(px, ImageMeta(path="<array>", format="array", bits_stored=8)), "<array>"
    return read_image(image_or_path), str(image_or_path)


class HeadPredictor:
    """A loaded whole-image bundle. ``predict(image_or_path)`` returns a Prediction with calibrated
    probabilities (the Predictor protocol)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        m = read_manifest(self.path)
        if m["model_type"] not in HEAD_TYPES:
            raise ModelError(f"{self.path / MANIFEST}: a {m['model_type']} bundle, not a whole-image one "
                             "(use load_bundle)")
        self.manifest = m
        self.classes: tuple[str, ...] = tuple(m["classes"])
        sc = load_npz(self.path / "scaler.npz")
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_, scaler.var_ = sc["mean"], sc["scale"], sc["var"]
        scaler.n_samples_seen_ = sc["n_samples_seen"]
        scaler.n_features_in_ = len(sc["mean"])
        head = m["head"]
        if head["type"] == "dense_head":
            import torch  # the dense head is a torch module; a logistic or lesion bundle never imports torch

            from ..models import DenseHead

            try:
                state_dict = torch.load(self.path / head["file"], map_location="cpu", weights_only=True)
            except FileNotFoundError:
                raise ModelError(f"{self.path / head['file']}: missing from the bundle") from None
            except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
                raise ModelError(f"{self.path / head['file']}: unreadable head weights ({type(exc).__name__})") from None
            model = DenseHead.from_state(
                {"state_dict": state_dict, "n_features": head["n_features"], "n_classes": len(self.classes),
                 "hidden": head["hidden"], "dropout": head["dropout"]}, np.arange(len(self.classes)))
        elif head["type"] == "logistic":
            arr = load_npz(self.path / head["file"])
            model = logistic_from_arrays(arr["coef"], arr["intercept"], np.arange(len(self.classes)))
        else:
            raise ModelError(f"{self.path}: unknown head type {head['type']!r}")
        calibrator = Calibrator.from_dict(_read_json(self.path / "calibrator.json"))
        self.pipeline = FittedPipeline(len(self.classes), scaler, model, calibrator, m.get("training", {}))
        self._backbone = None
        self._torch_model = None
        self._backbone_checked = False

    @property
    def evidence(self) -> ModelEvidence:
        """Whether this model has earned a BI-RADS suggestion, and the prevalence it was calibrated at."""
        prior = self.pipeline.calibrator.prior_real
        fallback = None if prior is None else {c: float(v) for c, v in zip(self.classes, prior)}
        return model_evidence(self.manifest, fallback)

    # -- the backbone (loaded on first image) -----------------------------------------
    @property
    def preprocess_config(self):
        from ..preprocess import PreprocessConfig

        return PreprocessConfig.from_dict(self.manifest["preprocess"])

    def check_backbone(self) -> None:
        """ModelError unless the backbone weights found here are the ones the model was trained on (by their
        identity string: no torch import, no model build). Checked once per loaded bundle, as the backbone is
        loaded once; the single-image, batch and Ray paths all call it."""
        if self._backbone_checked:
            return
        from ..features import backbone_identity

        b = self.manifest["backbone"]
        ident = backbone_identity(b["name"], b.get("weights"), int(self.manifest["preprocess"]["size"]))
        if ident != b["identity"]:
            raise ModelError(f"{self.path}: backbone weights differ from the ones the model was trained on "
                             f"(bundle {b['identity']}, found {ident})")
        self._backbone_checked = True

    def _load_backbone(self):
        """The torch backbone, for Grad-CAM only (features come from the engine)."""
        if self._backbone is None:
            from ..features import load_backbone

            self.check_backbone()
            b = self.manifest["backbone"]
            self._backbone = load_backbone(b["name"], b.get("weights"), int(self.manifest["preprocess"]["size"]))
        return self._backbone

    @property
    def target_layer(self):
        return self._load_backbone().target_layer

    def torch_model(self):
        """Preprocessed image tensor (N,3,H,W) -> head logits (before prior correction / calibration), as one
        torch module for Grad-CAM; built (and torch imported) on first use."""
        if self._torch_model is None:
            from ..models import DenseHead, image_model, logistic_as_module

            model = self.pipeline.model
            head = model.module_ if isinstance(model, DenseHead) else logistic_as_module(model)
            sc = self.pipeline.scaler
            self._torch_model = image_model(self._load_backbone().module, sc.mean_, sc.scale_, head)
        return self._torch_model

    # -- prediction ------------------------------------------------------------------
    def predict_features(self, X) -> np.ndarray:
        """Calibrated probabilities for pooled feature rows (n, d)."""
        return self.pipeline.predict_proba(np.atleast_2d(np.asarray(X, dtype=np.float32)))

    def features_of(self, tensor: np.ndarray) -> np.ndarray:
        """Pooled backbone features of one preprocessed (3,H,W) tensor, from the same engine (ONNX Runtime by
        default) as ``mammokit features`` and the batch path, so exactly as the cache stores them."""
        from ..features import DEFAULT_RUNTIME, feature_maps, load_engine

        b = self.manifest["backbone"]
        self.check_backbone()
        engine = load_engine(b["name"], b.get("weights"), int(self.manifest["preprocess"]["size"]), DEFAULT_RUNTIME)
        return feature_maps(engine, tensor[None], bool(b.get("tta", False))).mean(axis=(2, 3)).astype(np.float32)

    def predict(self, image_or_path, heatmap: bool = False) -> Prediction:
        from ..preprocess import preprocess

        image, source = as_image(image_or_path)
        pre = preprocess(image, self.preprocess_config)
        feats = self.features_of(pre.tensor)
        pred = self.predictions_from_features(feats, [pre.mask_fraction], [source], [pre.view])[0]
        if heatmap:
            k = self.classes.index(pred.label)
            import torch  # Grad-CAM runs the torch model; imported only when a heatmap is asked for

            from ..explain import gradcam_heatmap

            try:
                pred.heatmap = gradcam_heatmap(self.torch_model(), torch.from_numpy(pre.tensor[None]), k,
                                               self.target_layer)
            except MammokitError as exc:
                pred.notes.append(f"heatmap unavailable: {exc}")
        return pred

    def predictions_from_features(self, feats: np.ndarray, mask_fractions, sources, views=None) -> list[Prediction]:
        """Predictions for pooled feature rows (n, d) of preprocessed images: calibrated probabilities and the
        out-of-distribution checks (breast-mask share, distance from the training features); no heatmaps.
        The one place both ``predict`` and the batch path (bundle/_batch.py) turn features into answers."""
        feats = np.atleast_2d(np.asarray(feats, dtype=np.float32))
        raw = self.pipeline.proba_raw(feats)
        proba = self.pipeline.calibrator.transform(raw)
        dists = standardised_distance(self.pipeline.scaler.transform(feats))
        ood = self.manifest.get("ood", {})
        lo, hi = ood.get("mask_fraction_range", (0.0, 1.0))
        out = []
        for i in range(len(feats)):
            probs = {c: float(p) for c, p in zip(self.classes, proba[i])}
            k = int(np.argmax(proba[i]))
            notes: list[str] = []
            frac = float(mask_fractions[i])
            looks_like = lo <= frac <= hi
            if not looks_like:
                notes.append(f"breast mask covers {frac:.0%} of the image (expected {lo:.0%}-{hi:.0%}): "
                             "this may not be a mammogram")
            dist = float(dists[i])
            near = dist <= ood.get("threshold", np.inf)
            if not near:
                notes.append(f"features are far from the training images (distance {dist:.2f} > "
                             f"{ood['threshold']:.2f}): the probabilities may be meaningless")
            out.append(Prediction(
                label=self.classes[k], classes=self.classes, probabilities=probs,
                p_malignant=probs.get(MALIGNANT), view=None if views is None else views[i], heatmap=None,
                in_distribution=bool(looks_like and near), notes=notes,
                raw_probabilities={c: float(p) for c, p in zip(self.classes, raw[i])}, source=str(sources[i]),
            ))
        return out


def evidence_of(predictor) -> ModelEvidence:
    """The evidence of any loaded predictor (a Predictor, or an object with only a manifest)."""
    ev = getattr(predictor, "evidence", None)
    return ev if isinstance(ev, ModelEvidence) else model_evidence(getattr(predictor, "manifest", {}) or {})


def load_bundle(path: str | Path) -> Predictor:
    """The Predictor for bundle folder ``path`` (as written by ``mammokit run``), by its ``model_type``."""
    if read_manifest(path)["model_type"] == "lesion":
        from ._lesion import load_lesion_bundle

        return load_lesion_bundle(path)
    return HeadPredictor(path)
