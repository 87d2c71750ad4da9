"""Every tensor op through ``gradcheck`` on Hypothesis-generated shapes and values.

Shapes come from ``tinygrad_edu.testing`` (0-d and size-1 sides included, broadcasting in both
directions); values from its domains (positive for log/sqrt/divisors, away from kinks and ties
for relu/abs/max). Sides are kept ≤ 3 so that the full Jacobian of each example stays cheap.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import (
    Tensor,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    concatenate,
    cross_entropy,
    mse_loss,
    stack,
)
from tinygrad_edu.testing import apply_op, arrays, axes, broadcastable_shapes, gradcheck, shapes, tensors

SIDE = 3  # max side of generated shapes
SMALL = shapes(max_dims=3, max_side=SIDE)

#: Value domain per operand of each elementwise binary op.
BINARY_DOMAINS = {
    "add": ("real", "real"),
    "sub": ("real", "real"),
    "mul": ("real", "real"),
    "div": ("real", "positive"),
    "pow": ("positive", "real"),
}
#: Value domain of each elementwise unary op (slope/exponent given separately).
UNARY_DOMAINS = {
    "neg": "real",
    "exp": "real",
    "log": "positive",
    "sqrt": "positive",
    "tanh": "real",
    "sigmoid": "real",
    "relu": "away_from_kinks",
    "softplus": "real",
    "log_sigmoid": "real",
    "abs": "away_from_kinks",
    "sin": "real",
    "cos": "real",
}


# --- small named callables: Hypothesis and gradcheck reports show what was checked ---------------


class Op:
    """``apply_op(op, operands, arg)`` as a function of the operands."""

    def __init__(self, op: str, arg=None):
        self.op, self.arg = op, arg

    def __call__(self, *operands):
        return apply_op(self.op, operands, self.arg)

    def __repr__(self):
        return f"Op({self.op!r}, arg={self.arg!r})"


class WithNumber:
    """``tensor ∘ number`` (or ``number ∘ tensor`` when ``reflected``)."""

    def __init__(self, op: str, number: float, reflected: bool):
        self.op, self.number, self.reflected = op, number, reflected

    def __call__(self, x):
        operands = (self.number, x) if self.reflected else (x, self.number)
        return apply_op(self.op, operands)

    def __repr__(self):
        return f"WithNumber({self.op!r}, {self.number!r}, reflected={self.reflected})"


class Method:
    """``x.name(*args, **kwargs)``."""

    def __init__(self, name: str, *args, **kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs

    def __call__(self, x):
        return getattr(x, self.name)(*self.args, **self.kwargs)

    def __repr__(self):
        return f"Method({self.name!r}, {self.args!r}, {self.kwargs!r})"


class Index:
    """``x[index]``."""

    def __init__(self, index):
        self.index = index

    def __call__(self, x):
        return x[self.index]

    def __repr__(self):
        return f"Index({self.index!r})"


class Join:
    """``concatenate`` or ``stack`` of the inputs along ``axis``."""

    def __init__(self, how, axis: int):
        self.how, self.axis = how, axis

    def __call__(self, *xs):
        return self.how(list(xs), axis=self.axis)


class CrossEntropy:
    def __init__(self, targets):
        self.targets = targets

    def __call__(self, logits):
        return cross_entropy(logits, self.targets)


def matmul(a, b):
    return a @ b


def transposed(x):
    return x.T


def mlp_loss(x, w1, b1, w2, b2, targets):
    """A two-layer network and its loss: matmul, broadcast add, tanh, softmax cross-entropy."""
    return cross_entropy((x @ w1 + b1).tanh() @ w2 + b2, targets)


# --- elementwise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(BINARY_DOMAINS))
@given(data=st.data(), held=st.sampled_from(["neither", "a", "b"]))
def test_binary_ops_broadcast_both_ways(op, data, held):
    """Both operands checked, or one held fixed (requires_grad=False)."""
    shape_a, shape_b = data.draw(broadcastable_shapes(max_side=SIDE), label="shapes")
    domain_a, domain_b = BINARY_DOMAINS[op]
    a = data.draw(tensors(shape_a, domain_a, requires_grad=held != "a", label="a"), label="a")
    b = data.draw(tensors(shape_b, domain_b, requires_grad=held != "b", label="b"), label="b")
    report = gradcheck(Op(op), a, b)
    assert [check.label for check in report.inputs] == [name for name in "ab" if name != held]
    assert (a.grad, b.grad) == (None, None)  # gradcheck leaves no gradients behind


@given(
    op=st.sampled_from(sorted(BINARY_DOMAINS)),
    reflected=st.booleans(),
    x=tensors(SMALL, "positive", label="x"),
    number=st.sampled_from([0.5, 1.5, 2.0, 3.0]),
)
def test_binary_ops_with_a_number(op, reflected, x, number):
    """Tensor ∘ number and number ∘ Tensor (positive values fit every operand's domain)."""
    gradcheck(WithNumber(op, number, reflected), x)


@pytest.mark.parametrize("op", sorted(UNARY_DOMAINS))
@given(data=st.data())
def test_unary_ops(op, data):
    x = data.draw(tensors(SMALL, UNARY_DOMAINS[op], label="x"), label="x")
    gradcheck(Op(op), x)


@given(x=tensors(SMALL, "away_from_kinks", label="x"), slope=st.sampled_from([0.01, 0.2, 1.5]))
def test_leaky_relu(x, slope):
    gradcheck(Op("leaky_relu", slope), x)


@given(x=tensors(SMALL, "positive", label="x"), p=st.sampled_from([2, 3, -1, -2, 0.5, -0.5, 1.5, 0, 1]))
def test_power_with_a_constant_exponent(x, p):
    gradcheck(Op("pow_const", p), x)


# --- matmul ----------------------------------------------------------------------------------------


@given(batch_dims=st.sampled_from([0, 1, 2]), data=st.data())
def test_matmul_1d_2d_and_batched(batch_dims, data):
    # The number of batch axes is drawn first: with max_dims=2 alone, Hypothesis nearly always adds
    # batch axes, and the plain 2-D @ 2-D product (a dense layer) never came up in 60 CI examples.
    # Without batch axes, sides start at 2: a 1×1 or 1×n operand cannot show a transposed backward.
    shapes_ = data.draw(
        hnp.mutually_broadcastable_shapes(
            signature=np.matmul.signature,
            max_dims=batch_dims,
            min_side=2 if batch_dims == 0 else 1,
            max_side=SIDE,
        ),
        label="shapes",
    )
    shape_a, shape_b = shapes_.input_shapes
    # Distinct values: "real" arrays are often mostly one repeated value, and a square operand with
    # equal entries is its own transpose, which hides a W-for-Wᵀ bug in the backward pass.
    a = data.draw(tensors(shape_a, "away_from_kinks", label="a"), label="a")
    b = data.draw(tensors(shape_b, "away_from_kinks", label="b"), label="b")
    out = a @ b
    assert out.shape == shapes_.result_shape
    gradcheck(matmul, a, b)


# --- reductions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sum", "mean", "max", "logsumexp"])
@given(data=st.data(), keepdims=st.booleans())
def test_reductions_over_any_axes(name, data, keepdims):
    domain = "away_from_kinks" if name == "max" else "real"  # max: no ties
    x = data.draw(tensors(SMALL, domain, label="x"), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    gradcheck(Method(name, axis=axis, keepdims=keepdims), x)


def test_max_splits_the_gradient_evenly_on_ties():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [0.5, 0, 0.5]])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family_along_any_axis(name, data):
    x = data.draw(tensors(shapes(min_dims=1, max_dims=3, max_side=SIDE), label="x"), label="x")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    gradcheck(Method(name, axis), x)


