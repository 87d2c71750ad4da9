"""Bad input to tensors: a typed, specific error raised before anything changes (issue 3, item 7)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_edu import GradError, ShapeError, Tensor, Value, concatenate, stack, trace


@pytest.fixture
def trained():
    """A small graph after one backward, to check that a failing call changes nothing."""
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, label="x")
    y = (x * 2.0).sum()
    y.backward()
    return x, y, x.grad.copy(), len(trace(y).nodes)


def _unchanged(trained):
    x, y, grad, count = trained
    np.testing.assert_array_equal(x.grad, grad)
    assert len(trace(y).nodes) == count


# --- non-numeric data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, words",
    [
        ("abc", "expected numbers"),
        (None, "None"),
        (["a", "b"], "dtype <U1"),
        ([1, None], "found NoneType"),
        ({"a": 1}, "found dict"),
        (object(), "found object"),
        (1 + 2j, "complex"),
        (np.ones(2, complex), "complex"),
        ([[1, 2], [3]], "ragged"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
        (Value(1.0), "cannot mix Value and Tensor"),
        ([Value(1.0), Value(2.0)], "holds Tensors or Values"),
        ([Tensor(1.0), Tensor(2.0)], "join tensors with tinygrad_edu.stack"),
        ([[Value(1.0)]], "cannot mix Value and Tensor"),
    ],
)
def test_non_numeric_data_is_a_type_error(data, words):
    with pytest.raises(TypeError) as info:
        Tensor(data)
    assert words in str(info.value) and "Tensor" in str(info.value)


def test_bad_flags():
    with pytest.raises(TypeError, match="requires_grad must be True or False"):
        Tensor(1.0, requires_grad="yes")
    with pytest.raises(TypeError, match="label must be a str"):
        Tensor(1.0, label=3)


# --- shape mismatches name the op and both shapes ------------------------------------------------


@pytest.mark.parametrize(
    "f, op",
    [
        (lambda a, b: a + b, "add"),
        (lambda a, b: a - b, "sub"),
        (lambda a, b: a * b, "mul"),
        (lambda a, b: a / b, "div"),
        (lambda a, b: a**b, "pow"),
        (lambda a, b: b + a, "add"),
    ],
)
def test_broadcast_mismatch(trained, f, op):
    x = trained[0]
    with pytest.raises(ShapeError) as info:
        f(x, Tensor(np.ones((4,)), requires_grad=True))
    message = str(info.value)
    assert message.startswith(op) and "(2, 3)" in message and "(4,)" in message
    assert "3 meets 4" in message or "4 meets 3" in message
    _unchanged(trained)


def test_number_array_mismatch():
    with pytest.raises(ShapeError, match=r"mul .*\(3,\) and \(2,\)"):
        Tensor(np.ones(3)) * np.ones(2)


@pytest.mark.parametrize(
    "shapes, words",
    [
        (((2, 3), (2, 3)), "last axis of the left operand (3) must equal the second-to-last axis"),
        (((3,), (4,)), "(3) must equal the only axis of the right one (4)"),
        (((), (3,)), "at least 1 axis"),
        (((2, 2, 3), (3, 3, 1)), "batch axes (2,) and (3,) do not broadcast"),
    ],
)
def test_matmul_mismatch(trained, shapes, words):
    a, b = (Tensor(np.ones(s), requires_grad=True) for s in shapes)
    with pytest.raises(ShapeError) as info:
        a @ b
    assert (
        words in str(info.value) and str(shapes[0]) in str(info.value) and str(shapes[1]) in str(info.value)
    )
    with pytest.raises(
        ShapeError,
        match=rf"both operands need at least 1 axis, got shapes {re.escape(str(shapes[0]))} and \(\)",
    ):
        a @ 2.0
    _unchanged(trained)


# --- mixing Value and Tensor ------------------------------------------------------------------------


def test_mixing_value_and_tensor(trained):
    x = trained[0]
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        x + Value(1.0)
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        Value(1.0) * x
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        x ** Value(2.0)
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        x.backward(Value(1.0))
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        stack([x, Value(1.0)])
    _unchanged(trained)


def test_unsupported_operands(trained):
    x = trained[0]
    with pytest.raises(TypeError, match=r"unsupported operand for Tensor '\+': str"):
        x + "a"
    with pytest.raises(TypeError, match="exponent must be a real number or a Tensor"):
        x ** "2"
    with pytest.raises(TypeError, match="exponent"):
        x**None
    with pytest.raises(TypeError, match="slope must be a finite real number"):
        x.leaky_relu(float("nan"))
    _unchanged(trained)


# --- wrong grad ----------------------------------------------------------------------------------------


def test_wrong_grad(trained):
    x, y = trained[0], trained[1]
    h = x * 3.0
    with pytest.raises(GradError, match=r"\(3, 2\).*\(2, 3\)"):
        h.backward(np.ones((3, 2)))
    with pytest.raises(GradError, match=r"has shape \(2, 3\), not a single number"):
        h.backward()
    with pytest.raises(GradError, match=r"grad has shape \(1,\) but"):
        y.backward(np.ones(1))
    _unchanged(trained)
    assert h.grad is None


# --- bad axes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sum", "mean", "max", "logsumexp"])
def test_bad_axis_of_reductions(trained, op):
    x = trained[0]
    with pytest.raises(
        ShapeError, match=rf"{op}: axis 2 is out of range for shape \(2, 3\) \(valid axes: -2 … 1\)"
    ):
        getattr(x, op)(axis=2)
    with pytest.raises(ShapeError, match="out of range"):
        getattr(x, op)(axis=(0, -3))
    with pytest.raises(ShapeError, match="names an axis twice"):
        getattr(x, op)(axis=(0, -2))
    with pytest.raises(TypeError, match=f"{op}: axis must be an int, got float"):
        getattr(x, op)(axis=1.0)
    with pytest.raises(TypeError, match="axis must be an int, got bool"):
        getattr(x, op)(axis=True)
    with pytest.raises(TypeError, match="keepdims must be True or False"):
        getattr(x, op)(keepdims="no")
    _unchanged(trained)


def test_bad_axis_of_other_ops(trained):
    x = trained[0]
    with pytest.raises(ShapeError, match=r"softmax: axis 5 is out of range for shape \(2, 3\)"):
        x.softmax(axis=5)
    with pytest.raises(ShapeError, match="log_softmax"):
        x.log_softmax(axis=-3)
    with pytest.raises(ShapeError, match=r"softmax: needs a tensor with at least 1 axis"):
        Tensor(1.0).softmax()
    with pytest.raises(ShapeError, match="concatenate: axis 2"):
        concatenate([x, x], axis=2)
    with pytest.raises(ShapeError, match="stack: axis 3"):
        stack([x, x], axis=3)
    with pytest.raises(ShapeError, match="nothing to reduce"):
        Tensor(np.ones((0, 3))).max(axis=0)
    with pytest.raises(ShapeError, match="nothing to reduce"):
        Tensor(np.ones(0)).mean()
    _unchanged(trained)


def test_bad_shape_ops(trained):
    x = trained[0]
    with pytest.raises(
        ShapeError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, -1\)"
    ):
        x.reshape(4, -1)
    with pytest.raises(ShapeError, match=r"into \(5,\) \(5 elements\)"):
        x.reshape(5)
    with pytest.raises(ShapeError, match="at most one -1"):
        x.reshape(-1, -1)
    with pytest.raises(TypeError, match="reshape: sizes must be ints"):
        x.reshape(2.0, 3)
    with pytest.raises(ShapeError, match=r"transpose: \(0, 0\) is not a permutation"):
        x.transpose(0, 0)
    with pytest.raises(ShapeError, match="must name each of the 2 axes"):
        x.transpose(1, 0, 2)
    with pytest.raises(TypeError, match="permute: give the new order"):
        x.permute()
    with pytest.raises(ShapeError, match=r"concatenate: shapes \[\(2, 3\), \(2, 2\)\] must agree"):
        concatenate([x, Tensor(np.ones((2, 2)))], axis=0)
    with pytest.raises(ShapeError, match="same number"):
        concatenate([x, Tensor(np.ones(3))])
    with pytest.raises(
        ShapeError, match=r"stack: all tensors must have the same shape, got \[\(2, 3\), \(3,\)\]"
    ):
        stack([x, Tensor(np.ones(3))])
    with pytest.raises(ShapeError, match="at least one tensor"):
        stack([])
    with pytest.raises(TypeError, match="expected a list or tuple of Tensors"):
        concatenate(x)
    with pytest.raises(ShapeError, match=r"item: .* shape \(2, 3\)"):
        x.item()
    _unchanged(trained)


# --- indexing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    [5, -4, (0, 3), (slice(None), [0, 3]), [2, 0], (0, 0, 0), np.array([True, False, True])],
    ids=repr,
)
def test_index_out_of_range_names_index_and_shape(trained, index):
    x = trained[0]
    with pytest.raises(IndexError) as info:
        x[index]
    assert "getitem: index [" in str(info.value) and "shape (2, 3)" in str(info.value)
    _unchanged(trained)


@pytest.mark.parametrize("index", [1.5, "a", [0.5], Tensor([0.5])], ids=repr)
def test_non_integer_index(trained, index):
    with pytest.raises(IndexError, match="getitem"):
        trained[0][index]
    _unchanged(trained)


def test_index_with_value_is_a_mix_error(trained):
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        trained[0][Value(1.0)]
