"""Data sets as one Record table: mini-MIAS, a folder per class, a CSV manifest."""
from ._fetch import MIAS_URL, fetch_mias, mias_image_md5, official_md5s
from ._folder import load_folder
from ._labels import LABEL_SYNONYMS, normalize_label
from ._load import DATASET_KINDS, load_dataset
from ._manifest import load_manifest
from ._mias import MIAS_SIZE, find_mias_image, load_mias, mias_laterality, mias_patient, parse_mias_info
from ._records import Lesion, Record
from ._tasks import TaskData, check_task, task_targets

__all__ = [
    "DATASET_KINDS",
    "LABEL_SYNONYMS",
    "MIAS_SIZE",
    "MIAS_URL",
    "Lesion",
    "Record",
    "TaskData",
    "check_task",
    "fetch_mias",
    "find_mias_image",
    "load_dataset",
    "load_folder",
    "load_manifest",
    "load_mias",
    "mias_image_md5",
    "mias_laterality",
    "mias_patient",
    "normalize_label",
    "official_md5s",
    "parse_mias_info",
    "task_targets",
]
