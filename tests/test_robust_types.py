"""Odd types at the public entry points: refused with a typed error, or computed as PyTorch does.

numpy arrays meeting a Value, 0-d iteration, complex gradients in the optimisers, targets that
do not fit an index, ragged state dicts, leaky-ReLU slopes, and unicode names on the command line.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tinygrad_edu import Tensor, Value, cross_entropy, nn
from tinygrad_edu.cli import main
from tinygrad_edu.expr import build, parse_assignments
from tinygrad_edu.nn import init
from tinygrad_edu.optim import SGD, Adam, clip_grad_norm_, clip_grad_value_

# --- item 10: numpy arrays never absorb a Value; a 0-d Tensor cannot be iterated ----------------


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, v: a * v,
        lambda a, v: a + v,
        lambda a, v: a - v,
        lambda a, v: a / v,
        lambda a, v: a**v,
        lambda a, v: v * a,
        lambda a, v: v + a,
    ],
    ids=["a*v", "a+v", "a-v", "a/v", "a**v", "v*a", "v+a"],
)
@pytest.mark.parametrize(
    "array", [np.array([2.0]), np.array(2.0), np.ones((2, 2))], ids=["(1,)", "()", "(2,2)"]
)
def test_a_numpy_array_and_a_value_do_not_make_an_object_array(combine, array):
    value = Value(5.0)
    with pytest.raises(TypeError, match="cannot combine a Value with a numpy array.*use Tensor"):
        combine(array, value)


def test_numpy_scalars_still_combine_with_values():
    y = np.float64(2.0) * Value(5.0) + np.float32(1.0)
    assert isinstance(y, Value) and y.data == 11.0
    y.backward()
    assert y.parents[0].parents[1].grad == 2.0  # ∂(2·v + 1)/∂v, by hand


def test_iterating_a_0d_tensor_is_a_type_error_like_pytorch():
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(Tensor(5.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(Tensor(5.0))


def test_iterating_a_tensor_gives_its_rows_as_graph_nodes():
    t = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    rows = list(t)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    np.testing.assert_array_equal(rows[2].data, [4.0, 5.0])
    (rows[0] * 1.0 + rows[2] * 3.0).sum().backward()
    np.testing.assert_array_equal(t.grad, [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]])  # by hand


# --- item 11: complex numbers never reach a parameter ---------------------------------------------


def _params():
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.full(3, 2.0), requires_grad=True)
    a.grad = np.full(2, 0.5)
    b.grad = np.full(3, 0.5 + 1e-3j)  # nearly real: dropping the imaginary part would go unseen
    return a, b


UPDATES = {
    "SGD": lambda ps: SGD(ps, lr=0.1).step(),
    "SGD momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1).step(),
    "Adam": lambda ps: Adam(ps, lr=0.1).step(),
    "clip_grad_norm_": lambda ps: clip_grad_norm_(ps, max_norm=0.1),
    "clip_grad_value_": lambda ps: clip_grad_value_(ps, clip_value=0.1),
}


@pytest.mark.parametrize("update", list(UPDATES))
def test_complex_gradients_are_refused_before_any_parameter_changes(update):
    a, b = _params()  # a (first, real) would be updated first if the check came late
    with pytest.raises(TypeError, match=r"params\[1\] has a complex grad \(dtype complex128\)"):
        UPDATES[update]([a, b])
    np.testing.assert_array_equal(a.data, np.ones(2))
    np.testing.assert_array_equal(a.grad, np.full(2, 0.5))
    np.testing.assert_array_equal(b.data, np.full(3, 2.0))


@pytest.mark.parametrize("update", list(UPDATES))
def test_complex_data_is_refused_too(update):
    a, b = _params()
    b.grad = np.full(3, 0.5)
    b.data = np.full(3, 2.0 + 0j)  # replaced after construction
    with pytest.raises(TypeError, match=r"params\[1\] has a complex data"):
        UPDATES[update]([a, b])
    np.testing.assert_array_equal(a.data, np.ones(2))


def test_a_complex_grad_on_a_scalar_value_is_refused():
    v = Value(1.0)
    v.grad = 0.5j
    with pytest.raises(TypeError, match="complex grad"):
        SGD([v], lr=0.1).step()
    assert v.data == 1.0


# --- item 12: targets, state dicts, slopes, unicode names -------------------------------------------

BIG_TARGETS = [
    (np.array([0, 2**63 + 5], dtype=np.uint64), "9223372036854775813"),
    (np.array([0.0, 1e20]), "1e+20"),
    ([0, 2**70], str(2**70)),
    ([0, -(2**70)], str(-(2**70))),
    (np.array([0, 2**32 + 1], dtype=np.int64), str(2**32 + 1)),
]


@pytest.mark.parametrize("targets, shown", BIG_TARGETS, ids=[s for _, s in BIG_TARGETS])
def test_cross_entropy_reports_the_real_out_of_range_target(targets, shown):
    logits = Tensor(np.zeros((2, 3)))
    with pytest.raises(
        IndexError, match=re.escape(f"target {shown} at position 1 is not a class index 0 … 2")
    ):
        cross_entropy(logits, targets)


def test_cross_entropy_accepts_every_integer_kind_in_range():
    logits = Tensor(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    # by hand: row 0 target 2 → logsumexp(1,2,3) − 3; row 1 target 0 → log 3
    expected = (math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3 + math.log(3)) / 2
    for targets in (
        [2, 0],
        np.array([2, 0], dtype=np.uint64),
        np.array([2.0, 0.0]),
        np.array([2, 0], np.int8),
    ):
        assert cross_entropy(logits, targets).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_refuses_objects_that_are_not_whole_numbers():
    with pytest.raises(TypeError, match="got 'a' at position 1"):
        cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, "a"], dtype=object))


@pytest.mark.parametrize("ragged", [[[1.0, 2.0], [3.0]], [1.0, [2.0, 3.0]]])
def test_load_state_dict_with_a_ragged_list_is_a_type_error_and_changes_nothing(ragged):
    model = nn.Linear(2, 2, rng=0)
    before = model.weight.data.copy()
    with pytest.raises(TypeError, match="'weight' is not an array of numbers.*nothing was loaded"):
        model.load_state_dict({"weight": ragged, "bias": np.zeros(2)})
    np.testing.assert_array_equal(model.weight.data, before)


SLOPE_USERS = {
    "nn.LeakyReLU": lambda s: nn.LeakyReLU(s).negative_slope,
    "Value.leaky_relu": lambda s: -Value(-1.0).leaky_relu(s).data,
    "Tensor.leaky_relu": lambda s: -float(Tensor([-1.0]).leaky_relu(s).data[0]),
    "nn.functional.leaky_relu": lambda s: -nn.functional.leaky_relu(Value(-1.0), s).data,
    "calculate_gain": lambda s: math.sqrt(2.0 / init.calculate_gain("leaky_relu", s) ** 2 - 1.0),
}


@pytest.mark.parametrize("user", list(SLOPE_USERS))
@pytest.mark.parametrize("slope", [np.float32(0.25), np.float64(0.2), 0.1, 1, np.int64(2)], ids=repr)
def test_every_leaky_relu_accepts_numpy_and_python_numbers(user, slope):
    assert SLOPE_USERS[user](slope) == pytest.approx(float(slope), rel=1e-6)


@pytest.mark.parametrize("user", list(SLOPE_USERS))
@pytest.mark.parametrize("slope", [True, False, np.bool_(True), "0.1", None, math.inf, math.nan], ids=repr)
def test_every_leaky_relu_refuses_the_same_slopes(user, slope):
    if slope is None and user == "calculate_gain":
        pytest.skip("calculate_gain(..., None) documents the default slope 0.01")
    with pytest.raises(TypeError, match="must be a finite real number"):
        SLOPE_USERS[user](slope)


def test_unicode_names_are_normalised_like_pythons_parser(capsys, tmp_path):
    # "ｘ" (fullwidth, U+FF58) is the variable x to ast.parse (NFKC), so --set ｘ=… must be too
    code = main(
        ["graph", "ｘ*2", "--set", "ｘ=1.5", "--wrt", "ｘ", "--out", str(tmp_path), "--format", "dot"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "f = 3" in out and "x.grad = 2 after backward()" in out
    assert parse_assignments(["ｘ=1"]) == {"x": 1.0}
    root, leaves = build("ｘ * ｘ", {"ｘ": 3.0})
    root.backward()
    assert leaves["x"].grad == 6.0  # d(x²)/dx = 2x, by hand


def test_two_spellings_of_one_name_are_refused():
    code = main(["graph", "x*2", "--set", "ｘ=1", "--set", "x=2", "--out", "unused"])
    assert code == 2
    with pytest.raises(ValueError, match="given twice"):
        build("x", {"x": 1.0, "ｘ": 2.0})
