"""The explicit graph on tensors: trace, backward_steps, backward(grad), modes, zeroing."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import (
    AnomalyError,
    GradError,
    Tensor,
    cross_entropy,
    detect_anomaly,
    name_scope,
    no_grad,
    trace,
)
from tinygrad_edu.graph import norm


def _mlp(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((8, 4)).astype(dtype), label="x")
    W1 = Tensor(rng.standard_normal((4, 5)).astype(dtype), requires_grad=True, label="W1")
    b1 = Tensor(np.zeros(5, dtype), requires_grad=True, label="b1")
    W2 = Tensor(rng.standard_normal((5, 3)).astype(dtype), requires_grad=True, label="W2")
    loss = cross_entropy((x @ W1 + b1).tanh() @ W2, rng.integers(0, 3, 8))
    loss.label = "loss"
    return loss, (W1, b1, W2)


def test_trace_nodes_edges_depth():
    loss, (W1, b1, W2) = _mlp()
    g = trace(loss)
    assert g.nodes[-1] is loss and g.depth[loss] == 0
    assert [n.op for n in g.nodes if n.parents] == ["matmul", "add", "tanh", "matmul", "cross_entropy"]
    assert g.depth[W1] == 5 and g.depth[W2] == 2
    assert {n.label for n in g.leaves} == {"x", "W1", "b1", "W2"}
    formulas = {(e.parent.label or e.parent.op, e.child.op): e.formula for e in g.edges}
    assert formulas[("W1", "matmul")] == "xᵀ·"  # the rule's X, named as the graph names it
    assert formulas[("b1", "add")] == "1 summed over axes (0,) back to (5,)"
    add = next(n for n in g.nodes if n.op == "add")
    assert formulas[("add", "tanh")] == f"1 − tanh²(+ #{g.ids[add]})"
    # tanh's local is the elementwise derivative array, evaluated at the forward values
    tanh = g.nodes[[n.op for n in g.nodes].index("tanh")]
    np.testing.assert_allclose(tanh.local_grads[0], 1 - tanh.data**2)


def test_edges_know_flow_and_gain_after_backward():
    loss, _ = _mlp()
    g = trace(loss)
    assert all(e.contribution is None and e.gain is None for e in g.edges)
    loss.backward()
    for e in g.edges:
        if not e.parent.requires_grad:
            assert e.contribution is None
            continue
        assert e.contribution.shape == e.parent.shape
        assert e.gain == pytest.approx(norm(e.contribution) / norm(e.child.grad))
    tanh_edge = next(e for e in g.edges if e.child.op == "tanh")
    assert tanh_edge.gain < 1  # tanh' ≤ 1 shrinks the gradient


def test_backward_steps_is_the_backward_loop():
    loss, params = _mlp()
    loss.backward()
    expected = [p.grad.copy() for p in params]
    loss.zero_grad()
    assert all(p.grad is None for p in params)
    steps = list(trace(loss).backward_steps())
    # CE→matmul, matmul→tanh, matmul→W2, tanh→add, add→matmul, add→b1, matmul→W1 (x needs none)
    assert len(steps) == 7
    assert steps[0].node is loss and steps[0].upstream.shape == ()
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.grad, e)
    for step in steps:
        assert step.contribution.shape == step.parent.shape
        assert step.parent.requires_grad


def test_backward_accumulates_on_leaves_and_resets_intermediates():
    loss, (W1, b1, W2) = _mlp()
    loss.backward()
    first = W1.grad.copy()
    hidden = loss.parents[0]
    first_hidden = hidden.grad.copy()
    loss.backward()
    np.testing.assert_allclose(W1.grad, 2 * first)
    np.testing.assert_allclose(hidden.grad, first_hidden)
    loss.zero_grad()
    assert W1.grad is None and hidden.grad is None and loss.grad is None


def test_backward_grad_rules():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 3.0
    with pytest.raises(GradError, match=r"shape \(2, 3\).*pass backward\(grad\).*of shape \(2, 3\)"):
        y.backward()
    with pytest.raises(GradError, match=r"grad has shape \(3,\) but .* has shape \(2, 3\)"):
        y.backward(np.ones(3))
    with pytest.raises(TypeError, match="expected numbers"):
        y.backward("ones")
    with pytest.raises(TypeError, match="complex"):
        y.backward(np.ones((2, 3), complex))
    assert x.grad is None and y.grad is None  # nothing changed
    y.backward([[1, 2, 3], [4, 5, 6]])  # lists and ints are fine
    np.testing.assert_allclose(x.grad, 3 * np.array([[1, 2, 3], [4, 5, 6]]))
    one = Tensor([[2.0]], requires_grad=True)
    (one * one).backward()  # a size-1 root needs no grad
    np.testing.assert_allclose(one.grad, [[4.0]])
    f32 = Tensor(np.ones(2, np.float32), requires_grad=True)
    (f32 * 2).backward(np.ones(2))  # float64 seed is cast to the root's dtype
    assert f32.grad.dtype == np.float32
    seed = np.ones((2, 3))
    y.backward(seed)
    assert y.grad is not seed  # the caller's array is never aliased


def test_backward_without_requires_grad_is_a_grad_error():
    with pytest.raises(GradError, match="does not require grad"):
        (Tensor([1.0]) * 2).backward()


def test_no_grad_builds_leaves():
    W = Tensor(np.ones((3, 2)), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    with no_grad():
        y = (x @ W).tanh().sum()
    assert y.parents == () and y.local_grads == () and y.requires_grad is False
    assert y.op == "sum"
    z = (x @ W).sum()
    assert z.parents and z.requires_grad


def test_requires_grad_propagates():
    a = Tensor([1.0])
    b = Tensor([2.0], requires_grad=True)
    assert (a * a).requires_grad is False and (a * a).parents == ()
    assert (a * b).requires_grad is True and (a * b).parents == (a, b)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own warning for log(-1)
def test_anomaly_forward_names_op_inputs_and_index():
    x = Tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True, label="x")
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        x.log()
    message = str(info.value)
    assert info.value.op == "log" and info.value.phase == "forward"
    assert "x: shape (2, 2)" in message and "index (1, 1)" in message and "nan" in message
    y = x.log()  # outside the mode: IEEE, silent
    assert np.isnan(y.data[1, 1])
    with detect_anomaly():
        assert y.detach().data is y.data  # detaching computes nothing, so it does not raise


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_backward_names_edge():
    x = Tensor([0.0, 1.0], requires_grad=True, label="x")
    y = x.sqrt()
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        y.backward(np.ones(2))
    assert info.value.phase == "backward" and info.value.op == "sqrt"
    # the edge x → sqrt, and its local 1/(2√x) = [inf, 0.5] at x = [0, 1]
    assert "non-finite gradient on the edge x → sqrt (operand 0 of op 'sqrt')" in str(info.value)
    assert "local [inf, 0.5]" in str(info.value)


def test_name_scope_stamps_tensors():
    x = Tensor(np.ones(2), requires_grad=True)
    with name_scope("layer1"):
        h = x.tanh()
        c = h * 2.0
    assert h.scope == "layer1" and c.scope == "layer1" and x.scope == ""


def test_deep_tensor_chain_is_iterative():
    x = Tensor(np.full(3, 0.5), requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward(np.ones(3))
    np.testing.assert_allclose(x.grad, np.full(3, 1.0001**20_000), rtol=1e-9)


def test_train_a_tensor_mlp_by_hand():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR-like quadrants
    W1 = Tensor(rng.standard_normal((2, 16)) * 0.8, requires_grad=True)
    b1 = Tensor(np.zeros(16), requires_grad=True)
    W2 = Tensor(rng.standard_normal((16, 2)) * 0.3, requires_grad=True)
    b2 = Tensor(np.zeros(2), requires_grad=True)
    params = [W1, b1, W2, b2]
    x = Tensor(X)
    losses = []
    for _ in range(300):
        loss = cross_entropy((x @ W1 + b1).relu() @ W2 + b2, labels)
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad
            p.grad = None
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    with no_grad():
        predicted = ((x @ W1 + b1).relu() @ W2 + b2).data.argmax(axis=1)
    assert (predicted == labels).mean() > 0.9


def test_switching_requires_grad_on_after_use_still_gives_the_operand_shape():
    # x was broadcast against W while it did not require grad; its edge must still sum back.
    x = Tensor(np.array([1.0, 2.0, 3.0]))
    W = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * W).sum()
    x.requires_grad = True
    y.backward()
    assert x.grad.shape == (3,)
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
