"""Data sets as one Record table: mini-MIAS, a folder per class, a CSV manifest."""
from ._cbis import load_cbis_ddsm
from ._cmmd import load_cmmd
from ._fetch import MIAS_URL, fetch_mias, mias_image_md5, official_md5s
from ._folder import load_folder
from ._inbreast import load_inbreast
from ._labels import KNOWN_LABELS, LABEL_SETS, LABEL_SYNONYMS, NO_CANCER, birads_label, normalize_label
from ._load import DATASET_KINDS, load_dataset
from ._manifest import load_manifest
from ._mias import MIAS_SIZE, find_mias_image, load_mias, mias_laterality, mias_patient, parse_mias_info
from ._records import Lesion, Record, RecordTable
from ._rsna import load_rsna
from ._tasks import DATASET_TASKS, TaskData, check_task, missing_labels, task_labels, task_targets
from ._vindr import load_vindr

__all__ = [
    "DATASET_KINDS",
    "DATASET_TASKS",
    "KNOWN_LABELS",
    "LABEL_SETS",
    "LABEL_SYNONYMS",
    "MIAS_SIZE",
    "MIAS_URL",
    "NO_CANCER",
    "Lesion",
    "Record",
    "RecordTable",
    "TaskData",
    "birads_label",
    "check_task",
    "fetch_mias",
    "find_mias_image",
    "load_cbis_ddsm",
    "load_cmmd",
    "load_dataset",
    "load_folder",
    "load_inbreast",
    "load_manifest",
    "load_mias",
    "load_rsna",
    "load_vindr",
    "mias_image_md5",
    "mias_laterality",
    "mias_patient",
    "missing_labels",
    "normalize_label",
    "official_md5s",
    "parse_mias_info",
    "task_labels",
    "task_targets",
]
