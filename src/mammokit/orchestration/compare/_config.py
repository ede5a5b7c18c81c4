"""The comparison config: shared settings + one entry per model, each run under every protocol.

Shared sections (task, dataset, features, calibration, bootstrap, seed) mean the same as in an
experiment config (mammokit.orchestration); ``models`` maps a short name to the model's label,
input (pooled features or a sequence layout of the spatial map), balance method, model
section and the paper's claimed figures for it.
"""
from __future__ import annotations

import copy
from pathlib import Path

from ...constants import TASKS
from ...errors import ConfigError

# the same file, merge and --set rules as `mammokit run`
from .._config import check_choice, check_run_name, merge, parse_override, read_config_file

PROTOCOL_ORDER = ("module1", "module2", "cv")

DEFAULTS: dict = {
    "name": "paper-comparison",
    "task": "3class",
    "seed": 0,
    "dataset": {"name": "mias", "data": None},
    # A deterministic subset of whole patients per class (CI / quick checks); null = every image.
    "subset": {"patients_per_class": None},
    "features": {"backbone": "efficientnet_lite0", "weights": None, "size": 224, "mode": None, "tta": False,
                 "batch_size": 16, "cache_dir": None},
    # The paper reads the softmax argmax of the network as trained: no prior correction, no calibration.
    "calibration": {"method": "none", "fraction": 0.2, "prior_correction": False},
    "bootstrap": {"n": 1000, "level": 0.95},
    "protocols": {"module1": {"test_size": 0.2}, "module2": {"test_size": 0.2}, "cv": {"folds": 5, "repeats": 3}},
    "models": {},
}
MODEL_DEFAULTS: dict = {"label": None, "input": "pooled", "balance": "none", "model": {"type": "dense_head"},
                        "paper_claim": {}}
def _free(where: str) -> bool:
    """Sections whose keys the user chooses: model names, a model's ``model``/``paper_claim``, protocol names/params."""
    parts = where.rstrip(".").split(".")
    if parts[0] == "models":
        return len(parts) == 1 or (len(parts) == 3 and parts[2] in ("model", "paper_claim", "input"))
    return parts[0] == "protocols" and len(parts) <= 2


def _merge(base: dict, update: dict, where: str = "") -> dict:
    """The one config merge, with this config kind's free-form sections (model names, protocol parameters)."""
    return merge(base, update, where, free=_free, replace=("input",), none_ok=True)


def _model_entry(name: str, spec) -> dict:
    if not isinstance(spec, dict):
        raise ConfigError(f"models.{name} must be a mapping (label, input, balance, model, paper_claim)")
    entry = _merge(MODEL_DEFAULTS, spec, f"models.{name}.")
    entry["label"] = str(entry["label"] or name)
    inp = entry["input"]
    if inp != "pooled" and not (isinstance(inp, dict) and set(inp) == {"sequence"}):
        raise ConfigError(f"models.{name}.input must be 'pooled' or {{sequence: LAYOUT}}, got {inp!r}")
    if isinstance(inp, dict):
        from ...models._cnn_lstm import SEQUENCE_LAYOUTS

        if inp["sequence"] not in SEQUENCE_LAYOUTS:
            raise ConfigError(f"models.{name}.input.sequence: {inp['sequence']!r} is not one of "
                              f"{', '.join(SEQUENCE_LAYOUTS)}")
        if entry["model"].get("type") != "cnn_lstm":
            raise ConfigError(f"models.{name}: a sequence input needs model.type cnn_lstm")
    elif entry["model"].get("type") == "cnn_lstm":
        raise ConfigError(f"models.{name}: model.type cnn_lstm needs input: {{sequence: rows}} (or another layout)")
    claims = entry["paper_claim"] or {}
    for metric, value in claims.items():
        if not isinstance(value, (int, float)) or not 0 <= float(value) <= 1:
            raise ConfigError(f"models.{name}.paper_claim.{metric}: {value!r} must be a fraction in [0, 1]")
    entry["paper_claim"] = {k: float(v) for k, v in claims.items()}
    return entry


def validate_comparison(cfg: dict) -> dict:
    from ...balance import BALANCE_METHODS
    from ...models import MODEL_TYPES

    check_choice("task", cfg["task"], TASKS)
    check_run_name(cfg["name"])
    if not cfg["models"]:
        raise ConfigError("models: the comparison needs at least one model")
    unknown = [p for p in cfg["protocols"] if p not in PROTOCOL_ORDER]
    if unknown:
        raise ConfigError(f"protocols: unknown protocol(s) {', '.join(unknown)}; choose from {', '.join(PROTOCOL_ORDER)}")
    models = {}
    for name, spec in cfg["models"].items():
        entry = _model_entry(str(name), spec)
        if entry["balance"] not in BALANCE_METHODS:
            raise ConfigError(f"models.{name}.balance: {entry['balance']!r} is not one of {', '.join(BALANCE_METHODS)}")
        if entry["model"].get("type", "dense_head") not in MODEL_TYPES:
            raise ConfigError(f"models.{name}.model.type: {entry['model'].get('type')!r} is not one of "
                              f"{', '.join(MODEL_TYPES)}")
        models[str(name)] = entry
    cfg["models"] = models
    n = cfg["subset"]["patients_per_class"]
    if n is not None and (not isinstance(n, int) or n < 2):
        raise ConfigError(f"subset.patients_per_class: {n!r} must be an integer >= 2 or null")
    try:
        cfg["seed"] = int(cfg["seed"])
    except (TypeError, ValueError):
        raise ConfigError(f"seed: {cfg['seed']!r} must be an integer") from None
    return cfg


def load_comparison_config(path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """Read a comparison YAML over the defaults and apply ``key.sub=value`` overrides.

    Overrides address models by name: ``--set models.cnn_lstm.model.epochs=5``.
    """
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        p, data = read_config_file(path)
        if isinstance(data.get("protocols"), dict):
            cfg["protocols"] = {}  # the file's protocols replace the default set
        cfg = _merge(cfg, data)
        if not isinstance(cfg["models"], dict):
            raise ConfigError(f"{p}: models must be a mapping of model name -> settings")
        # complete every model now so that --set can address any of its keys
        cfg["models"] = {str(n): _merge(MODEL_DEFAULTS, m, f"models.{n}.")
                         if isinstance(m, dict) else m for n, m in cfg["models"].items()}
        if "name" not in data:
            cfg["name"] = p.stem
    for item in overrides or []:
        override = parse_override(item)
        if "models" in override:
            unknown = [m for m in override["models"] if m not in cfg["models"]]
            if unknown:
                raise ConfigError(f"--set {item!r}: no model named {unknown[0]!r} (models: {', '.join(cfg['models'])})")
        cfg = _merge(cfg, override)
    return validate_comparison(cfg)
