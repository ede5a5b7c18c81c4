"""mammokit: breast-cancer classifiers for mammograms, built to be honest about their numbers.

Layers (one sub-package each; each imports only those before it, checked by tests/test_layers.py):
io -> datasets -> preprocess -> features -> balance / evaluate -> models (explain, birads) -> protocols
-> bundle -> report -> orchestration -> cli / web.

Research software, not a medical device.
"""
from ._numerics import pin_math_libraries

pin_math_libraries()  # before torch / MKL load: see _numerics.py

from .errors import MammokitError

__version__ = "0.1.0"
__all__ = ["MammokitError", "__version__"]
