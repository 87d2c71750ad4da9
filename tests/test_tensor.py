"""Tensor ops: values, gradients against central finite differences, broadcasting, dtypes.

The finite-difference helper is local (``numeric_grads``) so that these tests do not depend on
``tinygrad_edu.testing``; the Hypothesis suite through the public ``gradcheck`` is
``test_tensor_gradcheck.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Tensor, Value, concatenate, no_grad, stack, trace
from tinygrad_edu.jacobians import IDENTITY, Unbroadcast

# --- the finite-difference helper -------------------------------------------------------------


def numeric_grads(f, arrays, weight, eps=1e-6):
    """Central differences of Σ weight·f(*arrays) with respect to every element of every array."""
    grads = []
    for i, array in enumerate(arrays):
        grad = np.zeros(array.shape)
        for idx in np.ndindex(array.shape):
            values = []
            for step in (eps, -eps):
                moved = [a.astype(np.float64).copy() for a in arrays]
                moved[i][idx] += step
                with no_grad():
                    out = f(*[Tensor(m) for m in moved])
                values.append(float(np.sum(weight * out.data)))
            grad[idx] = (values[0] - values[1]) / (2 * eps)
        grads.append(grad)
    return grads


def check(f, *arrays, atol=1e-6, rtol=1e-5, seed=0):
    """f's analytic gradients (backward with a random weight) equal central differences."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = f(*tensors)
    weight = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(weight)
    for tensor, expected in zip(tensors, numeric_grads(f, arrays, weight)):
        assert tensor.grad.shape == tensor.shape
        assert tensor.grad.dtype == np.float64
        np.testing.assert_allclose(tensor.grad, expected, atol=atol, rtol=rtol)
    return out


def rand(*shape, seed=1, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# --- construction and dtypes ---------------------------------------------------------------------


def test_contract_example():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)))
    W = Tensor(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True)
    loss = (x @ W).relu().sum()
    loss.backward()
    h = x.data @ W.data
    expected = x.data.T @ (h > 0).astype(float)
    np.testing.assert_allclose(W.grad, expected)
    assert W.grad.shape == W.data.shape and isinstance(W.grad, np.ndarray)
    assert loss.op == "sum" and loss.parents[0].op == "relu"
    assert x.grad is None  # x does not require grad


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1, np.float64),
        (2.5, np.float64),
        (True, np.float64),
        ([1, 2, 3], np.float64),
        ([[True, False]], np.float64),
        (np.arange(3, dtype=np.int32), np.float64),
        (np.arange(3, dtype=np.uint8), np.float64),
        (np.ones(2, np.float16), np.float64),
        (np.ones(2, np.float32), np.float32),
        (np.float32(1.5), np.float32),
        (np.ones((2, 0)), np.float64),
    ],
)
def test_dtype_conversion(data, dtype):
    t = Tensor(data)
    assert isinstance(t.data, np.ndarray) and t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))


def test_data_is_copied_and_attributes():
    source = np.ones((2, 3))
    t = Tensor(source, requires_grad=True, label="w")
    source[0, 0] = 5.0
    assert t.data[0, 0] == 1.0
    assert (t.shape, t.ndim, t.size, t.label, t.op, t.parents, t.local_grads, t.arg, t.grad) == (
        (2, 3),
        2,
        6,
        "w",
        "",
        (),
        (),
        None,
        None,
    )
    assert Tensor.NO_GRAD is None and t.requires_grad is True
    assert Tensor(t).data is not t.data


