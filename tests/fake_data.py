"""Small synthetic data sets shared by several test modules.

Imported as ``fake_data``: pytest puts ``tests/`` on ``sys.path`` (its default "prepend" import mode).
"""

import numpy as np


def digits_like(n=128, seed=0):
    """8×8 'digits': ten random binary prototypes plus noise, pixels in [0, 1]."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, 64)) < 0.3).astype(float)
    y = rng.integers(0, 10, n)
    x = np.clip(prototypes[y] + 0.3 * rng.normal(size=(n, 64)), 0.0, 1.0)
    return x, y
