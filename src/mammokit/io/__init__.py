"""Read mammograms (DICOM, PGM, PNG, JPEG, TIFF) into float32 [0, 1] pixels plus metadata.

    from mammokit.io import read_image
    image = read_image("mdb001.pgm")   # image.pixels: float32 (rows, cols) in [0, 1]; image.meta
"""
from ._image import Image, ImageMeta
from ._read import read_image, read_image_bytes
from ._sniff import sniff_format
from ._write import to_uint8, write_png

__all__ = ["Image", "ImageMeta", "read_image", "read_image_bytes", "sniff_format", "to_uint8", "write_png"]
