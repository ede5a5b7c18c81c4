"""The paper's CNN-LSTM hybrid on cached backbone feature maps.

The backbone's spatial map before pooling, (C, h, w), is read as a sequence (the rows of
the map, its columns, or a raster of patches), a (bi)LSTM summarises the sequence, and the
paper's dense head (128-256-128, softmax) classifies it. The backbone itself is frozen: its
maps are cached per image by ``features.extract_features(..., spatial=True)``, exactly like
the pooled features the plain CNN model uses.

The estimator takes each sequence FLATTENED to one row of ``seq_len * step_features``
numbers, so it drops into the same machinery as the dense head: the StandardScaler, the
imbalanced-learn samplers (SMOTE then interpolates between whole real training sequences)
and the audit of which rows each component saw all work unchanged. (n, T, F) arrays are
accepted too and flattened.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ModelError
from ._dense_head import DROPOUT, HIDDEN, DenseHead, build_head
from ._params import training_params

# How a (C, h, w) map becomes a sequence of T steps of F numbers each.
SEQUENCE_LAYOUTS = {
    "rows": "one step per map row, top to bottom; a step holds the row's w positions x C channels",
    "columns": "one step per map column, left to right; a step holds the column's h positions x C channels",
    "raster": "one step per map position (a patch), row by row; a step holds its C channels",
    "row_means": "one step per map row; a step holds the row's C channels averaged over its w positions",
}


def sequence_shape(map_shape: tuple[int, int, int], layout: str) -> tuple[int, int]:
    """(T, F) of the sequence ``layout`` makes from one (C, h, w) map."""
    if layout not in SEQUENCE_LAYOUTS:
        raise ModelError(f"sequence layout {layout!r} is unknown; choose one of {', '.join(SEQUENCE_LAYOUTS)}")
    if len(map_shape) != 3 or min(map_shape) < 1:
        raise ModelError(f"a feature map must have shape (C, h, w), got {tuple(map_shape)}")
    C, h, w = (int(v) for v in map_shape)
    return {"rows": (h, w * C), "columns": (w, h * C), "raster": (h * w, C), "row_means": (h, C)}[layout]


def map_to_sequence(maps: np.ndarray, layout: str = "rows") -> np.ndarray:
    """Spatial maps (n, C, h, w) -> sequences (n, T, F) in ``layout`` order (float32)."""
    maps = np.asarray(maps)
    if maps.ndim != 4:
        raise ModelError(f"feature maps must have shape (n, C, h, w), got {maps.shape}; "
                         "extract them with extract_features(..., spatial=True)")
    T, F = sequence_shape(maps.shape[1:], layout)
    if layout == "rows":  # (n, h, w, C): a row's positions, each with all channels
        seq = maps.transpose(0, 2, 3, 1)
    elif layout == "columns":  # (n, w, h, C)
        seq = maps.transpose(0, 3, 2, 1)
    elif layout == "raster":  # (n, h, w, C) read position by position
        seq = maps.transpose(0, 2, 3, 1)
    else:  # row_means: (n, C, h) -> (n, h, C)
        seq = maps.mean(axis=3).transpose(0, 2, 1)
    return np.ascontiguousarray(seq.reshape(len(maps), T, F), dtype=np.float32)


class SequenceNet(nn.Module):
    """Flat sequence rows (n, T*F) -> logits: projection, (bi)LSTM, the paper's dense head."""

    def __init__(self, seq_len: int, step_features: int, n_classes: int, *, proj: int = 128, lstm_hidden: int = 64,
                 bidirectional: bool = True, seq_dropout: float = 0.2, hidden=HIDDEN, dropout: float = DROPOUT):
        super().__init__()
        self.seq_len, self.step_features = int(seq_len), int(step_features)
        # A per-step linear projection keeps the LSTM small when a step holds thousands of numbers.
        self.proj = (nn.Sequential(nn.Linear(step_features, proj), nn.ReLU(), nn.Dropout(seq_dropout))
                     if proj else nn.Identity())
        self.lstm = nn.LSTM(proj or step_features, lstm_hidden, batch_first=True, bidirectional=bidirectional)
        self.head = build_head(lstm_hidden * (2 if bidirectional else 1), n_classes, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.proj(x.reshape(x.shape[0], self.seq_len, self.step_features))
        _, (h, _) = self.lstm(z)  # h: (directions, n, lstm_hidden), the last state of each direction
        return self.head(torch.cat(list(h), dim=1))


class CnnLstmClassifier(DenseHead):
    """Sequence model with the dense head's training: Adam, early stopping, class weights, seeds.

    ``seq_len`` is T, the number of steps each flattened row is cut into; F is inferred from
    the row length at ``fit``. Everything else (validation carved from the rows given to
    ``fit``, ``class_weight="balanced"``, determinism on CPU) is inherited from DenseHead.
    ``fit_digests_`` records the rows the network was trained on (and ``val_digests_`` the
    early-stopping rows), as ``balance.Audit`` does for samplers, so tests can prove a fit
    never saw a test row.
    """

    def __init__(self, seq_len: int = 7, proj: int = 128, lstm_hidden: int = 64, bidirectional: bool = True,
                 seq_dropout: float = 0.2, epochs: int = 60, patience: int = 8, lr: float = 1e-3,
                 batch_size: int = 32, val_fraction: float = 0.2, weight_decay: float = 0.0,
                 class_weight: str | None = None, hidden: tuple[int, ...] = HIDDEN, dropout: float = DROPOUT,
                 random_state: int = 0):
        super().__init__(epochs=epochs, patience=patience, lr=lr, batch_size=batch_size, val_fraction=val_fraction,
                         weight_decay=weight_decay, class_weight=class_weight, hidden=hidden, dropout=dropout,
                         random_state=random_state)
        self.seq_len = seq_len
        self.proj = proj
        self.lstm_hidden = lstm_hidden
        self.bidirectional = bidirectional
        self.seq_dropout = seq_dropout

    # -- input checks -----------------------------------------------------------
    def _flat(self, X, step_features: int | None = None) -> np.ndarray:
        """(n, T, F) or (n, T*F) -> (n, T*F) float32, with a one-line error for anything else."""
        X = np.asarray(X, dtype=np.float32)
        T = int(self.seq_len)
        if T < 1:
            raise ModelError(f"cnn_lstm: seq_len must be at least 1, got {self.seq_len}")
        if X.ndim == 3:
            if X.shape[1] != T:
                raise ModelError(f"cnn_lstm: sequences have {X.shape[1]} steps but the model expects seq_len={T}")
            X = X.reshape(len(X), -1)
        elif X.ndim != 2:
            raise ModelError(f"cnn_lstm: input must be (n, T, F) sequences or (n, T*F) flat rows, got shape {X.shape}")
        if X.shape[1] == 0 or X.shape[1] % T:
            raise ModelError(f"cnn_lstm: a row of {X.shape[1]} numbers cannot be cut into seq_len={T} equal steps")
        if step_features is not None and X.shape[1] != T * step_features:
            raise ModelError(f"cnn_lstm: rows have {X.shape[1]} numbers; the fitted model expects "
                             f"{T} steps x {step_features} = {T * step_features}")
        return X

    # -- training -----------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None):
        X = self._flat(X)
        self.step_features_ = X.shape[1] // int(self.seq_len)
        if X_val is not None:
            X_val = self._flat(X_val, self.step_features_)
        return super().fit(X, y, X_val=X_val, y_val=y_val)

    def _train(self, X, yi, X_val, yvi) -> None:
        from ..balance import row_digests  # import here: balance is a sibling package

        self.fit_digests_ = set(row_digests(X))
        self.val_digests_ = set(row_digests(X_val)) if X_val is not None else set()
        self.n_fit_rows_ = len(X)
        super()._train(X, yi, X_val, yvi)

    def _build_net(self, n_features: int, n_classes: int) -> nn.Module:
        return SequenceNet(int(self.seq_len), n_features // int(self.seq_len), n_classes, proj=int(self.proj),
                           lstm_hidden=int(self.lstm_hidden), bidirectional=bool(self.bidirectional),
                           seq_dropout=float(self.seq_dropout), hidden=tuple(self.hidden), dropout=float(self.dropout))

    # -- inference ------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        if not hasattr(self, "module_"):
            return super().decision_function(X)  # raises sklearn's NotFittedError
        return super().decision_function(self._flat(X, self.step_features_))

    def saw_rows(self, X) -> np.ndarray:
        """Boolean per row of ``X`` (already in the fitted model's input space): used for training or early stopping."""
        from ..balance import row_digests

        seen = self.fit_digests_ | self.val_digests_
        return np.array([d in seen for d in row_digests(self._flat(X, self.step_features_))], dtype=bool)


def make_cnn_lstm(cfg: dict, *, class_weight: str | None = None, random_state: int = 0) -> CnnLstmClassifier:
    """The estimator for a config's ``model`` section with ``type: cnn_lstm`` (``seq_len`` required)."""
    if "seq_len" not in cfg:
        raise ModelError("model.seq_len: cnn_lstm needs the number of sequence steps (set by the caller from "
                         "the feature-map layout)")
    return CnnLstmClassifier(
        seq_len=int(cfg["seq_len"]),
        proj=int(cfg.get("proj", 128)),
        lstm_hidden=int(cfg.get("lstm_hidden", 64)),
        bidirectional=bool(cfg.get("bidirectional", True)),
        seq_dropout=float(cfg.get("seq_dropout", 0.2)),
        **training_params(cfg, epochs=60, patience=8),
        class_weight=class_weight,
        random_state=random_state,
    )