def test_nodes_hash_by_identity():
    a = Tensor([1.0, 2.0])
    b = Tensor([1.0, 2.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_item_numpy_detach_repr():
    t = Tensor([[3.0]], requires_grad=True, label="t")
    assert t.item() == 3.0 and float(t) == 3.0
    assert t.numpy() is t.data
    y = (t * 0.5).tanh()
    d = y.detach()
    assert d.data is y.data and d.parents == () and d.requires_grad is False
    text = repr(y)
    # tanh(3 · 0.5) = tanh 1.5 = 0.905148...
    assert "shape=(1, 1)" in text and "float64" in text and "op='tanh'" in text and "0.9051" in text
    big = repr(Tensor(np.arange(100.0), label="big"))
    assert "shape=(100,)" in big and "label='big'" in big and "max 99" in big


# --- elementwise ops -------------------------------------------------------------------------------

UNARY = {
    "neg": (lambda x: -x, lambda a: -a, (-2, 2)),
    "exp": (lambda x: x.exp(), np.exp, (-2, 2)),
    "log": (lambda x: x.log(), np.log, (0.2, 3)),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, (0.2, 3)),
    "tanh": (lambda x: x.tanh(), np.tanh, (-2, 2)),
    "sigmoid": (lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), (-3, 3)),
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), (-2, 2)),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda a: np.where(a > 0, a, 0.1 * a), (-2, 2)),
    "softplus": (lambda x: x.softplus(), lambda a: np.log1p(np.exp(a)), (-3, 3)),
    "log_sigmoid": (lambda x: x.log_sigmoid(), lambda a: -np.log1p(np.exp(-a)), (-3, 3)),
    "abs": (lambda x: abs(x), np.abs, (-2, 2)),
    "sin": (lambda x: x.sin(), np.sin, (-3, 3)),
    "cos": (lambda x: x.cos(), np.cos, (-3, 3)),
    "square": (lambda x: x**2, np.square, (-2, 2)),
    "pow_const": (lambda x: x**1.5, lambda a: a**1.5, (0.2, 3)),
    "rpow": (lambda x: 2.0**x, lambda a: 2.0**a, (-2, 2)),
    "rsub": (lambda x: 1 - x, lambda a: 1 - a, (-2, 2)),
    "rdiv": (lambda x: 1 / x, lambda a: 1 / a, (0.5, 3)),
}


def _away_from_zero(a):
    return np.where(np.abs(a) < 0.1, 0.5, a)  # no kink of relu/abs within eps


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3)])
def test_unary_values_and_gradients(name, shape):
    f, reference, (low, high) = UNARY[name]
    a = _away_from_zero(rand(*shape, seed=len(name), low=low, high=high))
    out = check(f, a)
    np.testing.assert_allclose(out.data, reference(a), rtol=1e-12)
    assert isinstance(out.data, np.ndarray) and out.shape == shape


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a**b, np.power),
}

BROADCAST_PAIRS = [
    ((3,), (3,)),
    ((2, 3), (3,)),  # right operand broadcast along axis 0
    ((3,), (2, 3)),  # left operand broadcast
    ((2, 1), (1, 3)),  # both, size-1 axes
    ((4, 1, 3), (2, 1)),
    ((), (2, 3)),  # 0-d
    ((2, 3), ()),
    ((), ()),
    ((1,), ()),
]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_binary_broadcasting_gradients(name, shapes):
    f, reference = BINARY[name]
    a = rand(*shapes[0], seed=2, low=0.5, high=2.0)
    b = rand(*shapes[1], seed=3, low=0.5, high=2.0)
    out = check(f, a, b)
    np.testing.assert_allclose(out.data, reference(a, b), rtol=1e-12)
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_numbers_on_either_side(name):
    f, reference = BINARY[name]
    a = rand(2, 3, seed=4, low=0.5, high=2.0)
    left = check(lambda x: f(x, 1.5), a)
    right = check(lambda x: f(1.5, x), a)
    np.testing.assert_allclose(left.data, reference(a, 1.5))
    np.testing.assert_allclose(right.data, reference(1.5, a))
    # numpy arrays on the left defer to Tensor instead of making an object array
    mixed = f(np.full((2, 3), 1.5), Tensor(a))
    assert isinstance(mixed, Tensor)
    np.testing.assert_allclose(mixed.data, reference(1.5, a))


