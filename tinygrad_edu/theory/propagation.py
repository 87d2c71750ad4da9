"""The mean-field result: the fixed point q*, χ₁, the edge of chaos, and q layer by layer.

The derivations are in the package docstring (:mod:`tinygrad_edu.theory`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..formatting import short_number
from .activations import Nonlinearity, activation
from .errors import FixedPointError, TheoryError
from .quadrature import FINE_POINTS, FINE_RATIO, GL_POINTS, PANEL_RATIO, check_variance, gaussian_mean

#: The fixed-point iteration stops when |q_{t+1} − q_t| ≤ RTOL·q_{t+1}; after ITERATIONS
#: steps it bisects instead (see :func:`_fixed_point`).
RTOL, ITERATIONS = 1e-13, 60
#: Beyond this q the length map is taken to grow without bound (no finite fixed point).
Q_MAX = 1e12
#: A bisection towards the fixed point q = 0 stops below this (times the problem's scale).
Q_TINY = 1e-15
#: |χ₁ − 1| up to this counts as critical (depth scale ∞).
CRITICAL_TOL = 1e-9
#: The most evaluations of χ₁ the search for the edge of chaos makes.
MAX_SEARCH = 200


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
        quadrature_error: |χ₁ by the finer rule − χ₁| + the same for L(q*) (see
            :mod:`tinygrad_edu.theory.quadrature`): an estimate of the integration error.
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
        """The phase: "ordered" (χ₁ < 1, vanishing), "chaotic" (χ₁ > 1, exploding) or "critical"."""
        if abs(self.chi1 - 1.0) <= CRITICAL_TOL:
            return "critical"
        return "ordered" if self.chi1 < 1.0 else "chaotic"

    def length_map(self, q: float) -> float:
        """L(q) = σ_w² E_z[φ(√q·z)²] + σ_b²: the pre-activation variance one layer up."""
        q = check_variance(q, "q")
        return self.sigma_w2 * gaussian_mean(lambda x: self.nonlinearity.phi(x) ** 2, q) + self.sigma_b2

    def chi(self, q: float) -> float:
        """σ_w² E_z[φ′(√q·z)²]: the gradient factor of a layer whose pre-activations have variance q."""
        q = check_variance(q, "q")
        return self.sigma_w2 * gaussian_mean(lambda x: self.nonlinearity.dphi(x) ** 2, q)

    def gain_over(self, depth: int) -> float:
        """gain^depth: the predicted ‖∂L/∂h_first‖ / ‖∂L/∂h_last‖ over ``depth`` layers."""
        return self.gain**depth

    def __str__(self) -> str:
        # the theory's inputs and χ₁ in 4 digits: near the edge of chaos χ₁ = 0.9996 ≠ 1.0004
        return (
            f"{self.activation}, σ_w² = {self.sigma_w2:.4g}, σ_b² = {self.sigma_b2:.4g}: "
            f"q* = {self.q_star:.4g}, "
            f"χ₁ = {self.chi1:.4g} ({self.phase}); "
            f"each layer multiplies the gradient by ≈ {short_number(self.gain)}"
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
    sigma_w2 = check_variance(sigma_w2, "sigma_w2")
    sigma_b2 = check_variance(sigma_b2, "sigma_b2")
    q0 = check_variance(q0, "q0")
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
    bracket the root on a log scale between 1e-3 and 1e6 and narrow the bracket in log σ_w² to
    ``tol`` by regula falsi (Illinois variant: about 10–30 evaluations instead of bisection's 45).
    ReLU: 2 for every σ_b² (χ₁ = σ_w²/2); linear: 1; tanh at σ_b² = 0: 1 (q* = 0, φ′(0) = 1).
    Near that last point χ₁ is flat to second order (q* ≈ (1 − 1/σ_w²)/2 and
    E[tanh′²] ≈ 1 − 2q* give χ₁ = 1 + O((σ_w² − 1)²)), so there the root is only located to
    about 1e-8.

    Raises:
        TheoryError: bad σ_b²; no σ_w² in [1e-3, 1e6] reaches χ₁ = 1 (the message gives the range
            of χ₁); or χ₁ jumps over 1 because q* jumps (GELU at σ_b² = 0: from q* = 0, where
            χ₁ = σ_w²/4, to q* = ∞, where χ₁ = σ_w²/2).
    """
    sigma_b2 = check_variance(sigma_b2, "sigma_b2")
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
    side = 0  # the Illinois variant of regula falsi: the bracket [lo, hi] always holds the root
    for _ in range(MAX_SEARCH):
        if hi - lo <= tol or (hi - lo <= 1e-8 and min(-f_lo, f_hi) > 1e-4):  # converged, or a jump
            break
        mid = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < mid < hi:
            mid = 0.5 * (lo + hi)
        f_mid = excess(mid)
        if f_mid < 0:
            lo, f_lo = mid, f_mid
            f_hi = f_hi / 2 if side == -1 else f_hi  # the same end twice: halve the other's weight
            side = -1
        else:
            hi, f_hi = mid, f_mid
            f_lo = f_lo / 2 if side == 1 else f_lo
            side = 1
        if abs(f_mid) <= 1e-15:
            lo = hi = mid
            break
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
    q = [check_variance(q0, "q0")]
    chi = []
    for index, (w2, b2) in enumerate(zip(sigma_w2, sigma_b2)):
        w2 = check_variance(w2, f"sigma_w2[{index}]")
        b2 = check_variance(b2, f"sigma_b2[{index}]")
        chi.append(_chi(nl, w2, q[-1]))
        q.append(_length(nl, w2, b2, q[-1]))
    return Propagation(tuple(q), tuple(chi))
