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
by 1.25× out to 9√q, mirrored (:func:`gaussian_rule`; 576 nodes for q ≤ 1, 1320 at q = 1e6). The textbook
Gauss–Hermite rule in z (nodes √q·z_i) is not good enough here: its nodes are spread on the
Gaussian's scale √q, so once √q is large against the scale of φ′ (|x| ≈ 1) it steps over the
bump of tanh′ — measured for E[tanh′(√q z)²] with 128 nodes: relative error 3e-7 at q = 2.2,
0.9% at q = 10, 80% at q = 100. The composite rule resolves both scales: against a rule with
about 10× more points (24-point panels growing by 1.05×) it agrees to 5e-16 (relative) for
E[φ²] and E[φ′²] of tanh, sigmoid and GELU from q = 1e-8 to 1e6, and ReLU/linear moments
(q/2, q) come out exact to rounding (0 is a panel edge, so the kink is never inside a panel).
The tests check it against those closed forms, Monte Carlo and a brute-force trapezoid rule;
every result carries ``quadrature_error``, the difference to the finer rule at q*.

Example::

    >>> from tinygrad_edu import theory
    >>> mf = theory.mean_field("tanh", 1.5, 0.05)
    >>> round(mf.chi1, 4), round(mf.gain, 4)     # ordered: each layer × 0.969
    (0.9386, 0.9688)
    >>> theory.critical_sigma_w2("relu", 0.0)     # He init is critical
    2.0
"""

from __future__ import annotations

from .activations import ACTIVATIONS, Nonlinearity, activation
from .errors import FixedPointError, TheoryError
from .propagation import CRITICAL_TOL, MeanField, Propagation, critical_sigma_w2, mean_field, propagate
from .quadrature import gaussian_mean, gaussian_rule

__all__ = [
    "TheoryError",
    "FixedPointError",
    "Nonlinearity",
    "MeanField",
    "Propagation",
    "ACTIVATIONS",
    "CRITICAL_TOL",
    "activation",
    "gaussian_rule",
    "gaussian_mean",
    "mean_field",
    "critical_sigma_w2",
    "propagate",
]
