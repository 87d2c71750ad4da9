"""Every op on ±inf, nan, huge and tiny inputs, forward and backward, with RuntimeWarnings as errors.

The scalar engine is silent on these (IEEE: overflow is inf, invalid is nan); tensor ops must
be too, or ``python -W error`` turns numpy's warnings into exceptions in the middle of a graph.
The test is parametrised over the rule table itself, so an op added to :data:`RULES` without
an entry in :data:`CALLS` fails here until someone says how to call it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from tinygrad_edu import (
    RULES,
    Tensor,
    Value,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    concatenate,
    cross_entropy,
    mse_loss,
    optim,
    stack,
    trace,
)
from tinygrad_edu.tensor import SILENT
from tinygrad_edu.testing import apply_op

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

EXTREMES = [np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0, 1e3, -1e3, -2.0, 0.5, 3.0]
N = len(EXTREMES)


def grid(dtype) -> tuple[np.ndarray, np.ndarray]:
    """Every extreme paired with every extreme: a (N, N) left and right operand."""
    with np.errstate(over="ignore"):
        values = np.array(EXTREMES).astype(dtype)  # 1e308 is inf in float32; 5e-324 is 0
    return np.repeat(values[:, None], N, axis=1), np.repeat(values[None, :], N, axis=0)


def elementwise(op):
    def call(a, b):
        if op in ("add", "sub", "mul", "div", "pow"):
            return apply_op(op, (a, b))
        if op == "pow_const":
            return [a**p for p in (0, 0.5, 2, -1, -0.5, 3.5, 1e308, -1e308)]
        if op == "leaky_relu":
            return [a.leaky_relu(s) for s in (0.01, 1e300)]
        return apply_op(op, (a,))

    return call


#: How to call each op of RULES on two (N, N) tensors of extremes (a result or a list of them).
CALLS = {op: elementwise(op) for op, rule in RULES.items() if rule.compute.__module__ == "tinygrad_edu.rules"}
CALLS.update(
    {
        "matmul": lambda a, b: [a @ b, a[0] @ b, a @ b[:, 0]],
        "sum": lambda a, b: [a.sum(), a.sum(axis=0), a.sum(axis=1, keepdims=True)],
        "mean": lambda a, b: [a.mean(), a.mean(axis=0)],
        "max": lambda a, b: [a.max(), a.max(axis=1)],
        "logsumexp": lambda a, b: [a.logsumexp(), a.logsumexp(axis=1), b.logsumexp(axis=0)],
        "reshape": lambda a, b: a.reshape(-1) * b.reshape(-1),
        "transpose": lambda a, b: a.T * b,
        "getitem": lambda a, b: a[1:, None] * b[None, 1:],
        "concatenate": lambda a, b: concatenate([a, b], axis=1) * 3.0,
        "stack": lambda a, b: stack([a, b]) * 3.0,
        "softmax": lambda a, b: [a.softmax(axis=1), b.softmax(axis=0), (a * b).softmax()],
        "log_softmax": lambda a, b: [a.log_softmax(axis=1), (a * b).log_softmax(axis=0)],
        "mse_loss": lambda a, b: mse_loss(a, b),
        "binary_cross_entropy": lambda a, b: [
            binary_cross_entropy(p, t)
            for p, t in [
                (a.sigmoid(), b.sigmoid()),
                (Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True), Tensor([0.0, 1.0, 1.0, 0.0])),  # log 0
            ]
        ],
        "binary_cross_entropy_with_logits": lambda a, b: binary_cross_entropy_with_logits(a, b.sigmoid()),
        "cross_entropy": lambda a, b: [cross_entropy(a, np.arange(N)), cross_entropy(a * b, [0] * N)],
    }
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", list(RULES))
def test_every_op_is_silent_on_extreme_inputs_forward_and_backward(op, dtype):
    assert op in CALLS, f"new op {op!r}: add to CALLS how to call it on extreme inputs"
    left, right = grid(dtype)
    a = Tensor(left, requires_grad=True, label="a")
    b = Tensor(right, requires_grad=True, label="b")
    results = CALLS[op](a, b)
    results = results if isinstance(results, list) else [results]
    assert any(r.op == op for r in results) or any(n.op == op for r in results for n in trace(r).nodes)
    for result in results:
        for seed in (np.ones(result.shape, dtype), np.full(result.shape, np.inf, dtype)):
            result.backward(seed)  # accumulates: inf + (−inf) = nan is part of the test
        steps = list(trace(result).backward_steps(np.full(result.shape, np.finfo(dtype).max, dtype)))
        assert steps or not result.parents
    assert a.grad is None or a.grad.shape == a.shape


def test_the_silence_is_local_numpy_warns_again_after_an_op():
    x = Tensor([1000.0])
    x.exp()
    with pytest.raises(RuntimeWarning):
        np.exp(np.array([1000.0]))  # the user's own numpy settings are untouched
    steps = trace((Tensor([1e308], requires_grad=True) * 10.0).sum()).backward_steps()
    next(steps)
    with pytest.raises(RuntimeWarning):  # between two steps, the caller's settings apply
        np.exp(np.array([1000.0]))
    list(steps)


def test_the_users_numpy_error_state_is_kept():
    with np.errstate(over="raise"):
        y = Tensor([1000.0]).exp()  # quiet inside the op ...
        assert y.data.tolist() == [np.inf]
        with pytest.raises(FloatingPointError):  # ... the user's "raise" outside it
            np.exp(np.array([1000.0]))
    assert np.geterr()["over"] == "warn"


def test_values_stay_ieee_while_silent():
    # the results are numpy's own: silence changes nothing but the warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.exp(np.array([1000.0, -np.inf, np.nan]))
    assert np.array_equal(Tensor([1000.0, -np.inf, np.nan]).exp().data, expected, equal_nan=True)
    assert np.isnan((Tensor([np.inf]) - np.inf).data[0]) and np.isnan((Value(np.inf) - np.inf).data)


def test_optimisers_and_clipping_are_silent_on_non_finite_gradients():
    p = Tensor([1.0, 2.0], requires_grad=True)
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9), optim.Adam([p])):
        p.grad = np.array([np.inf, np.nan])
        opt.step()
        p.grad = np.array([1e308, -1e308])
        assert optim.clip_grad_norm_([p], 1.0) == pytest.approx(1e308 * np.sqrt(2), rel=1e-12)
        opt.step()


def test_reading_an_extreme_graph_is_silent_edges_gains_and_pictures():
    viz = pytest.importorskip("viz")
    x = Tensor([1e200, -np.inf, np.nan, 0.0], requires_grad=True, label="x")
    y = (x * 1e200).exp().sum() + (x * x).sum()
    y.backward()
    g = trace(y)
    gains = [e.gain for e in g.edges]
    assert len(gains) == len(g.edges)
    assert "digraph" in viz.draw(y).source


def test_norm_does_not_overflow_or_underflow():
    from tinygrad_edu.graph import norm

    assert norm(np.array([1e200, 1e200])) == pytest.approx(math.hypot(1e200, 1e200), rel=1e-15)
    assert norm(np.array([1e-200, 0.0])) == 1e-200  # squaring first would give 0
    assert norm(np.array([3.0, 4.0], np.float32)) == 5.0
    assert norm(np.array([np.inf, 1.0])) == np.inf and np.isnan(norm(np.array([np.nan, 1.0])))
    assert norm(np.zeros((0, 3))) == 0.0 and norm(-2.5) == 2.5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", SILENT)
def test_ops_that_skip_silencing_numpy_cannot_raise_a_floating_point_error(op, dtype):
    # tensor.SILENT ops do not switch numpy's warnings off (it costs ~0.2 µs per op): even with
    # every floating-point error but underflow raised, their forward on extremes must not raise
    left, right = grid(dtype)
    a, b = Tensor(left, requires_grad=True), Tensor(right)
    with np.errstate(all="raise", under="ignore"):
        results = {
            "neg": lambda: -a,
            "abs": lambda: abs(a),
            "relu": lambda: a.relu(),
            "tanh": lambda: a.tanh(),
            "reshape": lambda: a.reshape(-1),
            "transpose": lambda: a.T,
            "getitem": lambda: a[1:, None],
            "concatenate": lambda: concatenate([a, b], axis=1),
            "stack": lambda: stack([a, b]),
        }[op]()
    assert results.op == op


def test_reading_contributions_that_overflow_is_silent():
    # backward computes 1e200 × 1e200 = inf quietly; reading the edge again (gain, layers,
    # pictures) multiplies again and must be as quiet
    a = Tensor([1e-300], requires_grad=True)
    loss = ((a * 1e200) * 1e200).sum()
    loss.backward()
    g = trace(loss)
    assert a.grad[0] == np.inf
    assert any(e.contribution is not None and np.isinf(e.contribution).all() for e in g.edges)
    assert [e.gain for e in g.edges]
    assert g.layers() is not None
