"""Mean-field theory of a wide random net: how much each layer shrinks or grows the gradient.

Take a deep MLP with weights ``W ~ N(0, σ_w²/n_in)`` and biases ``b ~ N(0, σ_b²)`` (``n_in`` the
layer's fan-in), pre-activations ``h_l = x_{l−1} W_l + b_l`` and ``x_l = φ(h_l)``. For wide
layers every unit of ``h_l`` is a sum of many independent terms, so it is Gaussian with a
variance ``q_l`` that is the same for every unit (Poole et al. 2016, "Exponential
expressivity in deep neural networks through transient chaos"):

**The length map.** ``E[h²] = Σ_i E[W_i²] E[x_i²] + E[b²]`` with ``n_in`` terms of
``σ_w²/n_in · E[φ(h_{l−1})²]``, and ``h_{l−1} = √q_{l−1}·z`` with ``z ~ N(0, 1)``::

    q_l = L(q_{l−1}) = σ_w² · E_z[φ(√q_{l−1}·z)²] + σ_b²

Iterated over depth, ``q_l`` settles at a fixed point ``q* = L(q*)`` within a few layers.

**The gradient factor χ₁.** Backward, δ_l = ∂L/∂h_l = φ′(h_l) ⊙ (δ_{l+1} W_{l+1}ᵀ). Treating
the weights of the backward pass as independent of the forward ones (the usual "gradient
independence" assumption, Schoenholz et al. 2017, "Deep information propagation"),
``E‖δ_{l+1} Wᵀ‖² = n_in · σ_w²/n_in · ‖δ_{l+1}‖² = σ_w² ‖δ_{l+1}‖²`` — for any widths — and the
elementwise φ′ multiplies by ``E[φ′(h_l)²]``::

    E‖δ_l‖² = χ₁ · E‖δ_{l+1}‖²,   χ₁ = σ_w² · E_z[φ′(√q*·z)²]

So the squared gradient norm is multiplied by χ₁ per layer and the norm itself by
``gain = √χ₁``. χ₁ < 1 is the *ordered* phase (gradients vanish), χ₁ > 1 the *chaotic* phase
(they explode), χ₁ = 1 the *edge of chaos*. χ₁ is also the slope at c = 1 of the map of the
correlation between two inputs, which is why one number decides both trainability and
expressivity. Over ``ξ = −1/ln χ₁`` layers the squared norm changes by a factor e (the norm
over 2ξ); ξ is the depth scale (infinite at χ₁ = 1, negative — growth — in the chaotic phase).

Closed forms, used by the tests: ReLU ``E[φ(√q z)²] = q/2`` and ``E[φ′²] = 1/2`` so
``χ₁ = σ_w²/2`` (critical at σ_w² = 2: He init) and ``q* = σ_b²/(1 − σ_w²/2)``; linear φ gives
``χ₁ = σ_w²`` and ``q* = σ_b²/(1 − σ_w²)``.

**Quadrature.** Every expectation is ``E[f(x)]`` for x ~ N(0, q), computed in x by
Gauss–Legendre (12 points) on panels that start at width 0.05·min(1, √q) next to 0 and grow
by 1.25× out to 9√q, mirrored (:func:`gaussian_rule`; about 600–1300 nodes). The textbook
Gauss–Hermite rule in z (nodes √q·z_i) is not good enough here: its nodes are spread on the
Gaussian's scale √q, so once √q is large against the scale of φ′ (|x| ≈ 1) it steps over the
bump of tanh′ — measured for E[tanh′(√q z)²] with 128 nodes: relative error 3e-7 at q = 2.2,
0.9% at q = 10, 80% at q = 100. The composite rule resolves both scales: against a rule with
about 10× more points (24-point panels growing by 1.05×) it agrees to < 1e-14 for tanh,
sigmoid and GELU from q = 1e-8 to 1e6, and ReLU/linear moments (q/2, q) come out exact to
rounding (0 is a panel edge, so the kink is never inside a panel). The tests check it against
those closed forms, Monte Carlo and the finer rule; every result carries ``quadrature_error``,
the difference to the finer rule at q*.

Example::

    >>> from tinygrad_edu import theory
    >>> mf = theory.mean_field("tanh", 1.5, 0.05)
    >>> round(mf.chi1, 4), round(mf.gain, 4)             # doctest: +SKIP
    >>> theory.critical_sigma_w2("relu", 0.0)             # 2.0: He init is critical
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import TinygradEduError

__all__ = [
    "TheoryError",
    "FixedPointError",
    "Nonlinearity",
    "MeanField",
    "Propagation",
    "ACTIVATIONS",
    "activation",
    "gaussian_rule",
    "gaussian_mean",
    "mean_field",
    "critical_sigma_w2",
    "propagate",
]

#: The fixed-point iteration stops when |q_{t+1} − q_t| ≤ RTOL·q_{t+1}; after ITERATIONS
#: steps it bisects instead (see :func:`_fixed_point`).
RTOL, ITERATIONS = 1e-13, 60
#: Beyond this q the length map is taken to grow without bound (no finite fixed point).
Q_MAX = 1e12
#: A bisection towards the fixed point q = 0 stops below this (times the problem's scale).
Q_TINY = 1e-15
#: Expectations at q = 0 are taken at this q: the limit q → 0⁺ (see :func:`gaussian_mean`).
Q_ZERO = 1e-200
#: |χ₁ − 1| up to this counts as critical (depth scale ∞).
CRITICAL_TOL = 1e-9

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715  # as nn.GELU: the tanh approximation of x·Φ(x)


class TheoryError(TinygradEduError, ValueError):
    """Arguments the theory cannot use: a negative or non-finite variance, an activation that
    is unknown or returns nan/inf at the quadrature nodes."""


class FixedPointError(TheoryError):
    """The length map has no fixed point the iteration can reach (it cycles or diverges while
    the gradient factor keeps changing)."""


# --- activations: φ next to φ′ --------------------------------------------------------


@dataclass(frozen=True)
class Nonlinearity:
    """An activation for the theory: ``phi`` and its derivative ``dphi``, both on numpy arrays."""

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    numeric_derivative: bool = False


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1 + e⁻ˣ), without overflow


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)))


def _gelu_derivative(x):
    # d/dx ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³):  ½(1 + tanh u) + ½x·(1 − tanh²u)·u′
    t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)


def _leaky(slope: float) -> Nonlinearity:
    return Nonlinearity(
        f"leaky_relu({slope:g})",
        lambda x: np.where(x > 0, x, slope * x),
        lambda x: np.where(x > 0, 1.0, slope),
    )


#: name → (φ, φ′). GELU is the tanh approximation that :class:`~tinygrad_edu.nn.GELU` computes
#: (it differs from x·Φ(x) by < 1e-3), so the prediction is about the net our engine builds.
ACTIVATIONS: dict[str, Nonlinearity] = {
    "tanh": Nonlinearity("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "sigmoid": Nonlinearity("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
    "relu": Nonlinearity("relu", lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(np.float64)),
    "leaky_relu": _leaky(0.01),
    "gelu": Nonlinearity("gelu", _gelu, _gelu_derivative),
    "linear": Nonlinearity("linear", lambda x: x, np.ones_like),
    "identity": Nonlinearity("linear", lambda x: x, np.ones_like),
}


def _elementwise(fn: Callable, name: str) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` on an array; a function of one float (``math.tanh``) is applied per element."""

    def apply(x: np.ndarray) -> np.ndarray:
        shape = None
        try:
            y = np.asarray(fn(x), dtype=np.float64)
            if y.shape == x.shape:
                return y
            shape = f" (on an array of shape {x.shape} it returned shape {y.shape})"
        except (TypeError, ValueError):
            pass
        try:
            return np.array([float(fn(float(v))) for v in x.ravel()]).reshape(x.shape)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as error:
            raise TheoryError(
                f"theory: activation {name!r} cannot be evaluated at the quadrature nodes"
                f"{shape or ''}: {error}"
            ) from error

    return apply


