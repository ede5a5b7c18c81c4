"""One entry point for every data-set kind: load_dataset("mias" | "folder" | "manifest" | an adapter, data)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..constants import MIAS_ENV, default_mias_dir
from ..errors import ConfigError, DatasetError
from ._cbis import load_cbis_ddsm
from ._cmmd import load_cmmd
from ._folder import load_folder
from ._inbreast import load_inbreast
from ._manifest import load_manifest
from ._mias import load_mias
from ._records import Record, RecordTable
from ._rsna import load_rsna
from ._vindr import load_vindr

# Public-dataset adapters: name -> loader(root). Each reads the dataset's own published layout.
ADAPTERS: dict[str, Callable[[Path], RecordTable]] = {
    "cbis-ddsm": load_cbis_ddsm,
    "rsna": load_rsna,
    "vindr-mammo": load_vindr,
    "inbreast": load_inbreast,
    "cmmd": load_cmmd,
}
DATASET_KINDS = ("mias", "folder", "manifest", *ADAPTERS)
_ALIASES = {"cbis": "cbis-ddsm", "rsna-screening": "rsna", "vindr": "vindr-mammo", "mini-mias": "mias"}


def load_dataset(name: str, data: str | Path | None = None, *,
                 labels: str | Iterable[str] | None = None) -> list[Record]:
    """Records for data set ``name``; ``data`` is its folder (mias, folder, an adapter) or CSV (manifest).

    Names are case-insensitive (``CBIS_DDSM``, ``vindr`` work). For mias, ``data=None`` looks in
    $MAMMOKIT_MIAS, then ../shared/data/mini-mias. ``labels`` (folder, manifest): a named label set
    or a list; see ``load_folder``. Every loader returns a RecordTable that declares its labels.
    """
    key = str(name).strip().lower().replace("_", "-")
    name = _ALIASES.get(key, key)
    if name not in DATASET_KINDS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_KINDS)}")
    if name == "mias":
        root = Path(data) if data is not None else default_mias_dir()
        if root is None:
            raise DatasetError(
                f"mini-MIAS not found: set ${MIAS_ENV} or pass --data DIR, or get it with "
                "`mammokit data fetch mias --dest DIR` (or `--from all-mias.tar.gz` if you downloaded it)"
            )
        records = load_mias(root)
    elif data is None:
        raise ConfigError(f"dataset {name} needs a path (--data)")
    elif name in ADAPTERS:
        if labels is not None:  # an adapter's label set is the data set's own (docs/datasets.md)
            raise ConfigError(f"dataset {name} has its own label set; labels= applies to folder and manifest")
        records = ADAPTERS[name](Path(data))
    elif name == "folder":
        records = load_folder(data, labels=labels)
    else:
        records = load_manifest(data, labels=labels)
    if not records:  # the loaders already refuse empty sets; kept as the contract's guard
        raise DatasetError(f"{data}: data set {name} is empty")
    return records