def test_broadcast_edge_says_which_axes_were_summed():
    x = Tensor(rand(4, 3), requires_grad=True, label="x")
    b = Tensor(rand(3), requires_grad=True, label="b")
    y = (x + b).sum()
    y.backward()
    edge = next(e for e in trace(y).edges if e.parent is b)
    assert isinstance(edge.local, Unbroadcast)
    assert "summed over axes (0,)" in edge.formula
    np.testing.assert_allclose(b.grad, np.full(3, 4.0))
    np.testing.assert_allclose(edge.contribution, b.grad)
    c = Tensor(rand(4, 1), requires_grad=True)
    z = (x * c).sum()
    z.backward()
    edge = next(e for e in trace(z).edges if e.parent is c)
    assert "summed over axes (1,)" in edge.formula
    np.testing.assert_allclose(c.grad, x.data.sum(axis=1, keepdims=True))


def test_identity_passes_through_but_leaf_grads_are_own_arrays():
    a = Tensor(rand(3), requires_grad=True)
    b = Tensor(rand(3), requires_grad=True)
    h = a * 2.0
    y = h + b
    assert y.local_grads[0] is IDENTITY  # into an intermediate: no copy
    assert y.local_grads[1] == 1.0  # into a leaf: the rule's number
    y.backward(np.ones(3))
    assert h.grad is y.grad
    s = a + b
    s.backward(np.ones(3))
    assert s.grad is not a.grad and a.grad is not b.grad
    before = b.grad.copy()
    a.grad *= 10  # an optimiser scaling one gradient in place must not touch another
    np.testing.assert_array_equal(b.grad, before)
    r = Tensor(rand(2, 3), requires_grad=True)
    q = Tensor(rand(2, 3), requires_grad=True)
    (r.reshape(6) + q.reshape(6)).backward(np.ones(6))
    assert not np.shares_memory(r.grad, q.grad)


# --- matmul -----------------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((3, 3), (3, 3)),  # square: a backward pass using W for Wᵀ (or X for Xᵀ) shows only here
    ((2, 3, 3), (3, 3)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (5, 3, 2)),
    ((3,), (4, 3, 2)),
    ((4, 2, 3), (3,)),
    ((1, 2, 3), (4, 3, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_as_numpy_defines_it(shapes):
    a, b = rand(*shapes[0], seed=5), rand(*shapes[1], seed=6)
    out = check(lambda x, w: x @ w, a, b)
    np.testing.assert_allclose(out.data, a @ b)
    assert out.shape == np.matmul(a, b).shape


def test_matmul_edges_show_the_other_operand():
    x = Tensor(rand(4, 3), label="x", requires_grad=True)
    W = Tensor(rand(3, 2), label="W", requires_grad=True)
    y = x @ W
    edges = {e.parent.label: e for e in trace(y).edges}
    assert edges["x"].formula == "·Wᵀ" and edges["W"].formula == "xᵀ·"  # the other operand's name
    assert edges["x"].local.other is W.data and edges["W"].local.other is x.data
    assert "Wᵀ" in edges["x"].local.summary() and "(3, 2)" in repr(edges["x"].local)
    batched = Tensor(rand(5, 4, 3), requires_grad=True) @ W
    edge = next(e for e in trace(batched).edges if e.parent is W)
    assert "summed over batch axes (0,)" in edge.formula


def test_rmatmul_with_array():
    W = Tensor(rand(3, 2), requires_grad=True)
    A = rand(4, 3, seed=14)
    y = A @ W
    assert isinstance(y, Tensor) and y.shape == (4, 2)
    np.testing.assert_allclose(y.data, A @ W.data, rtol=1e-12)
    upstream = rand(4, 2, seed=15)
    y.backward(upstream)
    np.testing.assert_allclose(W.grad, A.T @ upstream, rtol=1e-12)  # ∂(A·W)/∂W: Aᵀ·upstream


# --- reductions ------------------------------------------------------------------------------------

AXES = [None, 0, 1, -1, (0, 2), (2, 0, 1), ()]


@pytest.mark.parametrize("op", ["sum", "mean", "max", "logsumexp"])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(op, axis, keepdims):
    a = rand(2, 3, 4, seed=7)  # distinct values: no ties
    out = check(lambda x: getattr(x, op)(axis=axis, keepdims=keepdims), a)
    if op == "logsumexp":
        ax = tuple(range(3)) if axis is None else axis
        expected = np.log(np.sum(np.exp(a), axis=ax, keepdims=keepdims))
    else:
        expected = getattr(np, op)(a, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert isinstance(out.data, np.ndarray)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "logsumexp"])
def test_reductions_of_0d_and_size_1(op):
    # reducing over one element is the identity for all four (log exp x = x), so data equals input
    out = check(lambda x: getattr(x, op)(), np.array(0.7))
    assert out.shape == () and out.data == pytest.approx(0.7, rel=1e-15)
    out = check(lambda x: getattr(x, op)(axis=0), np.array([0.7]))
    assert out.shape == () and out.data == pytest.approx(0.7, rel=1e-15)
    a = rand(3, 1)
    out = check(lambda x: getattr(x, op)(axis=1, keepdims=True), a)
    assert out.shape == (3, 1)
    np.testing.assert_allclose(out.data, a, rtol=1e-15)


def test_max_splits_ties_evenly():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])
    m = Tensor([[2.0, 2.0, 2.0], [1.0, 5.0, 0.0]], requires_grad=True)
    m.max(axis=1).backward(np.array([3.0, 1.0]))
    np.testing.assert_allclose(m.grad, [[1, 1, 1], [0, 1, 0]])
    edge = trace(m.max()).edges[0]
    assert edge.formula.startswith("one-hot(argmax)")


