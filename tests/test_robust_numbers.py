"""Odd numbers in, IEEE numbers out: pow at 0, huge Python ints, ``t[None]``.

The expected values are PyTorch's conventions, derived by hand below (and, where the function
is differentiable, confirmed by central differences), never read back from the engine's
own formulas.
"""

from __future__ import annotations

import fractions
import math

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, Value, no_grad, optim
from tinygrad_edu.cli import main
from tinygrad_edu.numerics import to_float

INF, NAN = math.inf, math.nan
HUGE = 10**400  # far beyond float64's 1.8e308


def same(a, b) -> bool:
    """Equal as IEEE numbers, nan equal to nan (elementwise for arrays)."""
    return bool(np.all((np.asarray(a) == np.asarray(b)) | (np.isnan(a) & np.isnan(b))))


def central(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


# --- item 5: a ** b where the formulas meet 0·∞ -------------------------------------------------

# (a, b) → (a**b, ∂/∂a, ∂/∂b), PyTorch's pow_backward_self / pow_backward_exponent:
#   ∂/∂a = 0 where b == 0, else b·a^(b−1);  ∂/∂b = 0 where a == 0 and b ≥ 0, else a^b·ln a.
POW_CASES = [
    ((0.0, 0.0), (1.0, 0.0, 0.0)),  # 0^0 = 1; both derivatives 0 (the case)
    ((0.0, 2.0), (0.0, 0.0, 0.0)),  # 2·0^1 = 0; 0^2·ln 0 → the limit 0
    ((0.0, 0.5), (0.0, INF, 0.0)),  # 0.5·0^(−0.5) = inf
    ((0.0, -1.0), (INF, -INF, -INF)),  # −1·0^(−2) = −inf; inf·ln 0 = inf·(−inf) = −inf
    ((-2.0, 3.0), (-8.0, 12.0, NAN)),  # 3·(−2)² = 12; ln(−2) is nan
    ((-2.0, 0.0), (1.0, 0.0, NAN)),  # b = 0: ∂/∂a is 0; ∂/∂b = 1·ln(−2) = nan
    ((-2.0, 0.5), (NAN, NAN, NAN)),  # not real
    ((2.0, 3.0), (8.0, 12.0, 8.0 * math.log(2.0))),  # the ordinary case
]


@pytest.mark.parametrize(("operands", "expected"), POW_CASES)
def test_value_pow_follows_pytorch_at_zero_and_negative_bases(operands, expected):
    a, b = Value(operands[0]), Value(operands[1])
    y = a**b
    y.backward()
    assert same((y.data, a.grad, b.grad), expected)


@pytest.mark.parametrize(("operands", "expected"), POW_CASES)
def test_tensor_pow_follows_pytorch(operands, expected):
    a = Tensor([operands[0]], requires_grad=True)
    b = Tensor([operands[1]], requires_grad=True)
    (a**b).sum().backward()
    assert same((a.grad[0], b.grad[0]), expected[1:])


def test_pow_zero_cases_agree_with_finite_differences_where_differentiable():
    # 0^b for b near 2 is 0, a^0 is 1 for every a: both derivatives are 0, as the table says.
    assert central(lambda b: 0.0**b, 2.0) == 0.0
    assert central(lambda a: a**0.0, 0.0) == 0.0
    assert central(lambda a: a**3.0, -2.0) == pytest.approx(12.0, rel=1e-8)
    a, b = Value(0.0), Value(2.0)
    (a**b).backward()
    assert (a.grad, b.grad) == (0.0, 0.0)


def test_cli_graph_shows_zero_gradients_for_0_pow_0(capsys, tmp_path):
    code = main(["graph", "x**y", "--set", "x=0", "--set", "y=0", "--format", "dot", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "x.grad = 0 after backward()" in out and "y.grad = 0 after backward()" in out
    assert "nan" not in out and "inf" not in out


@pytest.mark.parametrize("x", [0.0, INF, -INF, NAN, -3.0])
def test_constant_exponent_zero_has_zero_gradient_everywhere(x):
    # x^0 = 1 whatever x is: PyTorch's pow_backward returns zeros for exponent 0.
    v = Value(x)
    y = v**0
    y.backward()
    assert y.data == 1.0 and v.grad == 0.0
    t = Tensor([x, 1.0], requires_grad=True)
    (t**0).sum().backward()
    assert t.grad.tolist() == [0.0, 0.0]
    t32 = Tensor(np.array([x], np.float32), requires_grad=True)
    (t32**0.0).sum().backward()
    assert t32.grad.dtype == np.float32 and t32.grad.tolist() == [0.0]


# --- item 6: Python ints beyond the float range are ±inf -----------------------------------------


def test_to_float_rounds_huge_numbers_to_infinity():
    assert to_float(HUGE) == INF and to_float(-HUGE) == -INF
    assert to_float(fractions.Fraction(HUGE, 3)) == INF
    assert to_float(2**1023) == 2.0**1023  # still representable: exact
    assert to_float(3) == 3.0 and type(to_float(3)) is float


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Value(HUGE), INF),
        (lambda: Value(-HUGE), -INF),
        (lambda: Value(1.0) + HUGE, INF),
        (lambda: HUGE + Value(1.0), INF),
        (lambda: Value(1.0) - HUGE, -INF),
        (lambda: Value(3.0) * -HUGE, -INF),
        (lambda: Value(1.0) / HUGE, 0.0),
        (lambda: HUGE / Value(2.0), INF),
        (lambda: Value(2.0) ** HUGE, INF),
        (lambda: Value(2.0) ** -HUGE, 0.0),
        (lambda: HUGE ** Value(0.5), INF),
    ],
)
def test_value_ops_with_huge_ints_are_ieee(make, expected):
    assert make().data == expected


