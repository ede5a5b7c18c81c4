"""Every JSON the project writes is standard JSON: NaN and infinities become null (issue 10)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mammokit._json import strict_dumps
from mammokit.evaluate import evaluate_run
from mammokit.evaluate._predictions import PredictionTable, write_predictions

SRC = Path(__file__).resolve().parents[1] / "src" / "mammokit"


def strict_loads(text: str):
    """json.loads that refuses NaN / Infinity / -Infinity, as browsers and other languages do."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_strict_loader_refuses_what_plain_json_writes():
    with pytest.raises(ValueError, match="NaN"):
        strict_loads(json.dumps({"inner_auc": float("nan")}))


def test_metrics_with_nan_are_written_as_null(tmp_path):
    metrics = {"inner_auc": float("nan"), "auc": np.float32(0.75), "ci": [np.float64("nan"), np.inf, -np.inf],
               "per_class": np.array([0.5, np.nan]), "n": np.int64(3), "leaky": np.bool_(False),
               "fits": [{"selection": {"512": {"inner_auc": np.float64("nan"), "features": ("max", "mean")}}}]}
    path = tmp_path / "metrics.json"
    path.write_text(strict_dumps(metrics, indent=2))
    back = strict_loads(path.read_text())
    assert back == {"inner_auc": None, "auc": 0.75, "ci": [None, None, None], "per_class": [0.5, None], "n": 3,
                    "leaky": False, "fits": [{"selection": {"512": {"inner_auc": None, "features": ["max", "mean"]}}}]}


def test_default_hook_results_are_made_strict_too():
    class Odd:
        pass

    assert strict_loads(strict_dumps({"x": Odd()}, default=lambda o: float("nan"))) == {"x": None}
    with pytest.raises(TypeError):
        strict_dumps({"x": Odd()})


def test_evaluate_rewrites_an_old_nan_metrics_file_as_strict_json(tmp_path):
    """A run folder written before the fix (the lesion model's inner_auc = NaN) comes back strict."""
    rng = np.random.default_rng(0)
    n = 24
    p = rng.dirichlet(np.ones(3), n)
    write_predictions(tmp_path / "predictions.csv", PredictionTable(
        ids=[f"i{k}" for k in range(n)], patients=np.array([f"p{k // 2}" for k in range(n)]),
        repeats=np.zeros(n, int), folds=np.arange(n) % 3, synthetic=np.zeros(n, int), paths=[""] * n,
        y_true=np.arange(n) % 3, proba=p, proba_raw=None, classes=("normal", "benign", "malignant"), extra={}))
    (tmp_path / "metrics.json").write_text('{"fits": [{"selection": {"512": {"inner_auc": NaN}}}]}')
    evaluate_run(tmp_path, n_boot=20, write=True)
    back = strict_loads((tmp_path / "metrics.json").read_text())
    assert back["fits"][0]["selection"]["512"]["inner_auc"] is None
    assert 0.0 <= back["metrics"]["accuracy"]["value"] <= 1.0


# Building a cache key is not writing JSON: these hash a settings blob and never store it as a file.
HASH_ONLY = {"features/_cache.py", "features/_onnx.py"}


def test_every_json_writer_goes_through_strict_dumps():
    plain = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "_json.py" or rel in HASH_ONLY:
            continue
        plain += [f"{rel}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                  if re.search(r"\bjson\.dumps?\(", line)]
    assert plain == [], f"use mammokit._json.strict_dumps instead of json.dump(s): {plain}"