# --- shape ops ---------------------------------------------------------------------------------------


def shapes_of_size(size: int) -> list[tuple]:
    """Every shape of up to 3 dimensions with ``size`` elements, and the same with one −1."""
    found = [(size,)] + ([()] if size == 1 else [])
    for a in range(1, size + 1):
        if size % a == 0:
            found.append((a, size // a))
            for b in range(1, size // a + 1):
                if (size // a) % b == 0:
                    found.append((a, b, size // a // b))
    with_minus_one = [shape[:i] + (-1,) + shape[i + 1 :] for shape in found for i in range(len(shape))]
    return found + with_minus_one


@given(data=st.data())
def test_reshape(data):
    x = data.draw(tensors(SMALL, label="x"), label="x")
    new_shape = data.draw(st.sampled_from(shapes_of_size(x.size)), label="new_shape")
    gradcheck(Method("reshape", new_shape), x)


@pytest.mark.parametrize("name", ["transpose", "permute"])
@given(data=st.data())
def test_transpose_and_permute(name, data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=SIDE), label="x"), label="x")
    order = data.draw(st.permutations(range(x.ndim)), label="order")
    gradcheck(Method(name, *order), x)


@given(x=tensors(shapes(min_dims=1, max_side=SIDE), label="x"))
def test_dot_t_and_default_transpose(x):
    gradcheck(Method("transpose"), x)
    gradcheck(transposed, x)


@pytest.mark.parametrize("how", [Method("transpose"), transposed])
def test_transpose_of_a_0d_tensor(how):
    gradcheck(how, Tensor(0.5, requires_grad=True, label="x"))


# --- indexing --------------------------------------------------------------------------------------


@given(data=st.data())
def test_basic_indexing(data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=SIDE), label="x"), label="x")
    index = data.draw(hnp.basic_indices(x.shape), label="index")
    gradcheck(Index(index), x)


@given(data=st.data())
def test_integer_array_indexing_with_repeats(data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=SIDE), label="x"), label="x")
    index = data.draw(
        hnp.integer_array_indices(x.shape, result_shape=shapes(min_dims=1, max_dims=2, max_side=5)),
        label="index",
    )
    gradcheck(Index(index), x)