def test_value_gradients_with_huge_ints():
    x = Value(2.0)
    (x**HUGE).backward()  # ∂/∂x = p·x^(p−1) = inf·inf
    assert x.grad == INF
    y = Value(2.0)
    (y * 1.0).backward(HUGE)  # a huge seed is inf as well
    assert y.grad == INF


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Tensor(HUGE), INF),
        (lambda: Tensor([1, HUGE, -HUGE]), [1.0, INF, -INF]),
        (lambda: Tensor([[HUGE], [2]]), [[INF], [2.0]]),
        (lambda: Tensor([1.0]) + HUGE, [INF]),
        (lambda: HUGE - Tensor([1.0]), [INF]),
        (lambda: Tensor([2.0]) * -HUGE, [-INF]),
        (lambda: Tensor([2.0]) ** HUGE, [INF]),
        (lambda: HUGE ** Tensor([2.0]), [INF]),
        (lambda: Tensor(np.array([1.0], np.float32)) + HUGE, [INF]),
    ],
)
def test_tensor_ops_with_huge_ints_are_ieee(make, expected):
    with np.errstate(over="ignore"):  # the warnings themselves are tested in test_numpy_warnings
        assert make().data.tolist() == np.asarray(expected).tolist()


def test_tensor_float32_stays_float32_with_a_huge_int():
    t = Tensor(np.array([1.0], np.float32)) + HUGE
    assert t.dtype == np.float32 and t.data[0] == np.inf


def test_tensor_backward_with_a_huge_seed():
    x = Tensor(2.0, requires_grad=True)
    (x * 1.0).backward(HUGE)
    assert float(x.grad) == INF


def test_ragged_data_is_still_refused_and_objects_too():
    with pytest.raises(TypeError, match="ragged"):
        Tensor([[1, HUGE], [2]])
    with pytest.raises(TypeError, match="expected numeric data"):
        Tensor([1, "x"])
    with pytest.raises(TypeError, match="expected numbers, found str"):
        Tensor(np.array([HUGE, "x"], dtype=object))


