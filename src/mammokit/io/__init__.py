"""Read mammograms (DICOM, PGM, PNG, JPEG, TIFF) into float32 [0, 1] pixels plus metadata."""
from ._image import Image, ImageMeta

__all__ = ["Image", "ImageMeta"]