def test_sum_then_mean_edges():
    x = Tensor(rand(4, 5), requires_grad=True)
    y = x.mean()
    assert trace(y).edges[0].formula.startswith("1/20")  # n, the number of elements averaged
    y.backward()
    np.testing.assert_allclose(x.grad, np.full((4, 5), 1 / 20))


# --- shape ops and indexing ---------------------------------------------------------------------------


def test_reshape_transpose_permute_T():
    a = rand(2, 3, 4, seed=8)
    np.testing.assert_allclose(check(lambda x: x.reshape(4, -1), a).data, a.reshape(4, 6))
    np.testing.assert_allclose(check(lambda x: x.reshape((24,)), a).data, a.reshape(24))
    np.testing.assert_allclose(check(lambda x: x.transpose(), a).data, a.transpose())
    np.testing.assert_allclose(check(lambda x: x.transpose(1, 0, 2), a).data, a.transpose(1, 0, 2))
    np.testing.assert_allclose(check(lambda x: x.permute((2, 0, 1)), a).data, a.transpose(2, 0, 1))
    np.testing.assert_allclose(check(lambda x: x.T, a).data, a.T)
    np.testing.assert_allclose(check(lambda x: x.T, np.array(2.0)).data, 2.0)
    np.testing.assert_allclose(check(lambda x: x.reshape(1, 1), np.array(2.0)).data, [[2.0]])


