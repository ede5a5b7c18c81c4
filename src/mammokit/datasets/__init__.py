"""Data sets as one Record table: mini-MIAS, a folder per class, a CSV manifest."""
from ._records import Lesion, Record

__all__ = ["Lesion", "Record"]
