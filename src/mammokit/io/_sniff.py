"""Recognise an image format from the first bytes of its content, not its name."""
from __future__ import annotations

from os import PathLike
from pathlib import Path

# Enough to see the DICOM "DICM" marker after its 128-byte preamble.
SNIFF_BYTES = 132

def sniff_bytes(head: bytes) -> str | None:
    """Format name ("dicom", "pgm", "png", "jpeg", "tiff") of content starting with `head`, else None."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "tiff"
    if head[:2] in (b"P5", b"P2") and len(head) > 2 and head[2:3] in b" \t\r\n#":
        return "pgm"
    if _looks_like_bare_dicom(head):
        return "dicom"
    return None


_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF",
        b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN",
        b"UR", b"US", b"UT", b"UV"}


def _looks_like_bare_dicom(head: bytes) -> bool:
    """Old (ACR-NEMA style) DICOM files lack the preamble: they start straight with a little-endian tag of
    group 0x0002 or 0x0008, then an explicit VR or a small implicit length."""
    if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    return head[4:6] in _VRS or int.from_bytes(head[4:8], "little") < 4096


def sniff_format(source: str | PathLike | bytes) -> str | None:
    """Sniff a file path or in-memory bytes; None when the content is no supported image.

    A path that cannot be opened also gives None; `read_image` explains why.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return sniff_bytes(bytes(source[:SNIFF_BYTES]))
    path = Path(source)
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return None
    return sniff_bytes(head)
