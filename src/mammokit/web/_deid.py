"""De-identify an uploaded DICOM before it is stored: the DICOM PS3.15 Basic Application Level
Confidentiality Profile (Table E.1-1, 2026c edition) as implemented by `dicom-anonymizer` (Kitware).

On top of the profile's own actions (names, IDs, addresses, free text such as ImageComments removed or
emptied, dates emptied to 00010101, private tags removed):
- UIDs are replaced by keyed hashes (HMAC with the server secret) instead of the library's in-memory
  table, so the same original UID maps to the same new UID across uploads and restarts, and the table
  does not grow without bound in a long-running server;
- the 128-byte preamble is zeroed and the file meta header rebuilt from the transfer syntax and the
  new SOP UIDs only (a source AE title or implementation name there is not kept);
- PatientIdentityRemoved/DeidentificationMethod(CodeSequence) record what was done (PS3.15 E.1.1).
"""
from __future__ import annotations

import hashlib
import hmac
import io
import warnings

from ..errors import ImageReadError

PROFILE_EDITION = "dicomfields_2026c"
METHOD = "DICOM PS3.15 Basic Application Level Confidentiality Profile (dicom-anonymizer, table E.1-1 2026c)"
# PS3.16 CID 7050: 113100 = Basic Application Confidentiality Profile.
_BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")


class DeidentifyError(ImageReadError):
    """A DICOM that cannot be rewritten without its identifying data: it is refused, never stored."""


def _keyed_uid(secret: str, old: str) -> str:
    """A 2.25 UID (PS3.5 B.2) from HMAC-SHA256(secret, old UID): stable for one server, unlinkable without it."""
    digest = hmac.new(f"dicom-uid:{secret}".encode(), str(old).encode(), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _rules(secret: str) -> dict:
    """The profile's actions with every UID action (U and the UID branch of X/Z/U*) made keyed."""
    from dicomanonymizer.simpledicomanonymizer import (
        delete_or_empty_or_replace_UID,
        empty_element,
        initialize_actions,
        replace_UID,
    )
    from pydicom.multival import MultiValue

    def replace_uid(dataset, tag):
        elem = dataset.get(tag)
        if elem is None or elem.VR != "UI":
            if elem is not None:
                empty_element(elem)
            return
        if isinstance(elem.value, MultiValue):
            elem.value = [_keyed_uid(secret, v) for v in elem.value]
        elif elem.value:
            elem.value = _keyed_uid(secret, elem.value)

    base = initialize_actions(PROFILE_EDITION)
    return {tag: (replace_uid if action in (replace_UID, delete_or_empty_or_replace_UID) else action)
            for tag, action in base.items()}


def deidentify_dicom(data: bytes, secret: str, name: str = "upload") -> bytes:
    """The DICOM file rewritten under the Basic Profile; DeidentifyError when that cannot be done."""
    import pydicom

    try:
        with warnings.catch_warnings():  # pydicom warnings can quote header values: not for the log
            warnings.simplefilter("ignore")
            return _rewrite(pydicom.dcmread(io.BytesIO(data), force=True), secret)
    except Exception:  # noqa: BLE001 - whatever fails, this file cannot be stored safely
        raise DeidentifyError(name, "this DICOM file cannot be de-identified (damaged or unusual header); "
                                    "it was not stored") from None


def _rewrite(ds, secret: str) -> bytes:
    """Apply the profile to a parsed dataset, then zero the preamble and rebuild the file meta header."""
    from dicomanonymizer.simpledicomanonymizer import anonymize_dataset
    from pydicom.dataset import Dataset, FileMetaDataset

    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None:
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit, _little = ds.original_encoding
        syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    rules = _rules(secret)
    anonymize_dataset(ds, extra_anonymization_rules=None, delete_private_tags=True,
                      base_rules_gen=lambda: rules)
    ds.remove_private_tags()  # also in sequences the walk above did not reach
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = _BASIC_PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = [code]
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    if ds.get("SOPClassUID"):
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if ds.get("SOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format="SOPClassUID" in ds and "SOPInstanceUID" in ds)
    return out.getvalue()
