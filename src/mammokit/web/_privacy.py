"""What the server says and keeps about an upload: no client file name is stored, messages are short.

- `stored_name`: the name kept in the database and shown in the history, derived by the server from
  what it read (`DICOM R CC`, `PNG`), never from the client's file name (names such as
  `Mass-Test_P_00173_LEFT_CC` or `..._19650412.dcm` carry patient IDs and birth dates).
- `client_label`: the client's file name, shortened, for the response to that same client only.
- `public_reason`: a library error turned into one short human line (no memory addresses, no exception
  class names); the full text goes to the server log (`mammokit.web` logger) only.
"""
from __future__ import annotations

import logging
import re

log = logging.getLogger("mammokit.web")

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
