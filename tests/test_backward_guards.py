"""The backward loop's two guards: a wrongly shaped contribution is refused, naming the edge
(item 13), and under ``detect_anomaly()`` a failing pass leaves every gradient as it was
(item 14)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import AnomalyError, GradError, ShapeError, Tensor, Value, detect_anomaly, trace
from tinygrad_edu.errors import GradShapeError
from tinygrad_edu.testing import gradcheck


def hand_built(parent: Tensor, local, op: str = "mine") -> Tensor:
    """A node made by hand, as a user writing their own op might: y = parent, with ``local``."""
    node = Tensor(parent.data.copy(), label="y")
    node.parents = (parent,)
    node.local_grads = (local,)
    node.requires_grad = True
    node.op = op
    return node


# --- item 13: a contribution must have its parent's shape ---------------------------------------


def test_a_wrongly_shaped_local_is_refused_naming_the_edge():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, label="x")
    y = hand_built(x, np.ones((3, 3)))  # (3, 3) · upstream (3,) broadcasts to (3, 3)
    with pytest.raises(GradShapeError) as info:
        y.backward(np.ones(3))
    error = info.value
    assert isinstance(error, GradError) and isinstance(error, ShapeError)
    assert (error.op, error.index, error.shape, error.expected) == ("mine", 0, (3, 3), (3,))
    message = str(error)
    assert "x → y" in message and "'mine'" in message and "(3, 3)" in message and "(3,)" in message
    assert x.grad is None  # refused before it reached the parent


def test_a_wrong_local_deep_in_a_graph_is_found_at_its_edge():
    x = Tensor(np.arange(4.0), requires_grad=True, label="x")
    w = Tensor(np.ones(4), requires_grad=True, label="w")
    h = hand_built(x * w, np.ones((2, 4)), op="bad")
    loss = h.tanh().sum()
    with pytest.raises(GradShapeError, match="operand 0 of op 'bad'"):
        loss.backward()


def test_gradcheck_reports_the_shape_error_instead_of_analytic_nan():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(GradShapeError):
        gradcheck(lambda t: hand_built(t, np.ones((3, 3))), x)


def test_correct_shapes_pass_including_0d_and_broadcast():
    x = Tensor(2.0, requires_grad=True)
    b = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((x * b).sum() + (b[None] * x).sum()).backward()
    assert x.grad.shape == () and b.grad.shape == (3,)
    assert float(x.grad) == 2 * (1.0 + 2.0 + 3.0) and b.grad.tolist() == [4.0, 4.0, 4.0]


def test_value_graphs_accept_numpy_scalars_as_locals():
    x = Value(3.0)
    y = Value(6.0)
    y.parents, y.local_grads, y.op = (x,), (np.float64(2.0),), "double"
    y.backward()
    assert x.grad == 2.0
    z = Value(1.0)
    z.parents, z.local_grads, z.op = (x,), (np.ones(2),), "array"
    with pytest.raises(GradShapeError):  # a scalar's gradient must be one number
        z.backward()


# --- item 14: under detect_anomaly() a failing pass changes nothing --------------------------------


def test_a_failing_anomaly_pass_restores_every_gradient_tensors():
    a = Tensor([1.0, 2.0], requires_grad=True, label="a")
    w = Tensor([3.0, 4.0], requires_grad=True, label="w")
    b = Tensor([0.0, 1.0], requires_grad=True, label="b")
    # operand 0 (the log branch) is walked last: the a·w edges accumulate into a and w first
    loss = b.log().sum() + (a * w).sum()
    order = trace(loss).nodes
    a.grad = np.array([10.0, 20.0])  # accumulated earlier by the user
    w.grad = None
    for node in order:
        if node.parents:
            node.grad = np.full(node.shape, 7.0)  # an earlier pass's intermediate gradients
    before = {id(n): (None if n.grad is None else n.grad.copy()) for n in order}
    with detect_anomaly(), pytest.raises(AnomalyError, match="op 'log'"):
        loss.backward()
    for node in order:
        old = before[id(node)]
        assert (node.grad is None and old is None) or np.array_equal(node.grad, old), node
    # the same pass without anomaly mode accumulates as usual (IEEE: inf where b = 0)
    loss.backward()
    assert a.grad.tolist() == [13.0, 24.0] and w.grad.tolist() == [1.0, 2.0] and b.grad[0] == np.inf


def test_a_failing_anomaly_pass_restores_every_gradient_values():
    x, a, w = Value(0.0, label="x"), Value(2.0, label="a"), Value(5.0, label="w")
    y = x.log() + a * w
    a.grad, x.grad = 0.5, -1.0
    with detect_anomaly(), pytest.raises(AnomalyError):
        y.backward()
    assert (a.grad, w.grad, x.grad, y.grad) == (0.5, 0.0, -1.0, 0.0)


def test_a_failing_anomaly_backward_steps_restores_too():
    b = Tensor([0.0], requires_grad=True)
    a = Tensor([2.0], requires_grad=True)
    loss = b.log().sum() + (a * a).sum()
    with detect_anomaly():
        steps = trace(loss).backward_steps()
        taken = []
        with pytest.raises(AnomalyError):
            for step in steps:
                taken.append(step)
    assert any(step.parent is a for step in taken)  # a had received its gradient ...
    assert a.grad is None and b.grad is None  # ... and it was taken back


def test_a_shape_error_under_anomaly_mode_restores_too():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, label="x")
    x.grad = np.ones(3)
    loss = hand_built(x, np.ones((3, 3))).sum() + (x * 2.0).sum()
    with detect_anomaly(), pytest.raises(GradShapeError):
        loss.backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