@given(data=st.data())
def test_integer_list_on_the_first_axis(data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=SIDE), label="x"), label="x")
    rows = data.draw(st.lists(st.integers(-x.shape[0], x.shape[0] - 1), min_size=1, max_size=6), label="rows")
    gradcheck(Index(rows), x)


@given(data=st.data())
def test_boolean_mask_indexing(data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=SIDE), label="x"), label="x")
    mask = data.draw(hnp.arrays(np.bool_, x.shape), label="mask")
    gradcheck(Index(mask), x)


def test_repeated_indices_accumulate():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])
    y = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (y[[1, 1], [2, 2]] * Tensor([2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(y.grad, [[0, 0, 0], [0, 0, 7.0]])


# --- concatenate / stack -------------------------------------------------------------------------


@given(data=st.data(), count=st.integers(1, 3))
def test_concatenate(data, count):
    base = data.draw(shapes(min_dims=1, max_side=SIDE), label="base")
    axis = data.draw(st.integers(-len(base), len(base) - 1), label="axis")
    xs = []
    for i in range(count):
        shape = list(base)
        shape[axis] = data.draw(st.integers(1, SIDE), label=f"side {i}")
        xs.append(data.draw(tensors(tuple(shape), label=f"x{i}"), label=f"x{i}"))
    gradcheck(Join(concatenate, axis), *xs)


@given(data=st.data(), count=st.integers(1, 3))
def test_stack(data, count):
    shape = data.draw(SMALL, label="shape")
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="axis")
    xs = [data.draw(tensors(shape, label=f"x{i}"), label=f"x{i}") for i in range(count)]
    gradcheck(Join(stack, axis), *xs)


# --- losses ----------------------------------------------------------------------------------------


@given(data=st.data())
def test_mse_loss(data):
    shape = data.draw(SMALL, label="shape")
    pred = data.draw(tensors(shape, label="pred"), label="pred")
    target = data.draw(tensors(shape, label="target"), label="target")
    gradcheck(mse_loss, pred, target)


@given(data=st.data())
def test_binary_cross_entropy(data):
    shape = data.draw(SMALL, label="shape")
    prob = data.draw(tensors(shape, "unit", label="prob"), label="prob")
    target = data.draw(tensors(shape, "unit", label="target"), label="target")
    gradcheck(binary_cross_entropy, prob, target)


@given(data=st.data())
def test_binary_cross_entropy_with_logits(data):
    shape = data.draw(SMALL, label="shape")
    logits = data.draw(tensors(shape, label="logits"), label="logits")
    target = data.draw(tensors(shape, "unit", label="target"), label="target")
    gradcheck(binary_cross_entropy_with_logits, logits, target)


@given(data=st.data())
def test_cross_entropy(data):
    logits = data.draw(tensors(shapes(min_dims=2, max_dims=2, max_side=4), label="logits"), label="logits")
    n, c = logits.shape
    targets = data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n), label="targets")
    gradcheck(CrossEntropy(np.array(targets)), logits)


@given(data=st.data())
def test_a_small_network_end_to_end(data):
    n, d, h, c = (data.draw(st.integers(1, 3), label=name) for name in "ndhc")
    x = Tensor(data.draw(arrays((n, d)), label="x"))  # data, held fixed
    w1, w2 = data.draw(tensors((d, h), label="w1")), data.draw(tensors((h, c), label="w2"))
    b1, b2 = data.draw(tensors((h,), label="b1")), data.draw(tensors((c,), label="b2"))
    targets = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n), label="targets"))
    report = gradcheck(mlp_loss, x, w1, b1, w2, b2, targets)
    assert [check.label for check in report.inputs] == ["w1", "b1", "w2", "b2"]