def _central_difference(phi: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """φ′(x) ≈ (φ(x + h) − φ(x − h)) / 2h with h = 1e-5·(1 + |x|): error ~ h²·φ‴/6 ≈ 1e-10."""

    def dphi(x: np.ndarray) -> np.ndarray:
        h = 1e-5 * (1.0 + np.abs(x))
        return (phi(x + h) - phi(x - h)) / (2.0 * h)

    return dphi


def activation(spec: Any) -> Nonlinearity:
    """An activation for the theory from what a user has at hand.

    * a name from :data:`ACTIVATIONS` (``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"leaky_relu"``
      (slope 0.01), ``"gelu"``, ``"linear"``);
    * an ``nn`` activation module (``nn.Tanh()``, ``nn.LeakyReLU(0.2)`` keeps its slope);
    * a pair ``(φ, φ′)`` of functions — the exact derivative, the recommended form;
    * a function ``φ`` alone: φ′ is then a central difference (relative error about 1e-10 for
      a smooth φ; wrong only within 1e-5 of a kink, where no even-``n`` node falls in
      practice). ``Nonlinearity.numeric_derivative`` records that.

    Functions take and return numpy arrays elementwise (a function of one float is applied
    element by element).

    Raises:
        TheoryError: an unknown name or something that is not a function.
    """
    if isinstance(spec, Nonlinearity):
        return spec
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise TheoryError(
                f"theory: unknown activation {spec!r}; known: {', '.join(ACTIVATIONS)}, "
                "or pass (φ, φ′) functions"
            )
        return ACTIVATIONS[spec]
    kind = getattr(spec, "kind", None)
    if isinstance(kind, str) and hasattr(spec, "forward"):  # an nn.Activation module
        if kind == "leaky_relu":
            return _leaky(float(spec.negative_slope))
        if kind == "linear" and type(spec).__name__ == "Lambda":
            return activation(spec.fn)
        return activation(kind)
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        name = getattr(spec[0], "__name__", "user activation")
        return Nonlinearity(name, _elementwise(spec[0], name), _elementwise(spec[1], name + "′"))
    if callable(spec):
        name = getattr(spec, "__name__", "user activation")
        phi = _elementwise(spec, name)
        return Nonlinearity(name, phi, _central_difference(phi), numeric_derivative=True)
    raise TheoryError(
        f"theory: activation must be a name, an nn activation, a function φ or a pair (φ, φ′); "
        f"got {type(spec).__name__}"
    )


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


def _check_variance(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TheoryError(f"theory: {name} must be a real number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise TheoryError(f"theory: {name} must be a finite variance >= 0, got {value!r}")
    return value


# --- the mean-field result ---------------------------------------------------------------


@dataclass(frozen=True)
class MeanField:
    """The mean-field prediction for one activation and one (σ_w², σ_b²).

    Attributes:
        q_star: the fixed point of the length map reached from ``q0`` (``inf`` when q grows
            without bound, as for ReLU with σ_w² > 2; χ₁ is then its limit, which exists for
            activations that are ReLU-like at large |x|).
        chi1: σ_w² E[φ′(√q*·z)²], the factor of the squared gradient norm per layer.
        iterations: length-map steps (iterations, then bisection steps) the fixed point took.
        quadrature_error: |χ₁ computed with 2n points − χ₁ with n points| + the same for L(q*).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    iterations: int
    quadrature_error: float
    nonlinearity: Nonlinearity = field(repr=False)

    @property
    def gain(self) -> float:
        """√χ₁: the factor of the gradient *norm* per layer (‖δ_l‖ ≈ gain · ‖δ_{l+1}‖)."""
        return math.sqrt(self.chi1)

    @property
    def depth_scale(self) -> float:
        """ξ = −1/ln χ₁: the squared gradient norm changes by e over |ξ| layers (inf where
        |χ₁ − 1| ≤ CRITICAL_TOL; negative in the chaotic phase, where it grows)."""
        if abs(self.chi1 - 1.0) <= CRITICAL_TOL:
            return math.inf
        if self.chi1 == 0.0:
            return 0.0
        return -1.0 / math.log(self.chi1)

    @property
    def phase(self) -> str:
        """ "ordered" (χ₁ < 1, vanishing), "chaotic" (χ₁ > 1, exploding) or "critical"."""
        if abs(self.chi1 - 1.0) <= CRITICAL_TOL:
            return "critical"
        return "ordered" if self.chi1 < 1.0 else "chaotic"

    def length_map(self, q: float) -> float:
        """L(q) = σ_w² E_z[φ(√q·z)²] + σ_b²: the pre-activation variance one layer up."""
        q = _check_variance(q, "q")
        return self.sigma_w2 * gaussian_mean(lambda x: self.nonlinearity.phi(x) ** 2, q) + self.sigma_b2

    def chi(self, q: float) -> float:
        """σ_w² E_z[φ′(√q·z)²]: the gradient factor of a layer whose pre-activations have variance q."""
        q = _check_variance(q, "q")
        return self.sigma_w2 * gaussian_mean(lambda x: self.nonlinearity.dphi(x) ** 2, q)

    def gain_over(self, depth: int) -> float:
        """gain^depth: the predicted ‖∂L/∂h_first‖ / ‖∂L/∂h_last‖ over ``depth`` layers."""
        return self.gain**depth

    def __str__(self) -> str:
        return (
            f"{self.activation}, σ_w² = {self.sigma_w2:.4g}, σ_b² = {self.sigma_b2:.4g}: "
            f"q* = {self.q_star:.4g}, "
            f"χ₁ = {self.chi1:.4g} ({self.phase}); each layer multiplies the gradient by ≈ {self.gain:.3g}"
        )


def _length(nl: Nonlinearity, sigma_w2: float, sigma_b2: float, q: float, fine: bool = False) -> float:
    rule = (FINE_POINTS, FINE_RATIO) if fine else (GL_POINTS, PANEL_RATIO)
    return sigma_w2 * gaussian_mean(lambda x: nl.phi(x) ** 2, q, *rule) + sigma_b2


def _chi(nl: Nonlinearity, sigma_w2: float, q: float, fine: bool = False) -> float:
    rule = (FINE_POINTS, FINE_RATIO) if fine else (GL_POINTS, PANEL_RATIO)
    return sigma_w2 * gaussian_mean(lambda x: nl.dphi(x) ** 2, q, *rule)


def _fixed_point(nl: Nonlinearity, sigma_w2: float, sigma_b2: float, q0: float) -> tuple[float, int]:
    """The fixed point of q ← L(q) that the iteration from q0 approaches, and the steps taken.

    First the plain iteration (what a deep net does, layer after layer), which settles in a
    few steps for most (σ_w², σ_b²). Near the edge of chaos it crawls (tanh with σ_w² = 1,
    σ_b² = 0 has q_l ~ 1/l), so after ITERATIONS steps we bisect g(q) = L(q) − q instead: L is
    increasing, so if the iterates fall (g(q) < 0) the fixed point lies in [0, q] where
    g(0) = L(0) ≥ 0, and if they rise (g > 0) it lies below the first q·2ᵏ with g < 0 — or
    there is none below Q_MAX and q grows without bound (q* = ∞). The root found is where g
    turns from + to −: an attracting fixed point.
    """
    q = q0
    for iteration in range(1, ITERATIONS + 1):
        q_next = _length(nl, sigma_w2, sigma_b2, q)
        if q_next > Q_MAX:
            return math.inf, iteration
        if abs(q_next - q) <= RTOL * q_next:
            return q_next, iteration
        q = q_next

    def g(x: float) -> float:
        return _length(nl, sigma_w2, sigma_b2, x) - x

    steps = ITERATIONS
    if g(q) < 0:
        lo, hi = 0.0, q
    else:
        lo, hi = q, 2.0 * q
        while g(hi) >= 0:
            steps += 1
            lo, hi = hi, 2.0 * hi
            if hi > Q_MAX:
                return math.inf, steps
    floor = Q_TINY * max(q0, sigma_b2, 1.0)
    while hi - lo > RTOL * hi and hi > floor:
        steps += 1
        mid = 0.5 * (lo + hi)
        if g(mid) >= 0:
            lo = mid
        else:
            hi = mid
    if hi <= floor and lo == 0.0:
        return 0.0, steps  # L(0) = 0 (σ_b² = 0, φ(0) = 0) and L(q) < q above: q* = 0
    return 0.5 * (lo + hi), steps


def mean_field(activation_: Any, sigma_w2: float, sigma_b2: float = 0.0, *, q0: float = 1.0) -> MeanField:
    """The fixed point q*, the gradient factor χ₁ and the derived gain and depth scale.

    Args:
        activation_: a name, an nn activation, (φ, φ′) or φ (see :func:`activation`).
        sigma_w2: σ_w², the weight variance times the fan-in (W ~ N(0, σ_w²/n_in)).
        sigma_b2: σ_b², the bias variance.
        q0: the pre-activation variance of the first layer, where the iteration starts (for
            activations with several fixed points it picks the one a net fed this input reaches).

    Raises:
        TheoryError: negative or non-finite variances, an unknown activation, one that is nan
            or inf at the quadrature nodes.
        FixedPointError: the iteration does not settle, or q diverges while χ₁(q) keeps changing
            (an activation growing faster than linearly).
    """
    sigma_w2 = _check_variance(sigma_w2, "sigma_w2")
    sigma_b2 = _check_variance(sigma_b2, "sigma_b2")
    q0 = _check_variance(q0, "q0")
    nl = activation(activation_)
    q_star, iterations = _fixed_point(nl, sigma_w2, sigma_b2, q0)
    if math.isinf(q_star):
        chi1 = _chi(nl, sigma_w2, Q_MAX)
        further = _chi(nl, sigma_w2, 100.0 * Q_MAX)
        if not math.isclose(chi1, further, rel_tol=1e-6):
            raise FixedPointError(
                f"theory: q grows without bound ({nl.name}, σ_w² = {sigma_w2:g}, σ_b² = {sigma_b2:g}) and "
                f"χ₁(q) has no limit (χ₁ = {chi1:.6g} at q = {Q_MAX:g}, {further:.6g} at q = {100 * Q_MAX:g})"
            )
        error = abs(_chi(nl, sigma_w2, Q_MAX, fine=True) - chi1)
    else:
        chi1 = _chi(nl, sigma_w2, q_star)
        error = abs(_chi(nl, sigma_w2, q_star, fine=True) - chi1) + abs(
            _length(nl, sigma_w2, sigma_b2, q_star, fine=True) - _length(nl, sigma_w2, sigma_b2, q_star)
        )
    return MeanField(nl.name, sigma_w2, sigma_b2, q_star, chi1, iterations, error, nl)


def critical_sigma_w2(
    activation_: Any, sigma_b2: float = 0.0, *, q0: float = 1.0, tol: float = 1e-12
) -> float:
    """The edge of chaos: the σ_w² at which χ₁(σ_w², σ_b²) = 1.

    χ₁ grows with σ_w² (more weight, more gain, despite q* growing and φ′ saturating), so we
    bracket the root on a log scale between 1e-3 and 1e6 and bisect in log σ_w² to ``tol``.
    ReLU: 2 for every σ_b² (χ₁ = σ_w²/2); linear: 1; tanh at σ_b² = 0: 1 (q* = 0, φ′(0) = 1).
    Near that last point χ₁ is flat to second order (q* ≈ (1 − 1/σ_w²)/2 and
    E[tanh′²] ≈ 1 − 2q* give χ₁ = 1 + O((σ_w² − 1)²)), so there the root is only located to
    about 1e-8.

    Raises:
        TheoryError: bad σ_b²; no σ_w² in [1e-3, 1e6] reaches χ₁ = 1 (the message gives the range
            of χ₁); or χ₁ jumps over 1 because q* jumps (GELU at σ_b² = 0: from q* = 0, where
            χ₁ = σ_w²/4, to q* = ∞, where χ₁ = σ_w²/2).
    """
    sigma_b2 = _check_variance(sigma_b2, "sigma_b2")
    nl = activation(activation_)

    def excess(log_w: float) -> float:
        return mean_field(nl, math.exp(log_w), sigma_b2, q0=q0).chi1 - 1.0

    lo, hi = math.log(1e-3), math.log(1e6)
    f_lo, f_hi = excess(lo), excess(hi)
    if f_lo > 0 or f_hi < 0:
        raise TheoryError(
            f"theory: χ₁ = 1 is not reached for {nl.name} with σ_b² = {sigma_b2:g}: χ₁ runs from "
            f"{f_lo + 1:.4g} (σ_w² = 1e-3) to {f_hi + 1:.4g} (σ_w² = 1e6)"
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if excess(mid) < 0:
            lo = mid
        else:
            hi = mid
    below, above = excess(lo) + 1.0, excess(hi) + 1.0
    if above - below > 1e-6:  # χ₁ jumps over 1 instead of crossing it
        raise TheoryError(
            f"theory: for {nl.name} with σ_b² = {sigma_b2:g} (from q0 = {q0:g}) χ₁ jumps from {below:.4g} to "
            f"{above:.4g} at σ_w² ≈ {math.exp(lo):.6g}: the fixed point q* jumps "
            f"({mean_field(nl, math.exp(lo), sigma_b2, q0=q0).q_star:.4g} → "
            f"{mean_field(nl, math.exp(hi), sigma_b2, q0=q0).q_star:.4g}), so there is no edge of chaos"
        )
    return math.exp(0.5 * (lo + hi))


# --- a finite net: layer by layer -----------------------------------------------------------


@dataclass(frozen=True)
class Propagation:
    """The theory along a finite net whose layers may differ.

    Attributes:
        q: q_l, the pre-activation variance of layer l (l = 0 is the first layer).
        chi: chi[l] = σ_{w,l+1}² E[φ′(√q_l z)²], the factor of E‖δ‖² from layer l+1 down to l.
    """

    q: tuple[float, ...]
    chi: tuple[float, ...]

    @property
    def gains(self) -> tuple[float, ...]:
        """√chi[l]: ‖∂L/∂h_l‖ / ‖∂L/∂h_{l+1}‖ predicted for each pair of consecutive layers."""
        return tuple(math.sqrt(c) for c in self.chi)

    def first_over_last(self) -> float:
        """The product of the gains: predicted ‖∂L/∂h_0‖ / ‖∂L/∂h_last‖."""
        return float(np.prod(self.gains)) if self.chi else 1.0


def propagate(
    activation_: Any, sigma_w2: Sequence[float], sigma_b2: Sequence[float], q0: float
) -> Propagation:
    """q_l and the gradient factors through a net with per-layer σ_{w,l}², σ_{b,l}².

    ``q0`` is the variance of the first layer's pre-activations (σ_{w,0}² E[x²] + σ_{b,0}² for
    an input x); the first entries of ``sigma_w2``/``sigma_b2`` therefore belong to the
    *second* layer: q_{l+1} = σ_{w,l}² E[φ(√q_l z)²] + σ_{b,l}² and chi[l] = σ_{w,l}² E[φ′(√q_l z)²].
    Unlike :func:`mean_field` nothing is assumed converged: this is what a net of this depth
    has, including the first layers where q is still on its way to q*.
    """
    if len(sigma_w2) != len(sigma_b2):
        raise TheoryError(
            f"theory.propagate: {len(sigma_w2)} weight variances but {len(sigma_b2)} bias variances"
        )
    nl = activation(activation_)
    q = [_check_variance(q0, "q0")]
    chi = []
    for index, (w2, b2) in enumerate(zip(sigma_w2, sigma_b2)):
        w2 = _check_variance(w2, f"sigma_w2[{index}]")
        b2 = _check_variance(b2, f"sigma_b2[{index}]")
        chi.append(_chi(nl, w2, q[-1]))
        q.append(_length(nl, w2, b2, q[-1]))
    return Propagation(tuple(q), tuple(chi))
