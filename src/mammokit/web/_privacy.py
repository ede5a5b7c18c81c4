"""Patient privacy: what the server keeps, logs and says about an upload, and the DICOM de-identification.

Names and messages (no client file name is stored, messages are short):
- `stored_name`: the name kept in the database and shown in the history, derived by the server from
  what it read (`DICOM R CC`, `PNG`), never from the client's file name (names such as
  `Mass-Test_P_00173_LEFT_CC` or `..._19650412.dcm` carry patient IDs and birth dates).
- `client_label`: the client's file name, shortened, for the response to that same client only.
- `public_reason`: a library error turned into one short human line (no memory addresses, no exception
  class names); the full text goes to the server log (`mammokit.web` logger) only.
- `patient_key`: a keyed hash of a patient (or study) ID, to group a woman's images without storing the ID;
  `dicom_identifiers` / `scrub`: the patient name and ID strings of a DICOM, removed from stored notes.

De-identification (`deidentify_dicom`): an uploaded DICOM is rewritten before it is stored, under the DICOM
PS3.15 Basic Application Level Confidentiality Profile (Table E.1-1, 2026c edition) as implemented by
`dicom-anonymizer` (Kitware). On top of the profile's own actions (names, IDs, addresses, free text such as
ImageComments removed or emptied, dates emptied to 00010101, private tags removed):
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
import re
import warnings

from ..errors import ImageReadError

MAX_LABEL = 60
MAX_REASON = 200
_FORMAT_NAMES = {"dicom": "DICOM", "png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "pgm": "PGM"}
_OBJECT_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
# 'ValueError: ', 'pydicom.errors.InvalidDicomError: ', 'struct.error: ', '(OSError)'
_PAREN_CLASS = re.compile(r"\s*\((?:[\w.]*\.)?\w*(?:Error|Exception|Warning)\)")
_BYTES_REPR = re.compile(r"\s*\(starts with .*?\)(?=\s*$)|\bb'[^']*'|\bb\"[^\"]*\"")
_CLASS_NAME = re.compile(r"\b(?:[a-z_]\w*\.)*(?:[A-Z]\w*(?:Error|Exception|Warning)|(?<=\.)error)(?::\s*|\b)")


def stored_name(fmt: str, laterality: str | None = None, view: str | None = None) -> str:
    """'DICOM R CC', 'PNG': what the server read, nothing the client named."""
    parts = [_FORMAT_NAMES.get(fmt, (fmt or "image").upper()), laterality or "", view or ""]
    return " ".join(p for p in parts if p)


def client_label(filename: str | None) -> str:
    """The client's base name, printable and at most MAX_LABEL characters; 'upload' when absent."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        return "upload"
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 3] + "..."


def public_reason(text: str) -> str:
    """One short line for a person: object reprs, addresses and exception class names removed."""
    text = _OBJECT_REPR.sub("the upload", str(text))
    text = _ADDRESS.sub("", text)
    text = _BYTES_REPR.sub("", text)  # file content quoted back (it may be patient text)
    text = _PAREN_CLASS.sub("", text)
    text = _CLASS_NAME.sub("", text)
    text = " ".join(text.split()).strip(" :;,-")
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 3].rstrip() + "..."
    return text or "the file could not be read"


def patient_key(secret: str, patient_id: str | None) -> str | None:
    """A salted (HMAC) hash of a DICOM patient ID, to group a woman's images without storing the ID."""
    if not patient_id:
        return None
    return hmac.new(f"patient:{secret}".encode(), patient_id.encode(), hashlib.sha256).hexdigest()


def _dicom_header(data: bytes):
    """The parsed header of a DICOM upload (no pixels), or None when it does not parse."""
    import pydicom

    try:
        return pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - already read once by mammokit.io; no header means no identifiers
        return None


def _tag_text(ds, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def dicom_identifiers(data: bytes) -> tuple[str, ...]:
    """Patient name and ID strings of a DICOM, only to scrub them from what we store."""
    ds = _dicom_header(data)
    if ds is None:
        return ()
    values = [_tag_text(ds, k) for k in ("PatientName", "PatientID", "OtherPatientIDs")]
    return tuple(v for v in values if len(v) >= 3)


def dicom_exam_ids(data: bytes) -> tuple[str | None, str | None]:
    """(StudyInstanceUID, PatientID) of a DICOM, only to check that an exam's files belong together."""
    ds = _dicom_header(data)
    if ds is None:
        return None, None
    return _tag_text(ds, "StudyInstanceUID") or None, _tag_text(ds, "PatientID") or None


def scrub(text: str, identifiers: tuple[str, ...]) -> str:
    """`text` with each identifier string replaced by '[removed]'."""
    for s in identifiers:
        text = text.replace(s, "[removed]")
    return text


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