INDICES = [
    1,
    -1,
    slice(1, None),
    (slice(None), 0),
    (Ellipsis, slice(None, None, 2)),
    (None, 1),
    ([0, 2, 0],),
    (np.array([1, 1, 1]), slice(None)),
    (slice(None), np.array([[0, 1], [1, 0]])),
    (np.array([True, False, True]),),
    (np.array([0, 2]), np.array([1, 1])),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_indexing(index):
    a = rand(3, 2, seed=9)
    out = check(lambda x: x[index], a)
    np.testing.assert_allclose(out.data, a[index])


def test_repeated_indices_accumulate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[[0, 0, 2, 0]]
    y.backward(np.array([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_array_equal(x.grad, [1011.0, 0.0, 100.0])
    assert "repeated indices accumulate" in trace(y).edges[0].formula
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    t[Tensor([1.0, 1.0])].sum().backward()
    np.testing.assert_array_equal(t.grad, [[0, 0], [2, 2]])


def test_concatenate_and_stack():
    a, b, c = rand(2, 3, seed=10), rand(1, 3, seed=11), rand(2, 3, seed=12)
    out = check(lambda x, y: concatenate([x, y], axis=0), a, b)
    np.testing.assert_allclose(out.data, np.concatenate([a, b]))
    out = check(lambda x, y: concatenate((x, y), axis=-1), a, c)
    np.testing.assert_allclose(out.data, np.concatenate([a, c], axis=-1))
    for axis in (0, 1, 2, -1):
        out = check(lambda x, y, axis=axis: stack([x, y], axis=axis), a, c)
        np.testing.assert_allclose(out.data, np.stack([a, c], axis=axis))
    y = concatenate([Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)], axis=0)
    formulas = [e.formula for e in trace(y).edges]
    assert formulas == ["upstream[0:2]", "upstream[2:3]"]


def test_concatenate_with_constants():
    a = Tensor(rand(2), requires_grad=True)
    y = concatenate([a, np.zeros(3)])
    y.backward(np.arange(5.0))
    np.testing.assert_array_equal(a.grad, [0.0, 1.0])


# --- softmax family ------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax(axis):
    a = rand(3, 4, seed=13)
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    s = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(check(lambda x: x.softmax(axis), a).data, s)
    np.testing.assert_allclose(check(lambda x: x.log_softmax(axis), a).data, np.log(s))


def test_softmax_edge_formula():
    x = Tensor(rand(2, 3), requires_grad=True)
    edge = trace(x.softmax()).edges[0]
    assert edge.formula.startswith("softmax(leaf #0)ᵢ(δᵢⱼ − softmax(leaf #0)ⱼ)")


# --- extreme inputs stay finite and right -----------------------------------------------------------------

EXTREME = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])


@pytest.mark.filterwarnings("error")
def test_extreme_inputs_elementwise():
    x = Tensor(EXTREME, requires_grad=True)
    s = x.sigmoid()
    np.testing.assert_allclose(s.data, [0.0, 1 / (1 + math.exp(30)), 0.5, 1 / (1 + math.exp(-30)), 1.0])
    ls = x.log_sigmoid()
    np.testing.assert_allclose(
        ls.data, [-1000.0, -30.0 - math.log1p(math.exp(-30)), -math.log(2), -math.exp(-30), 0.0]
    )
    sp = x.softplus()
    np.testing.assert_allclose(
        sp.data, [0.0, math.log1p(math.exp(-30)), math.log(2), 30 + math.log1p(math.exp(-30)), 1000.0]
    )
    for y in (s, ls, sp):
        x.grad = None
        y.backward(np.ones(5))
        assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    x.grad = None
    ls.backward(np.ones(5))
    np.testing.assert_allclose(x.grad, [1.0, 1 / (1 + math.exp(-30)), 0.5, 1 / (1 + math.exp(30)), 0.0])


@pytest.mark.filterwarnings("error")
def test_extreme_inputs_softmax_family():
    a = np.array([[1000.0, -1000.0, 0.0], [1000.0, 1000.0, -1000.0]])
    x = Tensor(a, requires_grad=True)
    s = x.softmax()
    np.testing.assert_allclose(s.data, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-300)
    ls = x.log_softmax()
    np.testing.assert_allclose(
        ls.data, [[0, -2000, -1000], [-math.log(2), -math.log(2), -2000 - math.log(2)]]
    )
    lse = x.logsumexp(axis=1)
    np.testing.assert_allclose(lse.data, [1000.0, 1000 + math.log(2)])
    for y in (s, ls, lse):
        x.grad = None
        y.backward(np.ones(y.shape))
        assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-300)


def test_all_minus_inf_row_of_logsumexp_is_minus_inf():
    y = Tensor([-np.inf, -np.inf]).logsumexp()
    assert y.data == -np.inf


