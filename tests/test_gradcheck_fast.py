"""gradcheck's fast mode catches an error in a single element, and the strategies' domains widen.

The planted bugs are hand-built nodes whose local derivative is wrong in known elements (or
for |x| > 3), so the expected verdict and the element named are known independently of
gradcheck's own arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.testing import (
    GradcheckError,
    arrays,
    finite_differences,
    gradcheck,
    tensors,
)


class SinWrongAt:
    """y = sin(x) elementwise, whose local cos(x) is off by ``factor`` at the given flat positions."""

    def __init__(self, positions, factor=1.01):
        self.positions = list(positions)
        self.factor = factor

    def __call__(self, x):
        local = np.cos(x.data)
        local.flat[self.positions] *= self.factor  # the bug
        y = Tensor(np.sin(x.data), requires_grad=True)
        y.parents, y.local_grads, y.op = (x,), (local,), "sin_with_a_bug"
        return y


def inputs(n, seed=0, shape=None):
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.2, 1.2, n)  # cos(x) in [0.36, 0.98]: no element is near 0
    return Tensor(data.reshape(shape or (n,)), requires_grad=True, label="x")


# --- single-element errors in fast mode -----------------------------------------------------------


@pytest.mark.parametrize("position", [0, 777, 1999])
@pytest.mark.parametrize("reduce", [False, True], ids=["vector output", "scalar output"])
def test_a_one_percent_error_in_one_element_of_2000_is_caught_and_named(position, reduce):
    x = inputs(2000)
    fn = (lambda t: SinWrongAt([position])(t).sum()) if reduce else SinWrongAt([position])
    report = gradcheck(fn, x, raise_exception=False)
    assert report.mode == "fast" and not report.ok
    (check,) = report.failures
    assert check.index == (position,) and check.quantity == "(uᵀJ)[j]"
    # the numbers are (uᵀJ)[j] = ±cos(x_j) against 1.01·(±cos(x_j)): by hand, not by gradcheck
    assert abs(check.analytic) == pytest.approx(1.01 * np.cos(x.data[position]), rel=1e-9)
    # (uᵀf summed over 2000 outputs rounds at ~1e-16·2000 / eps = 2e-7 relative)
    assert abs(check.numeric) == pytest.approx(np.cos(x.data[position]), rel=1e-5)


def test_the_element_is_named_in_a_matrix_input_and_in_the_second_input():
    w = inputs(1500, seed=1, shape=(30, 50))
    x = inputs(600, seed=2)
    with pytest.raises(GradcheckError, match=r"input 1 'x'.*element \(123,\)"):
        gradcheck(lambda w, x: SinWrongAt([])(w).sum() + SinWrongAt([123])(x).sum(), w, x)
    report = gradcheck(lambda w: SinWrongAt([50 * 7 + 3])(w), w, raise_exception=False)
    assert [check.index for check in report.failures] == [(7, 3)]


def test_the_old_single_projection_would_have_missed_it():
    # why fast mode compares elements: the projection uᵀJv moves by far less than rtol
    x = inputs(2000)
    gradient = np.cos(x.data)
    wrong = gradient.copy()
    wrong[777] *= 1.01
    rng = np.random.default_rng(0)
    v = rng.standard_normal(2000)
    v /= np.linalg.norm(v)
    relative_change = abs((wrong - gradient) @ v) / abs(gradient @ v)
    assert relative_change < 1e-3  # inside the default rtol: a projection alone passes


@pytest.mark.parametrize(
    "fn", [lambda t: t.sin(), lambda t: (t.tanh() * t).sum(), lambda t: t.reshape(40, 50) @ t[:50]]
)
def test_correct_functions_pass_in_fast_mode(fn):
    report = gradcheck(fn, inputs(2000))
    assert report.ok and report.mode == "fast"


def test_an_error_in_every_element_is_caught_in_a_sampled_input(monkeypatch):
    monkeypatch.setattr(finite_differences, "SPOT_CHECK_ELEMENTS", 256)  # quicker, same logic
    n = 256 + 500  # more elements than are spot-checked
    report = gradcheck(SinWrongAt(range(n), factor=1.02), inputs(n), raise_exception=False)
    assert report.mode == "fast" and not report.ok and report.failures[0].index is not None


def test_above_the_spot_check_size_a_single_error_is_caught_with_the_documented_probability(monkeypatch):
    # With k spot checks among n elements a single wrong element is compared (and caught) with
    # probability k/n; shrink k to 64 of n = 256 so that 80 seeds run quickly: P = 1/4 from the
    # spot check alone (no projections), and at least that with them.
    monkeypatch.setattr(finite_differences, "SPOT_CHECK_ELEMENTS", 64)
    x = inputs(256)
    fn = SinWrongAt([100])

    def caught() -> int:
        return sum(not gradcheck(fn, x, mode="fast", seed=s, raise_exception=False).ok for s in range(80))

    with_projections = caught()
    monkeypatch.setattr(finite_differences, "PROJECTIONS", 0)
    spot_checks_alone = caught()
    # binomial(80, 1/4): mean 20, standard deviation 3.9; the seeds are fixed, so this is exact
    assert 8 <= spot_checks_alone <= 32
    assert with_projections >= spot_checks_alone
    print(f"caught by spot checks alone {spot_checks_alone}/80, with projections {with_projections}/80")


# --- widening the strategies' domains ------------------------------------------------------------


@given(arrays((50,), domain="real", bound=50))
def test_real_bound_widens_the_range(a):
    assert np.all(np.abs(a) <= 50)


@given(st.data())
def test_bounds_reach_far_values_and_keep_dtypes(data):
    for dtype in (np.float64, np.float32):
        a = data.draw(arrays((50,), domain="real", bound=50, dtype=dtype))
        p = data.draw(arrays((50,), domain="positive", bound=24, dtype=dtype))
        k = data.draw(arrays((40,), domain="away_from_kinks", bound=50, dtype=dtype))
        assert a.dtype == p.dtype == k.dtype == dtype
        assert np.all(np.abs(a) <= 50) and np.all((p >= 2) & (p <= 24)) and np.all(np.abs(k) <= 51)
        assert len(np.unique(k)) == 40 and np.min(np.abs(k)) >= 0.75 * 50 / 40


def test_wide_values_are_actually_drawn():
    seen = []

    @settings(max_examples=30, derandomize=True)
    @given(tensors((20,), domain="real", bound=50))
    def record(x):
        seen.append(np.max(np.abs(x.data)))

    record()
    assert max(seen) > 10  # the default bound (3) could never draw this


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"domain": "unit", "bound": 5}, ValueError, "takes no bound"),
        ({"domain": "real", "bound": 0}, ValueError, "bound must be a number in"),
        ({"domain": "real", "bound": -3}, ValueError, "bound must be a number in"),
        ({"domain": "real", "bound": float("inf")}, ValueError, "bound must be a number in"),
        ({"domain": "real", "bound": 1e38, "dtype": np.float32}, ValueError, "float32"),
        ({"domain": "real", "bound": "50"}, TypeError, "real number"),
        ({"domain": "real", "bound": True}, TypeError, "real number"),
    ],
)
def test_bad_bounds_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        tensors((3,), **kwargs)
    with pytest.raises(error, match=match):
        arrays((3,), **kwargs)


class SquareWrongBeyond3:
    """y = x² whose local 2x is right for |x| ≤ 3 and 1 % off beyond (a large-argument bug)."""

    def __call__(self, x):
        local = np.where(np.abs(x.data) > 3, 1.01 * 2 * x.data, 2 * x.data)
        node = Tensor(x.data**2, requires_grad=True)
        node.parents, node.local_grads, node.op = (x,), (local,), "square_with_a_bug"
        return node


def test_a_bug_beyond_3_passes_the_default_domain_and_is_caught_with_a_wider_bound():
    fn = SquareWrongBeyond3()

    @settings(max_examples=60, derandomize=True)
    @given(tensors(domain="real"))
    def default_domain(x):
        gradcheck(fn, x)

    @settings(max_examples=60, derandomize=True)
    @given(tensors(domain="real", bound=50))
    def wider_domain(x):
        gradcheck(fn, x)

    default_domain()  # [−3, 3] never shows the bug
    with pytest.raises(GradcheckError, match="MISMATCH"):
        wider_domain()
