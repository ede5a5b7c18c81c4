"""Write tests/golden/mias_features.npz: the fixed feature matrix the golden regression test trains on.

Run once (it was, to create the committed file); the test never re-runs it, because ONNX Runtime's
features may differ in the last bits on another CPU and the golden test must not depend on that.
Real data: the 322 mini-MIAS images' EfficientNet-Lite2 384 px features (as `make demo` computes them),
projected on their first 32 principal components and stored as float32.

    .venv/bin/python tests/golden/make_features.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from mammokit.datasets import load_dataset, task_targets
from mammokit.features import extract_features, resolve_preprocess

OUT = Path(__file__).with_name("mias_features.npz")


def main() -> None:
    records = load_dataset("mias", None)
    td = task_targets(records, "3class")
    used = [records[i] for i in td.indices]
    fs = extract_features(used, backbone="efficientnet_lite2",
                          preprocess=resolve_preprocess("efficientnet_lite2", None, size=384))
    X = PCA(n_components=32, svd_solver="full").fit_transform(fs.X.astype(np.float64)).astype(np.float32)
    np.savez_compressed(OUT, X=X, y=td.y.astype(np.int64), groups=np.asarray(td.groups, dtype=str),
                        ids=np.asarray([r.id for r in used]), classes=np.asarray(td.classes))
    print(f"wrote {OUT}: X {X.shape}")


if __name__ == "__main__":
    main()