# --- float32 stays float32 through every op and gradient -------------------------------------------------

F32_OPS = {
    **{name: (spec[0], 1) for name, spec in UNARY.items()},
    **{name: (spec[0], 2) for name, spec in BINARY.items()},
    "add_number": (lambda x: x + 0.1, 1),
    "mul_number_left": (lambda x: 3 * x, 1),
    "div_number": (lambda x: x / 7, 1),
    "matmul": (lambda x, y: x @ y.T, 2),
    "sum": (lambda x: x.sum(axis=0), 1),
    "mean": (lambda x: x.mean(), 1),
    "max": (lambda x: x.max(axis=1), 1),
    "logsumexp": (lambda x: x.logsumexp(axis=0), 1),
    "softmax": (lambda x: x.softmax(), 1),
    "log_softmax": (lambda x: x.log_softmax(0), 1),
    "reshape": (lambda x: x.reshape(-1), 1),
    "T": (lambda x: x.T, 1),
    "getitem": (lambda x: x[[0, 0]], 1),
    "concatenate": (lambda x, y: concatenate([x, y]), 2),
    "stack": (lambda x, y: stack([x, y], axis=1), 2),
}


@pytest.mark.parametrize("name", sorted(F32_OPS))
def test_float32_preserved_in_data_and_grad(name):
    f, arity = F32_OPS[name]
    inputs = [
        Tensor(rand(2, 3, seed=20 + i, low=0.5, high=2).astype(np.float32), requires_grad=True)
        for i in range(arity)
    ]
    out = f(*inputs)
    assert out.dtype == np.float32
    out.sum().backward()
    for t in inputs:
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


def test_mixed_float_widths_promote_and_cast_gradients_back():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert "cast to float32" in next(e for e in trace(y).edges if e.parent is a).formula
    W = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    (b @ W).sum().backward()
    assert W.grad.dtype == np.float32


# --- property tests: broadcasting in both directions agrees with numpy --------------------------------------


@given(data=st.data(), op=st.sampled_from(sorted(BINARY)))
def test_broadcast_gradients_sum_the_expanded_gradient(data, op):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    a = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=st.floats(0.5, 2.0)))
    b = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=st.floats(0.5, 2.0)))
    f = BINARY[op][0]
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = f(ta, tb)
    assert out.shape == shapes.result_shape
    # a non-uniform upstream, so that a wrongly weighted or misaligned sum shows
    upstream = data.draw(hnp.arrays(np.float64, out.shape, elements=st.floats(-2.0, 2.0)))
    out.backward(upstream)
    # The same op on explicitly broadcast copies, whose gradient is then summed by hand.
    ea = Tensor(np.broadcast_to(a, out.shape), requires_grad=True)
    eb = Tensor(np.broadcast_to(b, out.shape), requires_grad=True)
    f(ea, eb).backward(upstream)
    for t, expanded, original in ((ta, ea, a), (tb, eb, b)):  # both directions
        lead = len(out.shape) - original.ndim
        summed = expanded.grad.sum(axis=tuple(range(lead))) if lead else expanded.grad
        summed = summed.sum(axis=tuple(i for i, s in enumerate(original.shape) if s == 1), keepdims=True)
        assert t.grad.shape == original.shape
        np.testing.assert_allclose(t.grad, summed.reshape(original.shape), rtol=1e-10, atol=1e-12)


def test_scalar_and_tensor_engines_agree_elementwise():
    values = [-1.5, -0.2, 0.3, 2.0]
    for name in ("tanh", "sigmoid", "exp", "softplus", "log_sigmoid", "sin"):
        t = Tensor(values, requires_grad=True)
        getattr(t, name)().backward(np.ones(4))
        for i, v in enumerate(values):
            s = Value(v)
            y = getattr(s, name)()
            y.backward()
            assert y.data == pytest.approx(float(getattr(t, name)().data[i]), rel=1e-12)
            assert s.grad == pytest.approx(float(t.grad[i]), rel=1e-12)
