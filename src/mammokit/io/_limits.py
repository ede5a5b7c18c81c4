"""Size guards shared by every reader, checked before any pixel buffer is allocated."""
from __future__ import annotations

from ..errors import ImageReadError


def _short(n: float) -> str:
    """1600000000 -> '1.6e9' (a readable pixel count for error messages)."""
    mantissa, exponent = f"{n:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def check_pixels(name: str, rows: int, cols: int, max_pixels: int, frames: int = 1) -> None:
    """Refuse an image whose header promises more pixels than `max_pixels` (decompression-bomb guard)."""
    if rows <= 0 or cols <= 0:
        raise ImageReadError(name, f"image header has an empty size ({rows} rows x {cols} columns)")
    n = rows * cols * frames
    if n > max_pixels:
        frames_txt = f" x {frames} frames" if frames > 1 else ""
        raise ImageReadError(
            name,
            f"{rows} rows x {cols} columns{frames_txt} = {_short(n)} pixels exceeds the limit of "
            f"{max_pixels} pixels (max_pixels)",
        )


def check_bytes(name: str, size: int, max_bytes: int) -> None:
    if size == 0:
        raise ImageReadError(name, "empty file (0 bytes)")
    if size > max_bytes:
        raise ImageReadError(name, f"file is {size} bytes, over the limit of {max_bytes} bytes (max_bytes)")


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line, for wrapping library errors into ImageReadError."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}"
