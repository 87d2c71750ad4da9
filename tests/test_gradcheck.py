"""``tinygrad_edu.testing`` itself. ``gradcheck``: it passes on correct code, fails (loudly and
precisely) on wrong derivatives, full and fast modes agree, inputs are left exactly as found,
and bad arguments are rejected. The strategies: they produce what they promise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, Value, no_grad, rules
from tinygrad_edu.errors import TinygradEduError
from tinygrad_edu.testing import (
    DOMAINS,
    FULL_MODE_MAX_EVALUATIONS,
    GradcheckError,
    GradcheckReport,
    arrays,
    axes,
    broadcastable_shapes,
    expression_dags,
    gradcheck,
    shapes,
    tensors,
)

# --- functions under test (named, so failures read well) -------------------------------------


def neuron(x, w, b):
    return (w * x + b).tanh()


def ratio_power(x, y):
    return (x / y) ** y


def wrong_square(x):
    """x² as a node built by hand through the public data, with a wrong local derivative 3x."""
    y = Value(x.data * x.data)
    y.parents = (x,)
    y.local_grads = (3.0 * x.data,)  # should be 2x
    y.op = "wrong_square"
    return y


def scaled_wrong_square(w, x):
    return w * wrong_square(x)


def wrong_tanh(m, x):
    """tanh with the local derivative 1 − tanh (instead of 1 − tanh²)."""
    y = m.tanh(x)
    return y, (1.0 - y,)


class WrongAt:
    """y = 2·x elementwise for a Tensor, with a wrong local derivative at one element."""

    def __init__(self, index):
        self.index = index

    def __call__(self, x):
        local = np.full(x.data.shape, 2.0)
        local[self.index] = 2.5  # the bug
        y = Tensor(2.0 * x.data, requires_grad=True)
        y.parents = (x,)
        y.local_grads = (local,)
        y.op = "wrong_double"
        return y


def tensor_mlp(x, w1, w2):
    return ((x @ w1).tanh() @ w2).sigmoid()


def tensor_product_sum(a, b):
    return (a * b).sum()


# --- passing on correct functions -------------------------------------------------------------


def test_passes_and_reports_each_value_input():
    x, w, b = Value(0.5, label="x"), Value(-1.5, label="w"), Value(0.25, label="b")
    report = gradcheck(neuron, x, w, b)
    assert isinstance(report, GradcheckReport) and report.ok and bool(report)
    assert report.mode == "full"
    assert [(c.position, c.label, c.shape, c.index) for c in report.inputs] == [
        (0, "x", (), ()),
        (1, "w", (), ()),
        (2, "b", (), ()),
    ]
    d = 1 - math.tanh(-1.5 * 0.5 + 0.25) ** 2
    expected = [d * -1.5, d * 0.5, d]
    for check, value in zip(report.inputs, expected):
        assert check.analytic == pytest.approx(value, rel=1e-12)
        assert check.numeric == pytest.approx(value, rel=1e-6)
        assert check.max_abs_error <= 1e-8
    assert "passed" in str(report)


@given(expression_dags(max_ops=5), st.sampled_from(["full", "fast"]))
def test_passes_on_random_expressions_in_both_modes(dag, mode):
    assert gradcheck(dag, *dag.new_inputs(), mode=mode).ok


def test_plain_numbers_and_arrays_are_held_fixed():
    seen = []

    def recorder(x, c, arr):
        seen.append((c, arr.copy()))
        return x * c + float(arr.sum())

    x = Value(1.5, label="x")
    arr = np.array([1.0, 2.0])
    report = gradcheck(recorder, x, 3.0, arr)
    assert [check.position for check in report.inputs] == [0]
    assert report.inputs[0].analytic == 3.0
    assert len(seen) >= 3 and all(c == 3.0 and np.array_equal(a, arr) for c, a in seen)


def test_same_input_twice_is_checked_once():
    x = Value(1.25, label="x")
    report = gradcheck(lambda a, b: a * b, x, x)
    assert len(report.inputs) == 1
    assert report.inputs[0].analytic == pytest.approx(2.5)
    assert report.inputs[0].numeric == pytest.approx(2.5, rel=1e-8)


def test_works_inside_no_grad():
    x = Value(0.3, label="x")
    with no_grad():
        assert gradcheck(lambda v: v.sigmoid(), x).ok


def test_inputs_reached_through_a_closure_are_perturbed_too():
    """fn may ignore its arguments and use the inputs it closes over (e.g. model parameters)."""
    w = Value(0.7, label="w")
    assert gradcheck(lambda _: (w * 2.0).exp(), w).ok


# --- failing on wrong derivatives -----------------------------------------------------------------


def test_fails_on_a_node_with_a_wrong_local_derivative():
    w, x = Value(2.0, label="w"), Value(1.5, label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(scaled_wrong_square, w, x)
    error = info.value
    assert isinstance(error, AssertionError) and isinstance(error, TinygradEduError)
    message = str(error)
    # analytic w·3x = 9, numeric w·2x = 6
    assert "input 1 'x'" in message and "element ()" in message
    assert "analytic 9 " in message and "numeric 6" in message and "difference 3" in message
    assert "input 0" not in message  # w's gradient x² is right
    assert [check.position for check in error.report.failures] == [1]
    assert error.report.inputs[0].ok


def test_fails_on_a_monkeypatched_rule(monkeypatch):
    monkeypatch.setattr(rules, "tanh", wrong_tanh)  # Value.tanh looks the rule up at call time
    x = Value(0.8, label="h")
    with pytest.raises(GradcheckError, match=r"input 0 'h'"):
        gradcheck(lambda v: v.tanh(), x)


def test_report_instead_of_exception():
    x = Value(1.5, label="x")
    report = gradcheck(wrong_square, x, raise_exception=False)
    assert not report.ok and not bool(report)
    (check,) = report.failures
    assert check.analytic == pytest.approx(4.5) and check.numeric == pytest.approx(3.0, rel=1e-8)
    assert check.difference == pytest.approx(1.5, rel=1e-8)
    assert check.max_rel_error == pytest.approx(0.5, rel=1e-6)
    assert "MISMATCH" in str(report)


@pytest.mark.parametrize("index", [(0, 0), (1, 2), (2, 1)])
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_failure_names_the_tensor_element(index, mode):
    x = Tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True, label="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongAt(index), x, mode=mode)
    (check,) = info.value.report.failures
    assert check.index == index
    assert f"element {index}" in str(info.value) and "input 0 'x'" in str(info.value)
    if mode == "full":
        assert check.output_index == index  # the wrong entry is the diagonal one
        assert check.analytic == pytest.approx(2.5) and check.numeric == pytest.approx(2.0, rel=1e-8)


# --- full vs fast ------------------------------------------------------------------------------


@given(
    tensors(shape=(3, 2), label="x"),
    tensors(shape=(2, 4), label="w1"),
    tensors(shape=(4, 2), label="w2"),
)
def test_full_and_fast_modes_agree(x, w1, w2):
    full = gradcheck(tensor_mlp, x, w1, w2, mode="full")
    fast = gradcheck(tensor_mlp, x, w1, w2, mode="fast")
    assert full.ok and fast.ok and full.mode == "full" and fast.mode == "fast"
    # The fast analytic projection uᵀJv is the full Jacobian's, so both numbers match it.
    for check in fast.inputs:
        assert check.analytic == pytest.approx(check.numeric, rel=1e-6, abs=1e-9)


def test_both_modes_fail_on_the_same_input():
    a = Tensor(np.ones((2, 3)), requires_grad=True, label="a")
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, label="x")
    for mode in ("full", "fast"):
        report = gradcheck(lambda a, x: a * WrongAt((1, 1))(x), a, x, mode=mode, raise_exception=False)
        assert [check.label for check in report.failures] == ["x"]


def test_auto_mode_picks_by_cost():
    small = Tensor(np.ones(8), requires_grad=True)
    large = Tensor(np.ones(FULL_MODE_MAX_EVALUATIONS), requires_grad=True)
    assert gradcheck(lambda t: t.tanh(), small).mode == "full"
    assert gradcheck(lambda t: t.tanh(), large).mode == "fast"
    assert gradcheck(lambda t: t.tanh().sum(), large).mode == "fast"  # 1 + 2·1024 > 1024


# --- inputs left exactly as found ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn", [tensor_product_sum, lambda a, b: a * WrongAt((0, 1))(b)])
def test_tensor_data_and_grads_are_restored(dtype, fn):
    rng = np.random.default_rng(1)
    a = Tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True, label="a")
    b = Tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True, label="b")
    data_a, data_b = a.data, b.data
    bytes_a, bytes_b = data_a.tobytes(), data_b.tobytes()
    previous = np.full((2, 3), 7.0, dtype=dtype)
    a.grad = previous
    gradcheck(fn, a, b, raise_exception=False)
    assert a.data is data_a and b.data is data_b  # the same array objects ...
    assert a.data.tobytes() == bytes_a and b.data.tobytes() == bytes_b  # ... bit for bit
    assert a.data.dtype == dtype and b.data.dtype == dtype
    assert a.grad is previous and b.grad is None  # gradients as they were


def test_value_data_and_grads_are_restored_even_when_fn_raises():
    x, w = Value(0.1 + 0.2, label="x"), Value(0.7, label="w")
    x.grad, w.grad = 5.0, -1.0
    calls = []

    def flaky(v):
        calls.append(v.data)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return v * w

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(flaky, x)
    assert x.data == 0.1 + 0.2 and x.grad == 5.0 and w.grad == -1.0
    report = gradcheck(lambda v: v * w, x)
    assert report.ok and x.data == 0.1 + 0.2 and x.grad == 5.0 and w.grad == -1.0


def test_float32_inputs_are_checked_in_float64():
    # In float32, x ± 1e-6 rounds to the neighbouring floats: the difference quotient would be
    # noise. The float64 working copy makes the check meaningful and leaves x in float32.
    x = Tensor(np.array([0.3, -1.2, 2.0], dtype=np.float32), requires_grad=True, label="x")
    report = gradcheck(lambda t: (t * t).tanh(), x)
    assert report.ok and report.inputs[0].max_abs_error < 1e-8
    assert x.data.dtype == np.float32 and x.grad is None


# --- bad arguments ---------------------------------------------------------------------------------


def square(v):
    return v * v


def leaf():
    return Tensor([1.0], requires_grad=True)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: gradcheck(42, Value(1.0)), TypeError, "fn must be callable"),
        (lambda: gradcheck(square), TypeError, "no inputs"),
        (lambda: gradcheck(lambda v, t: v, Value(1.0), leaf()), TypeError, "mix"),
        (lambda: gradcheck(square, Value(1.0), "x"), TypeError, "input 1 is a str"),
        (lambda: gradcheck(square, 2.0), TypeError, "no Value or Tensor"),
        (lambda: gradcheck(square, Tensor([1.0])), ValueError, "no input requires grad"),
        (lambda: gradcheck(square, Value(1.0), eps=0.0), ValueError, "eps must be a finite number > 0"),
        (lambda: gradcheck(square, Value(1.0), eps=-1e-6), ValueError, "eps"),
        (lambda: gradcheck(square, Value(1.0), eps=math.nan), ValueError, "eps"),
        (lambda: gradcheck(square, Value(1.0), eps="1e-6"), TypeError, "eps must be a real number"),
        (lambda: gradcheck(square, Value(1.0), atol=-1.0), ValueError, "atol"),
        (lambda: gradcheck(square, Value(1.0), rtol=math.inf), ValueError, "rtol"),
        (lambda: gradcheck(square, Value(1.0), mode="exact"), ValueError, "mode must be one of"),
        (lambda: gradcheck(square, Value(1.0), raise_exception=1), TypeError, "raise_exception"),
        (lambda: gradcheck(square, Value(1.0), seed=1.5), TypeError, "seed"),
        (lambda: gradcheck(lambda v: v.data, Value(1.0)), TypeError, "must return a Value"),
        (lambda: gradcheck(lambda t: t.data, leaf()), TypeError, "must return a Tensor"),
    ],
)  # fmt: skip
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_function_escaping_the_graph_fails_instead_of_crashing():
    x = Tensor([0.5, 1.5], requires_grad=True, label="x")
    with pytest.raises(GradcheckError, match="input 0 'x'"):
        gradcheck(lambda t: Tensor(t.data * 2.0), x)  # computed on .data: no graph


def test_bad_arguments_touch_nothing():
    x = Value(1.0, label="x")
    x.grad = 3.0
    with pytest.raises(ValueError, match="gradcheck: eps must be a finite number > 0, got 0"):
        gradcheck(square, x, eps=0)
    assert x.data == 1.0 and x.grad == 3.0


# --- the strategies ----------------------------------------------------------------------------------


@given(broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes_):
    assert len(shapes_) == 3
    np.broadcast_shapes(*shapes_)  # raises if they do not
    assert all(len(shape) <= 3 and all(1 <= side <= 4 for side in shape) for shape in shapes_)


@given(st.data())
def test_axes_are_valid_reduction_axes(data):
    shape = data.draw(shapes())
    axis = data.draw(axes(len(shape)))
    np.sum(np.zeros(shape), axis=axis)  # raises on a bad or repeated axis
    # the documented forms: None, an int of either sign, or a tuple of distinct non-negative axes
    if axis is None:
        return
    if isinstance(axis, tuple):
        assert axis and len(set(axis)) == len(axis) and all(0 <= a < len(shape) for a in axis)
    else:
        assert isinstance(axis, int) and -len(shape) <= axis < len(shape)


@pytest.mark.parametrize(
    "form",
    [
        lambda axis: axis is None,
        lambda axis: isinstance(axis, int) and axis < 0,
        lambda axis: isinstance(axis, int) and axis >= 0,
        lambda axis: isinstance(axis, tuple) and len(axis) == 1,
        lambda axis: isinstance(axis, tuple) and len(axis) == 3,
    ],
    ids=["None", "negative int", "non-negative int", "1-tuple", "all axes as a tuple"],
)
def test_axes_reach_every_documented_form(form):
    # a strategy that drew only None would pass the test above: every form must be reachable
    assert form(find(axes(3), form, settings=settings(database=None, max_examples=500)))


BOUNDS = {"real": (-3.0, 3.0), "positive": (0.25, 3.0), "unit": (0.0625, 0.9375)}


@given(
    data=st.data(),
    domain=st.sampled_from(sorted(BOUNDS)),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_arrays_stay_in_their_domain(data, domain, dtype):
    shape = data.draw(shapes())
    a = data.draw(arrays(shape, domain, dtype))
    low, high = BOUNDS[domain]
    assert a.shape == shape and a.dtype == dtype
    assert np.all((a >= low) & (a <= high))


@given(arrays(shapes(max_side=5), "away_from_kinks"))
def test_away_from_kinks_means_off_zero_and_no_near_ties(a):
    step = 3.0 / max(30, a.size)
    assert np.all(np.abs(a) >= 0.75 * step - 1e-12)
    values = np.sort(a.ravel())
    assert np.all(np.diff(values) >= 0.5 * step - 1e-12)


@given(tensors(shape=(2, 3), domain="positive", requires_grad=False, dtype=np.float32, label="t"))
def test_tensors_have_the_asked_shape_dtype_and_flags(t):
    assert isinstance(t, Tensor) and t.shape == (2, 3) and t.data.dtype == np.float32
    assert not t.requires_grad and t.label == "t" and np.all(t.data >= 0.25)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: arrays((2,), "complex"), "unknown domain"),
        (lambda: arrays((2,), "real", np.int64), "dtype"),
        (lambda: axes(-1), "ndim"),
        (lambda: expression_dags(n_inputs=0), "n_inputs"),
        (lambda: expression_dags(n_inputs=(3, 2)), "n_inputs"),
        (lambda: expression_dags(max_ops=0), "max_ops"),
        (lambda: expression_dags(ops=("matmul",)), "ops"),
        (lambda: expression_dags(ops=()), "ops"),
        (lambda: expression_dags(inputs=()), "inputs"),
    ],
)
def test_strategies_reject_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_every_domain_is_documented():
    assert set(DOMAINS) == set(BOUNDS) | {"away_from_kinks"}
