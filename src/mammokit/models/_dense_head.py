"""The paper's classifier head: Dense 128 -> 256 -> 128 (BatchNorm, ReLU, Dropout 0.5 each), softmax.

A scikit-learn style estimator (``fit`` / ``predict_proba`` / ``classes_``) so it can sit
at the end of an imbalanced-learn Pipeline. Training is deterministic on CPU for a given
``random_state``: a private torch Generator drives initialisation, shuffling and dropout,
and the fit runs single-threaded.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, check_X_y
from torch import nn

from .._numerics import TRAINING_THREADS
from ._checks import check_predict_input

HIDDEN = (128, 256, 128)  # the paper's layer widths
DROPOUT = 0.5


def build_head(n_features: int, n_classes: int, hidden=HIDDEN, dropout: float = DROPOUT) -> nn.Sequential:
    """The head as an nn.Module: features -> logits (softmax is applied outside)."""
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


@contextlib.contextmanager
def _deterministic_torch(threads: int = TRAINING_THREADS):
    """Single-threaded, deterministic kernels for the duration of a fit; restores settings."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


class DenseHead(ClassifierMixin, BaseEstimator):
    """Dense 128-256-128 head trained with Adam and early stopping on validation loss.

    ``fit(X, y, X_val=None, y_val=None)``: without an explicit validation set, a stratified
    ``val_fraction`` of the rows given to ``fit`` is carved off for early stopping, so the
    validation part always comes from the training rows. ``class_weight="balanced"``
    re-weights the loss by inverse class frequency (the "class_weight" balance method).
    """

    def __init__(
        self,
        epochs: int = 100,
        patience: int = 10,
        lr: float = 1e-3,
        batch_size: int = 32,
        val_fraction: float = 0.2,
        weight_decay: float = 0.0,
        class_weight: str | None = None,
        hidden: tuple[int, ...] = HIDDEN,
        dropout: float = DROPOUT,
        random_state: int = 0,
    ):
        self.epochs = epochs
        self.patience = patience
        self.lr = lr
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.hidden = hidden
        self.dropout = dropout
        self.random_state = random_state

    # -- training -------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None):
        # sklearn's checks: 2-D, finite, as many labels as rows (ValueError naming the problem)
        X, y = check_X_y(X, y, dtype=np.float32, ensure_min_samples=2)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__}: fit needs at least 2 classes, got {self.classes_.tolist()}")
        self.n_features_in_ = X.shape[1]
        yi = np.searchsorted(self.classes_, y)
        if X_val is None and self.val_fraction and self.val_fraction > 0 and len(X) >= 10:
            counts = np.bincount(yi)
            strat = yi if counts.min() >= 2 else None
            X, X_val, yi, yvi = train_test_split(
                X, yi, test_size=self.val_fraction, stratify=strat, random_state=self.random_state
            )
        elif X_val is not None:
            X_val = np.asarray(X_val, dtype=np.float32)
            yvi = np.searchsorted(self.classes_, np.asarray(y_val))
        with _deterministic_torch():
            self._train(X, yi, X_val, yvi if X_val is not None else None)
        return self

    def _build_net(self, n_features: int, n_classes: int) -> nn.Module:
        """The network trained by ``_train`` (a hook: the CNN-LSTM subclass puts an LSTM before the head)."""
        return build_head(n_features, n_classes, self.hidden, self.dropout)

    def _loss_weights(self, yi: np.ndarray) -> torch.Tensor | None:
        if self.class_weight != "balanced":
            return None
        counts = np.bincount(yi, minlength=len(self.classes_)).astype(np.float64)
        w = np.where(counts > 0, len(yi) / (len(self.classes_) * np.maximum(counts, 1)), 0.0)
        return torch.tensor(w, dtype=torch.float32)

    def _train(self, X, yi, X_val, yvi) -> None:
        gen = torch.Generator().manual_seed(int(self.random_state))
        torch.manual_seed(int(self.random_state))  # dropout masks use the global generator
        net = self._build_net(X.shape[1], len(self.classes_))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.CrossEntropyLoss(weight=self._loss_weights(yi))
        Xt, yt = torch.from_numpy(X), torch.from_numpy(yi.astype(np.int64))
        if X_val is not None:
            Xv, yv = torch.from_numpy(X_val), torch.from_numpy(yvi.astype(np.int64))
            val_loss_fn = nn.CrossEntropyLoss(weight=self._loss_weights(yi))
        n = len(Xt)
        best_state, best_loss, bad = None, np.inf, 0
        self.history_ = {"train_loss": [], "val_loss": []}
        for epoch in range(int(self.epochs)):
            net.train()
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = perm[start : start + self.batch_size]
                if len(idx) < 2:  # BatchNorm cannot train on a batch of one
                    continue
                opt.zero_grad()
                loss = loss_fn(net(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            self.history_["train_loss"].append(total / n)
            if X_val is None:
                continue
            net.eval()
            with torch.no_grad():
                vl = float(val_loss_fn(net(Xv), yv))
            self.history_["val_loss"].append(vl)
            if vl < best_loss - 1e-6:
                best_loss, bad, best_state = vl, 0, copy.deepcopy(net.state_dict())
                self.best_epoch_ = epoch
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            self.best_epoch_ = len(self.history_["train_loss"]) - 1
        net.eval()
        self.module_ = net
        self.n_epochs_ = len(self.history_["train_loss"])

    # -- inference ------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Logits, shape (n, n_classes)."""
        # No global torch settings are touched here: the web app predicts from several threads at once.
        X = check_predict_input(self, X, "module_", dtype=np.float32)
        with torch.no_grad():
            return self.module_(torch.as_tensor(X)).numpy().astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        z = self.decision_function(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- persistence (no pickle: a torch state_dict plus plain parameters) ------
    def state(self) -> dict:
        check_is_fitted(self, "module_")
        return {"state_dict": self.module_.state_dict(), "n_features": int(self.n_features_in_),
                "n_classes": len(self.classes_), "hidden": list(self.hidden), "dropout": float(self.dropout)}

    @classmethod
    def from_state(cls, state: dict, classes) -> DenseHead:
        head = cls(hidden=tuple(state["hidden"]), dropout=state["dropout"])
        head.classes_ = np.asarray(classes)
        head.n_features_in_ = state["n_features"]
        net = build_head(state["n_features"], state["n_classes"], tuple(state["hidden"]), state["dropout"])
        net.load_state_dict(state["state_dict"])
        net.eval()
        head.module_ = net
        return head
