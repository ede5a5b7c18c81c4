"""Recognise an image format from the first bytes of its content, not its name."""
from __future__ import annotations

from os import PathLike
from pathlib import Path

# Enough to see the DICOM "DICM" marker after its 128-byte preamble.
SNIFF_BYTES = 132

_DICOM_SUFFIXES = (".dcm", ".dicom")


def sniff_bytes(head: bytes, name: str = "") -> str | None:
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
    # Some old DICOM files lack the preamble; accept them only when the name also says DICOM
    # and the first element is a group 0x0002 or 0x0008 tag (little endian).
    if name.lower().endswith(_DICOM_SUFFIXES) and head[:2] in (b"\x02\x00", b"\x08\x00") and len(head) >= 8:
        return "dicom"
    return None


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
    return sniff_bytes(head, path.name)
