"""Differential tests: the scalar engine (``Value``) and the tensor engine (``Tensor``) share their
elementwise rules, so computing the same thing element by element must give the same values and
the same gradients — including where broadcasting makes one element feed several outputs
(their ``Value`` gradients accumulate exactly as ``Tensor`` un-broadcasting sums)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import RULES, Tensor, Value, rules
from tinygrad_edu.testing import (
    EXPRESSION_OPS,
    apply_op,
    arrays,
    broadcastable_shapes,
    expression_dags,
    shapes,
)

SHARED_RULES = sorted(op for op, rule in RULES.items() if rule.compute.__module__ == rules.__name__)
BINARY = ["add", "sub", "mul", "div", "pow"]
UNARY = [op for op in SHARED_RULES if op not in BINARY]
#: Value domain per operand (see tinygrad_edu.testing.DOMAINS).
DOMAINS = {
    "add": ("real", "real"),
    "sub": ("real", "real"),
    "mul": ("real", "real"),
    "div": ("real", "positive"),
    "pow": ("positive", "real"),
    "log": ("positive",),
    "sqrt": ("positive",),
    "pow_const": ("positive",),
    "relu": ("away_from_kinks",),
    "abs": ("away_from_kinks",),
    "leaky_relu": ("away_from_kinks",),
}
ARGS = {"pow_const": [2, 3, -1, 0.5, -1.5, 0], "leaky_relu": [0.01, 0.2]}
SMALL = shapes(max_dims=3, max_side=3)
FLOAT64 = {"rtol": 1e-12, "atol": 1e-14}  # same maths, maybe a different last bit
FLOAT32 = {"rtol": 2e-5, "atol": 1e-6}  # float32 against the float64 scalar engine


def test_every_shared_rule_is_covered():
    assert SHARED_RULES == sorted(EXPRESSION_OPS)
    assert sorted(BINARY + UNARY) == SHARED_RULES


def domains(op: str) -> tuple:
    return DOMAINS.get(op, ("real", "real") if op in BINARY else ("real",))


def scalar_engine(op: str, operands: list[np.ndarray], weights: np.ndarray, arg):
    """``Σ_k w_k · op(operands[k])`` with one ``Value`` per operand element.

    Each operand is broadcast to the output shape by numpy over an object array of Values, so an
    element that feeds several outputs is *one* leaf with several edges. Returns the outputs and
    each operand's gradients, as float64 arrays.
    """
    leaves = []
    for array in operands:
        grid = np.empty(array.shape, dtype=object)
        for index in np.ndindex(array.shape):
            grid[index] = Value(float(array[index]))
        leaves.append(grid)
    out_shape = weights.shape
    spread = [np.broadcast_to(grid, out_shape) for grid in leaves]
    outputs = np.empty(out_shape)
    total = Value(0.0)
    for index in np.ndindex(out_shape):
        y = apply_op(op, [grid[index] for grid in spread], arg)
        outputs[index] = y.data
        total = total + y * float(weights[index])
    total.backward()
    grads = [np.array([leaf.grad for leaf in grid.flat]).reshape(grid.shape) for grid in leaves]
    return outputs, grads


def tensor_engine(op: str, operands: list[np.ndarray], weights: np.ndarray, arg, dtype=np.float64):
    """The same sum with one ``Tensor`` per operand (in ``dtype``); returns outputs, grads, tensors."""
    tensors = [Tensor(array.astype(dtype), requires_grad=True) for array in operands]
    y = apply_op(op, tensors, arg)
    (y * Tensor(weights.astype(dtype))).sum().backward()
    return y, [t.grad for t in tensors], tensors


@st.composite
def elementwise_case(draw, op: str):
    """Operands in the op's domain (broadcasting shapes for binary ops), upstream weights, arg."""
    if op in BINARY:
        shape_list = draw(broadcastable_shapes(max_side=3), label="shapes")
    else:
        shape_list = (draw(SMALL, label="shape"),)
    operands = [
        draw(arrays(shape, domain), label=f"operand {i}")
        for i, (shape, domain) in enumerate(zip(shape_list, domains(op)))
    ]
    out_shape = np.broadcast_shapes(*shape_list)
    weights = draw(arrays(out_shape), label="weights")
    arg = draw(st.sampled_from(ARGS[op]), label="arg") if op in ARGS else None
    return operands, weights, arg


@pytest.mark.parametrize("op", SHARED_RULES)
@given(data=st.data())
def test_values_and_gradients_agree_elementwise_in_float64_and_float32(op, data):
    operands, weights, arg = data.draw(elementwise_case(op))
    values, grads = scalar_engine(op, operands, weights, arg)
    # float64: the same maths, to the last bits
    y, tensor_grads, tensors = tensor_engine(op, operands, weights, arg)
    assert y.op == op and y.shape == weights.shape and y.data.dtype == np.float64
    np.testing.assert_allclose(y.data, values, **FLOAT64)
    for grad, tensor_grad, tensor in zip(grads, tensor_grads, tensors):
        assert tensor_grad.shape == tensor.shape  # un-broadcast back to the operand's shape
        np.testing.assert_allclose(tensor_grad, grad, **FLOAT64)
    # float32 stays float32 through the op and its gradient, and agrees to float32 precision
    y, tensor_grads, _ = tensor_engine(op, operands, weights, arg, dtype=np.float32)
    assert y.data.dtype == np.float32
    np.testing.assert_allclose(y.data, values, **FLOAT32)
    for grad, tensor_grad in zip(grads, tensor_grads):
        assert tensor_grad.dtype == np.float32
        np.testing.assert_allclose(tensor_grad, grad, **FLOAT32)


@given(
    op=st.sampled_from(BINARY),
    reflected=st.booleans(),
    x=arrays(SMALL, "positive"),
    number=st.sampled_from([0.5, 1.5, 2.0]),
)
def test_float32_with_a_python_number_stays_float32(op, reflected, x, number):
    t = Tensor(x.astype(np.float32), requires_grad=True)
    y = apply_op(op, (number, t) if reflected else (t, number))
    y.sum().backward()
    assert y.data.dtype == np.float32 and t.grad.dtype == np.float32
    for index in np.ndindex(x.shape):
        v = Value(float(x[index]))
        z = apply_op(op, (number, v) if reflected else (v, number))
        z.backward()
        assert y.data[index] == pytest.approx(z.data, rel=2e-5, abs=1e-6)
        assert t.grad[index] == pytest.approx(v.grad, rel=2e-5, abs=1e-6)


@pytest.mark.parametrize("shape", [(), (1,)])
@given(dag=expression_dags())
def test_expression_dags_agree_on_both_engines(shape, dag):
    values = dag.new_inputs()
    tensors = [Tensor(np.full(shape, x), requires_grad=True) for x in dag.inputs]
    y_value, y_tensor = dag(*values), dag(*tensors)
    y_value.backward()
    y_tensor.backward()
    assert y_tensor.shape == shape
    assert float(y_tensor.data.reshape(())) == pytest.approx(y_value.data, rel=1e-9, abs=1e-12)
    for value, tensor in zip(values, tensors):
        assert tensor.grad.shape == shape
        assert float(tensor.grad.reshape(())) == pytest.approx(value.grad, rel=1e-9, abs=1e-12)
