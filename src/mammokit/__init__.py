"""mammokit: breast-cancer classifiers for mammograms, built to be honest about their numbers.

Data flow (one sub-package per stage):
io -> datasets -> preprocess -> features -> balance -> models -> protocols -> evaluate -> report -> bundle.
The CLI (``mammokit.cli``) and the web app (``mammokit.web``) are thin shells over these.

Research software, not a medical device.
"""
from ._numerics import pin_math_libraries

pin_math_libraries()  # before torch / MKL load: see _numerics.py

from .errors import MammokitError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["MammokitError", "__version__"]
