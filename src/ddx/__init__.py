"""ddx: rule-based differential diagnosis for ossified lesions at the ischial tuberosity.

Decision support for clinicians, not a diagnosis. The public library API lives in :mod:`ddx.api`.
"""

__version__ = "0.1.0"
