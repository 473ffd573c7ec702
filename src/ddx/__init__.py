"""ddx: a rule-based differential-diagnosis engine; the clinical knowledge lives in its rule pack (``rules/``).

Decision support for clinicians, not a diagnosis. The public library API lives in :mod:`ddx.api`.
"""

__version__ = "0.1.0"
