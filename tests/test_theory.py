"""tinygrad_edu.theory against closed forms, Monte Carlo, a brute-force quadrature, and our own nets.

The independent computations: the ReLU/linear moments by hand (E[relu(√q z)²] = q/2,
E[relu′²] = 1/2, E[z²] = 1); Monte Carlo averages of φ(√q z)² and φ′(√q z)² with their standard
errors; a trapezoid rule on a fine uniform grid (a different quadrature from the panels the
module uses); and, for the gains, the ``.grad`` of random nets built with ``nn`` (width 256).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, nn, theory
from tinygrad_edu.theory import FixedPointError, TheoryError

SMOOTH = {
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "gelu": (
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        None,  # checked against the module's own nn.GELU below
    ),
}


def trapezoid_mean(f, q: float, points: int = 400_000) -> float:
    """E[f(x)], x ~ N(0, q), by the trapezoid rule on a uniform grid over ±12√q (brute force; an
    even number of points, so that 0 — where ReLU′ jumps — falls midway between two)."""
    x = np.linspace(-12 * math.sqrt(q), 12 * math.sqrt(q), points)
    density = np.exp(-x * x / (2 * q)) / math.sqrt(2 * math.pi * q)
    y = f(x) * density
    return float(np.sum((y[1:] + y[:-1]) / 2) * (x[1] - x[0]))


# --- the quadrature ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "relu"])
@pytest.mark.parametrize("q", [1e-6, 0.3, 2.2, 10.0, 100.0, 1e4])
def test_gaussian_mean_agrees_with_a_brute_force_trapezoid_rule(name, q):
    nl = theory.activation(name)
    for f in (lambda x: nl.phi(x) ** 2, lambda x: nl.dphi(x) ** 2):
        ours = theory.gaussian_mean(f, q)
        brute = trapezoid_mean(f, q)
        assert ours == pytest.approx(brute, rel=1e-8, abs=1e-300)


def test_plain_gauss_hermite_fails_where_the_panels_do_not():
    """The docstring's reason for the composite rule: 128-point Gauss–Hermite in z steps over
    the bump of tanh′(√q z)² once √q is large (errors 3e-7 at q = 2.2, 0.9% at 10, 80% at 100)."""
    x, w = np.polynomial.hermite.hermgauss(128)
    for q, low, high in ((2.2, 1e-7, 1e-6), (10.0, 5e-3, 2e-2), (100.0, 0.5, 1.0)):
        exact = trapezoid_mean(lambda v: (1 - np.tanh(v) ** 2) ** 2, q)
        hermite = float(w @ (1 - np.tanh(math.sqrt(2 * q) * x) ** 2) ** 2 / math.sqrt(math.pi))
        assert low < abs(hermite / exact - 1) < high
        assert theory.gaussian_mean(lambda v: (1 - np.tanh(v) ** 2) ** 2, q) == pytest.approx(exact, rel=1e-9)


def test_gaussian_mean_of_polynomials_is_exact():
    for q in (1e-8, 0.5, 3.0, 1e6):
        assert theory.gaussian_mean(np.ones_like, q) == pytest.approx(1.0, rel=1e-14)
        assert theory.gaussian_mean(lambda x: x * x, q) == pytest.approx(q, rel=1e-13)
        assert theory.gaussian_mean(lambda x: x**4, q) == pytest.approx(3 * q * q, rel=1e-13)
        assert theory.gaussian_mean(lambda x: np.maximum(x, 0) ** 2, q) == pytest.approx(q / 2, rel=1e-13)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu"])
def test_expectations_agree_with_monte_carlo(name):
    rng = np.random.default_rng(0)
    z = rng.normal(size=1_000_000)
    nl = theory.activation(name)
    for q in (0.25, 1.0, 4.0):
        for f in (lambda x: nl.phi(x) ** 2, lambda x: nl.dphi(x) ** 2):
            samples = f(math.sqrt(q) * z)
            standard_error = samples.std() / math.sqrt(samples.size)
            assert abs(theory.gaussian_mean(f, q) - samples.mean()) < 5 * standard_error


def test_the_gelu_derivative_is_the_derivative_of_nn_gelu():
    x = np.linspace(-6, 6, 101)
    t = Tensor(x, requires_grad=True)
    nn.GELU()(t).sum().backward()  # our engine's chain rule through the composed GELU
    nl = theory.activation("gelu")
    np.testing.assert_allclose(nl.phi(x), nn.GELU()(Tensor(x)).data, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nl.dphi(x), t.grad, rtol=1e-10, atol=1e-14)


# --- closed forms ----------------------------------------------------------------------------------


@given(st.floats(0.05, 1.95), st.floats(0.0, 2.0))
def test_relu_closed_forms(sigma_w2, sigma_b2):
    mf = theory.mean_field("relu", sigma_w2, sigma_b2)
    assert mf.chi1 == pytest.approx(sigma_w2 / 2, rel=1e-12)  # E[relu′²] = P(z > 0) = 1/2
    assert mf.q_star == pytest.approx(
        sigma_b2 / (1 - sigma_w2 / 2), rel=1e-9, abs=1e-12
    )  # q = σ_w² q/2 + σ_b²
    assert mf.gain == pytest.approx(math.sqrt(sigma_w2 / 2), rel=1e-12)


@given(st.floats(0.05, 0.95), st.floats(0.0, 2.0))
def test_linear_closed_forms(sigma_w2, sigma_b2):
    mf = theory.mean_field("linear", sigma_w2, sigma_b2)
    assert mf.chi1 == pytest.approx(sigma_w2, rel=1e-12)
    assert mf.q_star == pytest.approx(sigma_b2 / (1 - sigma_w2), rel=1e-9, abs=1e-12)


def test_leaky_relu_keeps_its_slope():
    for spec, slope in (("leaky_relu", 0.01), (nn.LeakyReLU(0.2), 0.2)):
        mf = theory.mean_field(spec, 1.5, 0.1)
        assert mf.chi1 == pytest.approx(1.5 * (1 + slope**2) / 2, rel=1e-12)  # E[φ′²] = (1 + α²)/2
    assert theory.critical_sigma_w2(nn.LeakyReLU(0.2), 0.1) == pytest.approx(2 / 1.04, rel=1e-9)


def test_relu_beyond_he_grows_without_bound_yet_has_a_gain():
    mf = theory.mean_field("relu", 3.0, 0.1)  # q_l ~ 1.5^l: no finite fixed point
    assert mf.q_star == math.inf and mf.chi1 == pytest.approx(1.5, rel=1e-12)
    assert mf.phase == "chaotic" and mf.depth_scale == pytest.approx(-1 / math.log(1.5))
    he = theory.mean_field("relu", 2.0, 0.0, q0=0.7)  # every q is a fixed point: the one reached is q0
    assert he.q_star == pytest.approx(0.7, rel=1e-12) and he.chi1 == pytest.approx(1.0, rel=1e-12)
    assert he.depth_scale == math.inf and he.phase == "critical"


# --- fixed points and the edge of chaos ---------------------------------------------------------


@given(
    st.sampled_from(["tanh", "sigmoid", "gelu", "relu"]),
    st.floats(0.2, 6.0),
    st.floats(0.0, 1.0),
    st.floats(0.01, 5.0),
)
def test_q_star_is_a_fixed_point_and_chi1_is_its_derivative_expectation(name, sigma_w2, sigma_b2, q0):
    mf = theory.mean_field(name, sigma_w2, sigma_b2, q0=q0)
    if math.isinf(mf.q_star):
        return  # (ReLU/GELU with σ_w² > 2: covered above)
    assert mf.length_map(mf.q_star) == pytest.approx(mf.q_star, rel=1e-10, abs=1e-14)
    phi, dphi = SMOOTH.get(name, (None, None))
    if dphi is not None and mf.q_star > 0:
        brute = sigma_w2 * trapezoid_mean(lambda x: dphi(x) ** 2, mf.q_star)
        assert mf.chi1 == pytest.approx(brute, rel=1e-7)
    assert mf.quadrature_error < 1e-12


def test_the_fixed_point_is_the_limit_of_iterating_the_length_map_by_hand():
    """400 layers of q ← σ_w² E[φ(√q z)²] + σ_b² with the trapezoid rule: the same q*."""
    for name, w2, b2 in (("tanh", 1.5, 0.05), ("tanh", 3.0, 0.3), ("sigmoid", 4.0, 0.0)):
        phi = SMOOTH[name][0]
        q = 1.0
        for _ in range(400):
            q = w2 * trapezoid_mean(lambda x, phi=phi: phi(x) ** 2, q, points=20_000) + b2
        assert theory.mean_field(name, w2, b2).q_star == pytest.approx(q, rel=1e-7)


def test_sigmoid_has_no_fixed_point_at_zero():
    mf = theory.mean_field("sigmoid", 1.0, 0.0)
    assert mf.length_map(0.0) == pytest.approx(0.25)  # σ(0)² = 1/4: q = 0 maps to σ_w²/4
    assert mf.q_star > 0.25 and mf.length_map(mf.q_star) == pytest.approx(mf.q_star, rel=1e-10)


def test_tanh_without_bias_is_ordered_below_one_and_critical_at_one():
    for w2 in (0.3, 0.8):
        mf = theory.mean_field("tanh", w2, 0.0)
        assert mf.q_star == 0.0 and mf.chi1 == pytest.approx(w2)  # χ₁ = σ_w² tanh′(0)²
    critical = theory.mean_field("tanh", 1.0, 0.0)  # q_l → 0 only like 1/l: bisected, not iterated
    assert critical.q_star == 0.0 and critical.chi1 == 1.0 and critical.phase == "critical"
    assert theory.mean_field("tanh", 1.5, 0.0).chi1 > 1  # χ₁ = 1 + O((σ_w² − 1)²) above


@pytest.mark.parametrize(
    "name, sigma_b2, expected",
    [("relu", 0.0, 2.0), ("relu", 0.3, 2.0), ("linear", 0.1, 1.0), ("tanh", 0.0, 1.0)],
)
def test_critical_line_closed_forms(name, sigma_b2, expected):
    assert theory.critical_sigma_w2(name, sigma_b2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, sigma_b2", [("tanh", 0.05), ("tanh", 0.3), ("sigmoid", 0.0), ("gelu", 1.0)])
def test_chi1_is_one_on_the_critical_line(name, sigma_b2):
    w2 = theory.critical_sigma_w2(name, sigma_b2)
    assert theory.mean_field(name, w2, sigma_b2).chi1 == pytest.approx(1.0, abs=1e-9)
    assert (
        theory.mean_field(name, 0.9 * w2, sigma_b2).chi1
        < 1
        < theory.mean_field(name, 1.1 * w2, sigma_b2).chi1
    )
    if name == "tanh":  # independently: q* by iterating the trapezoid length map, χ₁ by trapezoid
        q = 1.0
        for _ in range(300):
            q = w2 * trapezoid_mean(lambda x: np.tanh(x) ** 2, q, points=20_000) + sigma_b2
        assert w2 * trapezoid_mean(lambda x: (1 - np.tanh(x) ** 2) ** 2, q) == pytest.approx(1.0, abs=1e-7)


def test_gelu_without_bias_has_no_edge_of_chaos():
    """GELU′(0) = 1/2: near q = 0 χ₁ ≈ σ_w²/4, at large q χ₁ → σ_w²/2; q* jumps between the two."""
    with pytest.raises(TheoryError, match=r"χ₁ jumps from 0\.5\d+ to 1\.\d+ .* no edge of chaos"):
        theory.critical_sigma_w2("gelu", 0.0)


def test_depth_scale_gain_and_phase():
    mf = theory.mean_field("tanh", 0.5, 0.0)
    assert mf.chi1 == pytest.approx(0.5)
    assert mf.depth_scale == pytest.approx(1 / math.log(2))
    assert mf.gain_over(30) == pytest.approx(0.5**15)
    assert mf.phase == "ordered" and "χ₁ = 0.5" in str(mf) and "≈ 0.707" in str(mf)


def test_propagate_follows_q_layer_by_layer_and_settles_on_mean_field():
    p = theory.propagate("tanh", [1.5] * 60, [0.05] * 60, q0=3.0)
    assert p.q[0] == 3.0 and len(p.q) == 61 and len(p.chi) == 60
    assert p.q[1] == pytest.approx(1.5 * trapezoid_mean(lambda x: np.tanh(x) ** 2, 3.0) + 0.05, rel=1e-9)
    mf = theory.mean_field("tanh", 1.5, 0.05)
    assert p.q[-1] == pytest.approx(mf.q_star, rel=1e-9) and p.gains[-1] == pytest.approx(mf.gain, rel=1e-9)
    assert p.first_over_last() == pytest.approx(float(np.prod(np.sqrt(p.chi))))


# --- user activations -----------------------------------------------------------------------------


def test_user_activations_pair_function_alone_and_modules():
    reference = theory.mean_field("tanh", 2.0, 0.1)
    pair = theory.mean_field((np.tanh, lambda x: 1 - np.tanh(x) ** 2), 2.0, 0.1)
    alone = theory.mean_field(np.tanh, 2.0, 0.1)  # φ′ by central differences
    per_float = theory.mean_field(math.tanh, 2.0, 0.1)  # a function of one float, applied per node
    module = theory.mean_field(nn.Tanh(), 2.0, 0.1)
    assert theory.mean_field(nn.Tanh, 2.0, 0.1).chi1 == reference.chi1  # the class will do
    assert theory.activation(nn.LeakyReLU).name == "leaky_relu(0.01)"
    engine = theory.mean_field(nn.Lambda(lambda x: x.tanh()), 2.0, 0.1)  # φ′ by our backward
    assert engine.chi1 == pytest.approx(reference.chi1, rel=1e-12)
    assert pair.chi1 == pytest.approx(reference.chi1, rel=1e-13)
    assert alone.chi1 == pytest.approx(reference.chi1, rel=1e-8) and alone.nonlinearity.numeric_derivative
    assert per_float.chi1 == pytest.approx(reference.chi1, rel=1e-8)
    assert module.chi1 == reference.chi1


# --- bad arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, match",
    [
        (("tanh", -1.0, 0.0), r"sigma_w2 must be a finite variance >= 0, got -1\.0"),
        (("tanh", 1.0, -0.1), r"sigma_b2 must be a finite variance >= 0, got -0\.1"),
        (("tanh", math.nan, 0.0), "sigma_w2 must be a finite variance >= 0, got nan"),
        (("tanh", math.inf, 0.0), "sigma_w2 must be a finite variance >= 0, got inf"),
        (("tanh", "1", 0.0), r"sigma_w2 must be a real number, got str \('1'\)"),
        (("tanh", True, 0.0), "sigma_w2 must be a real number, got bool"),
        (("swish", 1.0, 0.0), "unknown activation 'swish'; known: tanh, sigmoid"),
        ((42, 1.0, 0.0), "activation must be a name, an nn activation, a function φ or a pair"),
        ((np.log, 1.0, 0.1), r"the activation gives nan at x = -\d"),
        ((lambda x: np.zeros(3), 1.0, 0.1), r"returned shape \(3,\)"),
        ((lambda x: x[:-1], 1.0, 0.1), r"returned shape \(\d+,\)"),
        ((lambda x: "a", 1.0, 0.1), "cannot be evaluated at the quadrature nodes"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(args, match):
    with pytest.raises(TheoryError, match=match):
        theory.mean_field(*args)


def test_q0_is_checked_and_errors_are_value_errors():
    with pytest.raises(ValueError, match="q0 must be a finite variance"):
        theory.mean_field("tanh", 1.0, 0.0, q0=-1.0)
    with pytest.raises(TheoryError, match="sigma_b2"):
        theory.critical_sigma_w2("tanh", -1.0)
    with pytest.raises(TheoryError, match="2 weight variances but 1 bias variances"):
        theory.propagate("tanh", [1.0, 1.0], [0.0], 1.0)


def test_an_activation_growing_faster_than_linear_has_no_fixed_point():
    with pytest.raises(FixedPointError, match=r"q grows without bound .* χ₁\(q\) has no limit"):
        theory.mean_field((lambda x: x * x, lambda x: 2 * x), 1.0, 0.0)


def test_sigmoid_never_reaches_the_edge_of_chaos_below_a_large_weight():
    assert theory.critical_sigma_w2("sigmoid", 0.0) > 16  # χ₁ ≤ σ_w² · σ′(0)² = σ_w²/16


# --- the engine's nets land on the prediction -----------------------------------------------------


def random_net_delta_norms(activation, sigma_w2, sigma_b2, *, width=256, depth=24, batch=16, seed=0):
    """‖∂L/∂h_l‖ for every layer of a random net of ``nn`` modules, read from the nodes' ``.grad``.

    W ~ N(0, σ_w²/width), b ~ N(0, σ_b²); inputs N(0, 1); the loss is a random linear readout
    Σ R ⊙ φ(h_last) (R ~ N(0, 1)), which has no preferred direction, so δ_last = R ⊙ φ′ is as
    random as the theory assumes.
    """
    generator = np.random.default_rng(seed)
    bias_init = nn.init.normal(std=math.sqrt(sigma_b2)) if sigma_b2 > 0 else "zeros"
    linears = [
        nn.Linear(
            width,
            width,
            init=nn.init.normal(std=math.sqrt(sigma_w2 / width)),
            bias_init=bias_init,
            rng=generator,
        )
        for _ in range(depth)
    ]
    model = nn.Sequential(*[m for linear in linears for m in (linear, nn.ACTIVATIONS[activation]())])
    out = model(Tensor(generator.normal(size=(batch, width))))
    (out * Tensor(generator.normal(size=out.shape))).sum().backward()
    return np.array([np.linalg.norm(linear.last_output.grad) for linear in linears])


SKIP = 4  # layers left out at the input side while q settles


@settings(max_examples=8)
@given(
    st.sampled_from(["tanh", "relu", "sigmoid"]),
    st.floats(0.5, 3.0),
    st.sampled_from([0.0, 0.05, 0.3]),
    st.integers(0, 3),
)
def test_measured_gain_of_a_width_256_net_agrees_with_sqrt_chi1(activation, sigma_w2, sigma_b2, seed):
    if activation == "relu":
        sigma_w2 = 1.0 + sigma_w2 / 3  # 1 … 2: q stays finite
    if activation == "sigmoid":
        sigma_w2 *= 4  # 2 … 12: away from σ′ ≤ 1/4 making every gain tiny
    norms = random_net_delta_norms(activation, sigma_w2, sigma_b2, seed=seed)
    measured = (norms[SKIP] / norms[-1]) ** (1 / (len(norms) - 1 - SKIP))  # geometric mean of ratios
    # the theory along this very net: q from the first layer's σ_w²·E[x²] + σ_b² = σ_w² + σ_b²
    along = theory.propagate(activation, [sigma_w2] * 23, [sigma_b2] * 23, q0=sigma_w2 + sigma_b2)
    predicted_here = float(np.exp(np.mean(np.log(along.gains[SKIP:]))))
    assert measured == pytest.approx(predicted_here, rel=0.03)
    mf = theory.mean_field(activation, sigma_w2, sigma_b2, q0=sigma_w2 + sigma_b2)
    if abs(predicted_here / mf.gain - 1) < 0.005:  # q has settled on q* by layer SKIP
        assert measured == pytest.approx(mf.gain, rel=0.035)