def test_clip_grad_norm_with_a_tiny_norm_type_is_inf_not_overflow():
    # (Σ|g|^p)^(1/p) with p = 1e−10: (2·~1)^(1e10) overflows to inf (a float64 fact). As for
    # any non-finite total, the gradients are left unchanged.
    p = Tensor([1.0, 2.0], requires_grad=True)
    p.grad = np.array([1.0, 2.0])
    assert optim.clip_grad_norm_([p], 1.0, norm_type=1e-10) == INF
    assert p.grad.tolist() == [1.0, 2.0]
    # a huge norm type is the max norm
    assert optim.clip_grad_norm_([p], 10.0, norm_type=HUGE) == 2.0


@pytest.mark.parametrize("setting", [{"lr": HUGE}, {"lr": 0.1, "momentum": HUGE}])
def test_huge_hyper_parameters_are_refused_as_not_finite(setting):
    with pytest.raises(ValueError, match="must be finite"):
        optim.SGD([Tensor([1.0], requires_grad=True)], **setting)


def test_huge_ints_under_no_grad_too():
    with no_grad():
        assert (Value(1.0) + HUGE).data == INF
        assert (Tensor([1.0]) + HUGE).data.tolist() == [INF]


# --- item 9: None in an index is a new axis, not "no argument" -----------------------------------


@pytest.mark.parametrize(
    "index",
    [None, (None,), (None, Ellipsis), (Ellipsis, None), (None, 1), (slice(None), None, slice(1, None))],
    ids=["None", "(None,)", "None,...", "...,None", "None,1", ":,None,1:"],
)
def test_indexing_with_none_adds_an_axis(index):
    data = np.arange(6.0).reshape(2, 3)
    t = Tensor(data, requires_grad=True)
    y = t[index]
    expected = data[index]
    assert y.shape == expected.shape and y.data.tolist() == expected.tolist()
    weight = np.arange(1.0, expected.size + 1).reshape(expected.shape)
    (y * weight).sum().backward()
    # by hand: each picked position of t receives the weight it was multiplied by
    grad = np.zeros((2, 3))
    grad[index] = weight  # basic indexing picks each position at most once
    assert t.grad.tolist() == grad.tolist()
    assert y.arg == index or (index is None and y.arg is None)


# --- item 8: softmax over an empty axis is empty (PyTorch), reductions over one refuse --------------


EMPTY_AXES = [((2, 0), -1), ((0,), 0), ((3, 0, 2), 1), ((0, 3), -1), ((2, 0), 0)]


@pytest.mark.parametrize(("shape", "axis"), EMPTY_AXES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_is_empty(op, shape, axis):
    x = Tensor(np.zeros(shape), requires_grad=True)
    y = getattr(x, op)(axis=axis)
    assert y.shape == shape and y.data.size == 0
    y.backward(np.ones(shape))
    assert x.grad.shape == shape


@pytest.mark.parametrize("op", ["mean", "max", "logsumexp"])
def test_reductions_over_an_empty_axis_still_refuse(op):
    # their outputs (shape (2,)) would each be the mean / maximum of nothing
    with pytest.raises(ShapeError, match="nothing to reduce"):
        getattr(Tensor(np.zeros((2, 0))), op)(axis=1)
    assert Tensor(np.zeros((2, 0))).sum(axis=1).data.tolist() == [0.0, 0.0]  # the empty sum is 0


def test_softmax_of_non_empty_axes_is_unchanged_by_the_empty_case():
    x = np.array([[1.0, 2.0, 3.0], [-np.inf, 0.0, -np.inf]])
    s = Tensor(x).softmax(axis=1).data
    e = np.exp(np.array([1.0, 2.0, 3.0]))
    assert np.allclose(s[0], e / e.sum()) and s[1].tolist() == [0.0, 1.0, 0.0]


def test_a_huge_leaky_slope_is_refused_as_not_finite():
    # a slope of 10**400 is inf in IEEE terms: refused like inf, not an OverflowError
    from tinygrad_edu import nn

    for make in (
        lambda: Value(1.0).leaky_relu(HUGE),
        lambda: Tensor([1.0]).leaky_relu(HUGE),
        lambda: nn.LeakyReLU(HUGE),
    ):
        with pytest.raises(TypeError, match="finite real number"):
            make()
