"""Ablation (issue 12, lever "cell classifier"): the lesion model's linear cell classifier vs a non-linear one.

The lesion model scores every feature-map cell with a linear classifier (standardise -> PCA -> logistic regression,
``mammokit.models.lesion.LinearCellClassifier``), trained on lesion cells vs (hard-)negative normal-tissue cells,
and turns the cell logits into image probabilities with an aggregator chosen by inner CV. This script runs the
lesion cross-validation of a lesion config (``protocols._lesion_cv.cross_validate``, wired exactly as
``mammokit run`` wires it in ``orchestration._lesion_run``: same config, cached maps, folds, seeds and metrics)
once per cell-classifier variant:

* ``linear``: the library as it is, nothing patched (must reproduce the config's published figures);
* ``hgb``: sklearn HistGradientBoostingClassifier on the same standardised PCA components;
* ``mlp``: a small sklearn MLPClassifier on the same standardised PCA components.

Everything else is unchanged: the same cells, the same PCA basis (fitted on the outer training fold's cells, shared
by its inner folds), the same hard-negative mining (ranked by the variant's own scores), the same class balancing,
the same inner-CV choice of smoothing and aggregator, the same outer folds and seeds. A non-linear head outputs its
raw log-odds (``decision_function``), the scale the linear head's logits live on, so the aggregator's inputs
(max, top-k mean, malignant logit at the peak, ...) keep their meaning.

The hyper-parameters below were fixed before any outer-fold result of a non-linear variant was seen; none is tuned.
This is an outer-CV ablation: exploratory. A variant may enter the model only as a candidate of the inner-CV
selection, declared in a config before its outer results are seen.

    .venv/bin/python benchmarks/lesion_cell_classifier.py                      # linear, hgb, mlp on the demo config
    .venv/bin/python benchmarks/lesion_cell_classifier.py --variants linear hgb --config configs/mias-lesion.yaml
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, machine, write_json

# --- Declared before any non-linear outer-fold result (fixed; not tuned) --------------------------------------
# HGB: 100 trees at rate 0.1 rather than 200 at 0.05, set from the CPU time of one cell fit (16 s for 200 trees on
# the 2-core machine), before any outer-fold figure; the MLP stops at 200 epochs (ConvergenceWarning silenced).
HGB_PARAMS = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 20,
              "l2_regularization": 1.0, "early_stopping": False}
MLP_PARAMS = {"hidden_layer_sizes": (32,), "alpha": 1e-2, "learning_rate_init": 1e-3, "max_iter": 200,
              "early_stopping": False, "batch_size": 256}
CONFIG = "configs/mias-lesion-demo.yaml"
PUBLISHED = {  # docs/results.md, "make demo's lesion-aware row": the linear run must reproduce these
    "configs/mias-lesion-demo.yaml": {"normal_vs_abnormal": 0.644, "benign_vs_malignant": 0.499, "3class": 0.613},
}
VARIANTS = ("linear", "hgb", "mlp")
N_PAIRED_BOOT = 1000  # patient-bootstrap resamples for the paired difference to the linear run
# ------------------------------------------------------------------------------------------------------------


def _basis(X: np.ndarray, n_components: int, seed: int) -> tuple:
    """The label-free projection LinearCellClassifier.fit makes: standardise, PCA, standardise the components."""
    from sklearn.decomposition import PCA

    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    if n_components and n_components < min(Z.shape):
        P = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(Z).components_.T
        P = P.astype(np.float32)
    else:
        P = np.eye(X.shape[1], dtype=np.float32)
    T = Z @ P
    return mu, sd, P, T.mean(0), T.std(0) + 1e-6


def _project(X: np.ndarray, basis: tuple) -> np.ndarray:
    mu, sd, P, tmu, tsd = basis
    return ((np.asarray(X, np.float32) - mu) / sd @ P - tmu) / tsd


class HeadClassifier:
    """A cell classifier on the projected cells: ``score(rows)`` -> log-odds. ``kind`` is linear (logistic
    regression, the library's head, used for the neutrality check), hgb or mlp; None: constant 0."""

    def __init__(self, kind: str | None, est=None, basis: tuple | None = None):
        self.kind, self.est, self.basis = kind, est, basis

    @classmethod
    def fit(cls, kind: str, X, y, *, n_components: int, C: float, balance: str, seed: int, basis=None):
        X = np.asarray(X, np.float32)
        basis = _basis(X, n_components, seed) if basis is None else basis
        T, yy = _project(X, basis), np.asarray(y).astype(int)
        if balance in ("smote", "random_oversample"):
            from mammokit.balance import make_sampler

            T, yy = make_sampler(balance, yy, random_state=seed).fit_resample(T, yy)
        balanced = balance == "class_weight"
        if kind == "linear":
            from sklearn.linear_model import LogisticRegression

            est = LogisticRegression(C=C, class_weight="balanced" if balanced else None, max_iter=2000).fit(T, yy)
        elif kind == "hgb":
            from sklearn.ensemble import HistGradientBoostingClassifier

            est = HistGradientBoostingClassifier(**HGB_PARAMS, class_weight="balanced" if balanced else None,
                                                 random_state=seed).fit(T, yy)
        elif kind == "mlp":
            from sklearn.neural_network import MLPClassifier
            from sklearn.utils.class_weight import compute_sample_weight

            sw = compute_sample_weight("balanced", yy) if balanced else None
            est = MLPClassifier(**MLP_PARAMS, random_state=seed).fit(T, yy, sample_weight=sw)
        else:
            raise ValueError(f"unknown cell classifier {kind!r}")
        return cls(kind, est, basis), basis

    def score_projected(self, T: np.ndarray) -> np.ndarray:
        if self.est is None:
            return np.zeros(len(T), np.float32)
        if self.kind == "mlp":  # MLPClassifier has no decision_function: the logit of its probability
            p = np.clip(self.est.predict_proba(T)[:, 1], 1e-7, 1 - 1e-7)
            return np.log(p / (1 - p)).astype(np.float32)
        return np.asarray(self.est.decision_function(T), np.float32)

    def score(self, rows: np.ndarray) -> np.ndarray:
        return self.score_projected(_project(rows, self.basis))


def make_cell_fit(kind: str):
    """``CellModels.fit`` with ``HeadClassifier(kind)`` in place of LinearCellClassifier: the same steps as the
    library's (models/lesion, CellModels.fit), except that hard negatives are ranked by the head's own score."""
    from mammokit.models.lesion import NEGATIVE, training_cells

    def fit(cls, records, maps, train_index, s, seed, bases=None):
        abn, mal, fitted_bases = {}, {}, {}
        train_index = sorted(int(i) for i in train_index)
        normal_train = [i for i in train_index if not records[i].lesions]
        for size in s.sizes:
            cells, grids = training_cells(records, maps, train_index, size, negatives_per_image=s.negatives_per_image,
                                          seed=seed, min_breast=s.min_breast, margin_cells=s.margin_cells)
            kw = {"n_components": s.pca, "C": s.C, "seed": seed}
            clf, basis = HeadClassifier.fit(kind, cells.X, cells.y, balance=s.balance, basis=(bases or {}).get(size),
                                            **kw)
            fitted_bases[size] = basis
            X, y = cells.X, cells.y
            taken = {i: set() for i in normal_train}
            for _ in range(s.hard_negative_rounds if s.hard_negatives_per_image else 0):
                hard = []
                for i in normal_train:  # hard negatives: the normal tissue this round mistakes most for lesion
                    cand = np.asarray([c for c in np.flatnonzero(grids[i].ravel() == NEGATIVE) if c not in taken[i]])
                    if not len(cand):
                        continue
                    cand_rows = maps[i].scales[size].cells(cand)
                    order = np.argsort(clf.score(cand_rows), kind="stable")[::-1][: s.hard_negatives_per_image]
                    taken[i].update(cand[order].tolist())
                    hard.append(cand_rows[order])
                if not hard:
                    break
                X = np.concatenate([X, *hard])
                y = np.concatenate([y, np.zeros(sum(len(h) for h in hard), y.dtype)])
                clf, _ = HeadClassifier.fit(kind, X, y, balance=s.balance, basis=basis, **kw)
            abn[size] = clf
            pos = cells.y == 1
            ym = cells.malignant[pos].astype(int)
            if len(np.unique(ym)) == 2:
                mal[size], _ = HeadClassifier.fit(kind, cells.X[pos], ym, balance="class_weight", basis=basis, **kw)
            else:  # a fold without one severity: no malignancy evidence, constant score
                mal[size] = HeadClassifier(None, None, basis)
        return cls(abn, mal, fitted_bases)

    return fit


def size_logits(self, maps, sizes=None):
    """``CellModels.size_logits`` for any head: every cell projected once per image, then both heads applied."""
    out = {}
    for size in sorted(sizes or self.abnormal):
        hw = maps[0].scales[size].grid
        a_clf, m_clf = self.abnormal[size], self.malignant[size]
        A, M = [], []
        for mp in maps:
            T = _project(mp.scales[size].rows32(), a_clf.basis)
            A.append(a_clf.score_projected(T).reshape(hw))
            M.append(m_clf.score_projected(T).reshape(hw))
        out[size] = (A, M)
    return out


@contextmanager
def cell_classifier(kind: str):
    """Swap the cell classifier for this process only. src/ is not edited: CellModels (the one class object that
    LesionModel.fit and the inner-CV selection both call, whichever module of models/lesion defines it) gets
    this script's ``fit`` and ``size_logits`` as class attributes for the duration of the block, and its own back
    afterwards. ``CellModels.mean`` (test_cells: ensemble) and the bundle arrays stay linear-only, so the caller
    refuses a config with test_cells other than refit; nothing here writes a bundle."""
    from mammokit.models.lesion import CellModels

    saved = {name: CellModels.__dict__[name] for name in ("fit", "size_logits")}
    CellModels.fit = classmethod(make_cell_fit(kind))
    CellModels.size_logits = size_logits
    try:
        yield
    finally:
        for name, attr in saved.items():
            setattr(CellModels, name, attr)


def neutrality_check(records, maps, settings, seed: int) -> float:
    """The patch itself must not move anything: on one training fold, the patched path with a logistic head gives
    the library's own cell logits. Returns the largest absolute difference over every cell of 32 images."""
    from mammokit.models.lesion import CellModels

    train = np.arange(0, len(records), 2)
    some = [maps[i] for i in range(1, 65, 2)]
    ref = CellModels.fit(records, maps, train, settings, seed).size_logits(some)
    with cell_classifier("linear"):
        new = CellModels.fit(records, maps, train, settings, seed).size_logits(some)
    return float(max(np.max(np.abs(np.asarray(ref[z][h]) - np.asarray(new[z][h]))) for z in ref for h in (0, 1)))


def paired_difference(y3, P_ref, P_new, patients, n_boot: int, seed: int) -> dict:
    """Pooled ROC-AUC of the variant minus the linear run's, per task, with a 95% patient-bootstrap CI: the same
    out-of-fold rows (same folds) resampled by patient, both runs together."""
    from sklearn.metrics import roc_auc_score

    from mammokit.orchestration._lesion_run import task_view

    def auc(task, rows_idx):
        out = []
        for P in (P_ref, P_new):
            _, y, Pt = task_view(y3[rows_idx], P[rows_idx], task)
            if task == "3class":
                out.append(roc_auc_score(y, Pt, multi_class="ovr", average="macro", labels=[0, 1, 2]))
            else:
                out.append(roc_auc_score(y, Pt[:, 1]))
        return out[1] - out[0]

    uniq = np.unique(patients)
    by_patient = {p: np.flatnonzero(patients == p) for p in uniq}
    rng = np.random.default_rng(seed)
    res = {}
    for task in ("normal_vs_abnormal", "benign_vs_malignant", "3class"):
        point = auc(task, np.arange(len(y3)))
        boots = []
        for _ in range(n_boot):
            idx = np.concatenate([by_patient[p] for p in rng.choice(uniq, len(uniq), replace=True)])
            try:
                boots.append(auc(task, idx))
            except ValueError:  # a resample without one class
                continue
        lo, hi = np.percentile(boots, [2.5, 97.5])
        res[task] = {"delta_roc_auc": float(point), "ci": [float(lo), float(hi)], "n_boot": len(boots)}
    return res


def run_variant(kind, records, maps, settings, cfg) -> tuple[dict, tuple]:
    from threadpoolctl import threadpool_limits

    from mammokit.constants import TASKS
    from mammokit.orchestration._lesion_run import _localisation, _task_block
    from mammokit.protocols._lesion_cv import cross_validate

    seed, threads = int(cfg["seed"]), int(cfg["features"]["threads"] or 1)
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "linear":  # the library untouched
        res = cross_validate(records, maps, settings, folds=int(cfg["protocol"]["folds"]),
                             repeats=int(cfg["protocol"]["repeats"]), seed=seed, threads=threads)
    else:
        with cell_classifier(kind):
            res = cross_validate(records, maps, settings, folds=int(cfg["protocol"]["folds"]),
                                 repeats=int(cfg["protocol"]["repeats"]), seed=seed, threads=threads)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    y3, P3, groups, repeats = res.arrays()
    with threadpool_limits(limits=threads):
        tasks = {t: _task_block(y3, P3, groups, repeats, t, int(cfg["bootstrap"]["n"]), seed) for t in TASKS}
    loc = _localisation(res)
    out = {
        "cell_classifier": kind,
        "params": {"linear": {"C": settings.C, "pca": settings.pca}, "hgb": HGB_PARAMS,
                   "mlp": MLP_PARAMS}[kind],
        "pooled_roc_auc": {t: {"value": tasks[t]["metrics"]["macro_roc_auc"]["value"],
                               "ci": tasks[t]["metrics"]["macro_roc_auc"]["ci"]} for t in TASKS},
        "mean_of_repeats_roc_auc": {t: tasks[t]["mean_of_repeats"]["macro_roc_auc"] for t in TASKS},
        "localisation": {"hit_rate": loc["hit_rate"], "per_repeat": loc["per_repeat"]},
        "inner_choices": [{"repeat": f["repeat"], "fold": f["fold"], "smooth": f["smooth_used"],
                           "aggregator": f["aggregator"], "features": f["features_used"]} for f in res.fits],
        "leak_check": res.leak_check,
        "proba_range_max": float(np.ptp(P3, axis=0).max()),  # near-constant check: largest per-class range
        "cv_wall_s": round(wall, 1), "cv_cpu_s": round(cpu, 1),
    }
    return out, (list(res.ids), y3, P3, groups)


def main(argv=None) -> int:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the MLP's fixed epoch budget (above)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=CONFIG)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--out", type=Path, default=RESULTS / "lesion_cell_classifier.json")
    args = ap.parse_args(argv)
    os.chdir(REPO)  # the config's relative paths and the default cache/ are the repository's
    from mammokit.features import compute_cell_maps
    from mammokit.orchestration._lesion_run import _records, load_lesion_config, settings_of

    cfg = load_lesion_config(yaml.safe_load(Path(args.config).read_text()), name=Path(args.config).stem)
    settings = settings_of(cfg)
    if settings.test_cells != "refit":
        raise SystemExit(f"{args.config}: model.test_cells is {settings.test_cells!r}; this ablation supports refit")
    records = _records(cfg)
    t0 = time.perf_counter()
    maps, _ = compute_cell_maps(records, backbone=settings.backbone, weights=settings.weights, sizes=settings.sizes,
                                intensity=settings.intensity, cache_dir=cfg["features"]["cache_dir"],
                                threads=cfg["features"]["threads"], progress=False)
    print(f"maps: {len(maps)} images at {settings.sizes} in {time.perf_counter() - t0:.0f} s", flush=True)
    payload = {"config": args.config, "machine_start": machine(),
               "declared_params": {"hgb": HGB_PARAMS, "mlp": MLP_PARAMS}, "variants": {}}
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(cfg["features"]["threads"] or 1)):
        payload["patch_neutrality_max_abs_logit_diff"] = neutrality_check(records, maps, settings, int(cfg["seed"]))
    print(f"patch neutrality (logistic head through the patched path): max |diff| "
          f"{payload['patch_neutrality_max_abs_logit_diff']:.2e}", flush=True)
    if payload["patch_neutrality_max_abs_logit_diff"] > 1e-3:
        raise SystemExit("the patched path does not reproduce the library's linear cell logits; stopping")
    probs = {}
    for kind in args.variants:
        out, probs[kind] = run_variant(kind, records, maps, settings, cfg)
        pub = PUBLISHED.get(args.config)
        if kind == "linear" and pub:
            got = {t: out["pooled_roc_auc"][t]["value"] for t in pub}
            out["reproduces_published"] = all(abs(got[t] - pub[t]) < 0.0015 for t in pub)
        payload["variants"][kind] = out
        print(kind, {t: round(v["value"], 3) for t, v in out["pooled_roc_auc"].items()},
              f"loc {out['localisation']['hit_rate']:.3f}", f"cv {out['cv_wall_s']} s wall, {out['cv_cpu_s']} s cpu",
              flush=True)
        if kind == "linear" and not out.get("reproduces_published", True):
            payload["machine_end"] = machine()
            write_json(args.out, payload)
            raise SystemExit("the linear run does not reproduce the published figures; stopping")
        if kind != "linear" and "linear" in probs:
            ids_ref, y_ref, P_ref, g_ref = probs["linear"]
            ids_new, y_new, P_new, _ = probs[kind]
            if list(ids_ref) != list(ids_new) or not np.array_equal(y_ref, y_new):
                raise SystemExit("out-of-fold rows differ between runs: not the same folds")
            out["paired_vs_linear"] = paired_difference(y_ref, P_ref, P_new, g_ref, N_PAIRED_BOOT, int(cfg["seed"]))
            print("  paired vs linear:", {t: (round(v["delta_roc_auc"], 3), [round(c, 3) for c in v["ci"]])
                                         for t, v in out["paired_vs_linear"].items()}, flush=True)
        payload["machine_end"] = machine()
        write_json(args.out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
