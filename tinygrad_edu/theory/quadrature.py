"""Gaussian expectations E[f(x)], x ~ N(0, q): the composite rule the theory integrates with.

See the package docstring (:mod:`tinygrad_edu.theory`) for why not plain Gauss–Hermite, and the
accuracy measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import TheoryError

#: Expectations at q = 0 are taken at this q: the limit q → 0⁺ (see :func:`gaussian_mean`).
Q_ZERO = 1e-200

# --- Gaussian expectations -------------------------------------------------------------

#: The default rule: Gauss–Legendre with GL_POINTS points on panels growing by PANEL_RATIO.
GL_POINTS, PANEL_RATIO = 12, 1.25
#: The reference rule of ``quadrature_error`` (about 10× more points).
FINE_POINTS, FINE_RATIO = 24, 1.05
#: The first panel is [0, FIRST_PANEL·min(1, √q)]; the last ends at TAIL·√q (mass beyond: 2e-19).
FIRST_PANEL, TAIL = 0.05, 9.0

_LEGENDRE: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_RULES: dict[tuple[float, int, float], tuple[np.ndarray, np.ndarray]] = {}


def gaussian_rule(
    q: float, points: int = GL_POINTS, ratio: float = PANEL_RATIO
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes x_i and weights p_i with ``E[f(x)] ≈ Σ p_i f(x_i)`` for x ~ N(0, q).

    Panels on [0, 9√q] (and their mirror images): the first of width 0.05·min(1, √q), each next
    one ``ratio`` times wider; ``points``-point Gauss–Legendre on each, times the density. Small
    panels near 0 resolve the activation's own scale (|x| ≈ 1), the growing ones the Gaussian's
    (√q); 0 is a panel edge, so a kink there never sits inside a panel.
    """
    key = (q, points, ratio)
    if key not in _RULES:
        if len(_RULES) > 4096:
            _RULES.clear()
        if points not in _LEGENDRE:
            _LEGENDRE[points] = np.polynomial.legendre.leggauss(points)
        t, w = _LEGENDRE[points]
        scale = math.sqrt(q)
        first, top = FIRST_PANEL * min(1.0, scale), TAIL * scale
        count = max(1, math.ceil(math.log(top / first) / math.log(ratio))) if top > first else 1
        edges = np.minimum(np.concatenate([[0.0], first * ratio ** np.arange(count)]), top)
        edges[-1] = top
        left, right = edges[:-1, None], edges[1:, None]
        x = ((left + right) / 2 + (right - left) / 2 * t).ravel()
        p = ((right - left) / 2 * w).ravel() * np.exp(-x * x / (2 * q)) / math.sqrt(2 * math.pi * q)
        _RULES[key] = (np.concatenate([-x[::-1], x]), np.concatenate([p[::-1], p]))
    return _RULES[key]


def gaussian_mean(
    f: Callable[[np.ndarray], np.ndarray], q: float, points: int = GL_POINTS, ratio: float = PANEL_RATIO
) -> float:
    """``E_z[f(√q·z)]`` for z ~ N(0, 1), by the composite rule of :func:`gaussian_rule`.

    q = 0 means the limit q → 0⁺ (computed at q = Q_ZERO): f(0) for a continuous f, but for
    ReLU′² it is 1/2, not relu′(0)² — what a layer whose q_l → 0 really multiplies by.

    Raises:
        TheoryError: ``f`` returns nan/inf (or the wrong shape) at a node, naming the node.
    """
    x, p = gaussian_rule(max(q, Q_ZERO), points, ratio)
    with np.errstate(all="ignore"):
        values = np.asarray(f(x), dtype=np.float64)
    if values.shape != x.shape:
        raise TheoryError(f"theory: the activation returned shape {values.shape} for input shape {x.shape}")
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise TheoryError(
            f"theory: the activation gives {values[bad]} at x = {x[bad]:.6g} (a quadrature node for "
            f"q = {q:.6g}); the Gaussian expectation needs finite values"
        )
    return float(p @ values)


def check_variance(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TheoryError(f"theory: {name} must be a real number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise TheoryError(f"theory: {name} must be a finite variance >= 0, got {value!r}")
    return value
