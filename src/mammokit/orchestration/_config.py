"""The one config loader: read a YAML file, deep-merge it over a config kind's defaults, apply ``--set``
overrides, validate. Experiment configs (``mammokit run``) are defined here; the comparison
(``compare/_config.py``) and the lesion-aware model (``models.lesion``) declare their own defaults and
validation but read, merge and override through these functions, so ``--set key.sub=value`` and unknown-key
errors behave the same everywhere.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import yaml

from ..constants import TASKS
from ..errors import ConfigError, InputFileError

DEFAULTS: dict = {
    "name": "experiment",
    "dataset": {"name": "mias", "data": None},
    "task": "3class",
    "features": {"backbone": "efficientnet_lite2", "weights": None, "size": None, "mode": None, "tta": False,
                 "batch_size": 16, "cache_dir": None},
    "balance": "smote",
    "model": {"type": "dense_head", "epochs": 100, "patience": 10, "lr": 1e-3, "batch_size": 32,
              "val_fraction": 0.2, "weight_decay": 0.0, "C": 1.0},
    "protocol": {"name": "cv", "folds": 5, "repeats": 3, "test_size": 0.2},
    "calibration": {"method": "temperature", "fraction": 0.2, "prior_correction": True},
    "bootstrap": {"n": 1000, "level": 0.95},
    "seed": 0,
}


def _strict(where: str) -> bool:
    return False


def merge(base: dict, update: dict, where: str = "", *, free: Callable[[str], bool] = _strict,
          replace: tuple[str, ...] = (), none_ok: bool = False) -> dict:
    """Deep-merge ``update`` into a copy of ``base``.

    A key ``base`` lacks is an error unless ``free(where)`` says the section's keys are the user's to
    choose (model names in a comparison). A mapping in ``base`` takes only a mapping (or, with ``none_ok``,
    None); the keys named in ``replace`` take any value (a comparison model's ``input`` is a word or a mapping).
    """
    out = copy.deepcopy(base)
    unknown = [k for k in update if k not in base]
    if unknown and not free(where):
        names = ", ".join(f"{where}{k}" for k in unknown)
        raise ConfigError(f"unknown config key{'s' if len(unknown) > 1 else ''} {names} "
                          f"(known: {', '.join(where + k for k in base)})")
    for k, v in update.items():
        if isinstance(base.get(k), dict) and isinstance(v, dict):
            out[k] = merge(base[k], v, f"{where}{k}.", free=free, replace=replace, none_ok=none_ok)
        elif isinstance(base.get(k), dict) and k not in replace and not (v is None and none_ok):
            raise ConfigError(f"config key {where}{k} must be a mapping, got {v!r}")
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_override(item: str) -> dict:
    """``key.sub=value`` (``--set``) as a nested mapping; the value is parsed as YAML (empty -> None)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key.sub=value")
    key, value = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    node: dict = {}
    cur = node
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = parsed
    return node


def read_config_file(path: str | Path) -> tuple[Path, dict]:
    """The YAML mapping in a config file (empty file -> {}); missing file, bad YAML or a non-mapping is an error."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "config file not found")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config must be a mapping of keys")
    return p, data


def check_run_name(name) -> None:
    """A run name becomes a folder under runs/: one plain path component."""
    if not str(name).strip() or "/" in str(name) or str(name) in (".", ".."):
        raise ConfigError(f"name: {name!r} must be a plain folder name")


def check_choice(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")


def validate_config(cfg: dict) -> dict:
    """Check the choices and protocol numbers of a merged experiment config (seed made an int)."""
    from ..balance import BALANCE_METHODS
    from ..evaluate import CALIBRATION_METHODS
    from ..models import MODEL_TYPES
    from ..protocols import PROTOCOLS

    checks = [("task", cfg["task"], TASKS), ("balance", cfg["balance"], BALANCE_METHODS),
              ("model.type", cfg["model"]["type"], MODEL_TYPES), ("protocol.name", cfg["protocol"]["name"], PROTOCOLS),
              ("calibration.method", cfg["calibration"]["method"], CALIBRATION_METHODS)]
    for key, value, allowed in checks:
        check_choice(key, value, allowed)
    try:
        cfg["seed"] = int(cfg["seed"])
        ts = float(cfg["protocol"]["test_size"])
        folds, repeats = int(cfg["protocol"]["folds"]), int(cfg["protocol"]["repeats"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"seed/protocol numbers must be numbers ({exc})") from None
    if not 0 < ts < 1 or folds < 2 or repeats < 1:
        raise ConfigError("protocol: need 0 < test_size < 1, folds >= 2, repeats >= 1")
    check_run_name(cfg["name"])
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> dict:
    """Read a YAML config over the defaults and apply ``key.sub=value`` overrides (values parsed as YAML).

    A config whose ``model.type`` is ``lesion`` is the lesion-aware model's: its own settings, read by
    ``models.lesion.load_lesion_config`` through the same functions."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        p, data = read_config_file(path)
        if isinstance(data.get("model"), dict) and data["model"].get("type") == "lesion":
            from ._lesion_run import load_lesion_config

            return load_lesion_config(data, overrides, name=p.stem)
        cfg = merge(cfg, data)
        if "name" not in data:
            cfg["name"] = p.stem
    for item in overrides or []:
        cfg = merge(cfg, parse_override(item))
    return validate_config(cfg)
