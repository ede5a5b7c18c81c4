"""Class balancing through imbalanced-learn, only ever fitted on training rows.

``make_sampler(name)`` builds the sampler; ``AuditedSampler`` wraps it and records
every row it was fitted on in an ``Audit`` so tests can prove no test row (and no
row of a test patient) ever reached it. ``find_synthetic_parents`` recovers, for
each SMOTE-made row, the two real rows it was interpolated between.
"""
from ._audit import Audit, row_digests
from ._parents import find_synthetic_parents
from ._samplers import BALANCE_METHODS, RESAMPLING_METHODS, AuditedSampler, make_sampler

__all__ = [
    "BALANCE_METHODS",
    "RESAMPLING_METHODS",
    "Audit",
    "AuditedSampler",
    "find_synthetic_parents",
    "make_sampler",
    "row_digests",
]
