"""Losses: one fused node each, right values and gradients, finite for extreme inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_tensor import check, rand

from tinygrad_edu import (
    ShapeError,
    Tensor,
    Value,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    trace,
)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_mse_loss_value_gradient_and_single_node():
    p, t = rand(4, 3, seed=1), rand(4, 3, seed=2)
    out = check(lambda a, b: mse_loss(a, b), p, t)
    assert out.shape == () and out.op == "mse_loss"
    np.testing.assert_allclose(out.data, np.mean((p - t) ** 2))
    g = trace(mse_loss(Tensor(p, requires_grad=True, label="p"), Tensor(t, label="t")))
    assert len(g.nodes) == 3 and g.edges[0].formula == "2(p − t)/12"  # n = 12 elements averaged


def test_bce_value_and_gradient():
    p = rand(5, seed=3, low=0.05, high=0.95)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.3])
    out = check(lambda a, b: binary_cross_entropy(a, b), p, t)
    expected = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(out.data, expected)


@pytest.mark.filterwarnings("error")
def test_bce_at_zero_and_one():
    # agreeing ends cost nothing (0·ln 0 = 0) and have the finite gradient (1−t)/(1−p) − t/p ...
    p = Tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = binary_cross_entropy(p, [0.0, 1.0, 1.0])
    assert loss.item() == pytest.approx(math.log(2) / 3)
    loss.backward()
    np.testing.assert_allclose(p.grad, [1 / 3, -1 / 3, -2 / 3])
    # ... disagreeing ends are infinitely wrong, as documented (no clipping)
    q = Tensor([0.0, 0.5], requires_grad=True)
    loss = binary_cross_entropy(q, [1.0, 1.0])
    assert loss.item() == math.inf
    loss.backward()
    assert q.grad[0] == -math.inf and q.grad[1] == pytest.approx(-1.0)


def test_bce_with_logits_value_and_gradient():
    x = rand(2, 3, seed=4, low=-4, high=4)
    t = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.2]])
    out = check(lambda a, b: binary_cross_entropy_with_logits(a, b), x, t)
    p = _sigmoid(x)
    np.testing.assert_allclose(out.data, -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-12)


@pytest.mark.filterwarnings("error")
def test_bce_with_logits_extreme():
    x = Tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    loss = binary_cross_entropy_with_logits(x, [1.0, 0.0, 0.0, 1.0])
    assert loss.item() == pytest.approx((0 + 0 + 1000 + 1000) / 4)
    loss.backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 0.25, -0.25])


def test_cross_entropy_value_and_gradient():
    logits = rand(4, 5, seed=5, low=-3, high=3)
    targets = np.array([0, 4, 2, 2])
    out = check(lambda a: cross_entropy(a, targets), logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(out.data, -logp[np.arange(4), targets].mean())
    x = Tensor(logits, requires_grad=True)
    loss = cross_entropy(x, targets)
    assert loss.parents == (x,) and loss.arg.tolist() == [0, 4, 2, 2]
    assert trace(loss).edges[0].formula == "(softmax(leaf #0) − onehot(target))/4"  # N = 4 rows
    loss.backward()
    onehot = np.eye(5)[targets]
    np.testing.assert_allclose(x.grad, (np.exp(logp) - onehot) / 4)


@pytest.mark.filterwarnings("error")
def test_cross_entropy_extreme_logits():
    x = Tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], requires_grad=True)
    loss = cross_entropy(x, [2, 0])
    assert loss.item() == pytest.approx((1000 + 2000 + math.log(2)) / 2)
    loss.backward()
    np.testing.assert_allclose(x.grad, [[0.5, 0, -0.5], [-0.5, 0.25, 0.25]], atol=1e-300)


@pytest.mark.parametrize(
    "targets", [[0, 1], np.array([0, 1], np.int32), np.array([0.0, 1.0]), Tensor([0, 1])]
)
def test_cross_entropy_target_forms(targets):
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    assert cross_entropy(x, targets).item() == pytest.approx(math.log(3))


@pytest.mark.parametrize(
    "loss, args",
    [
        (mse_loss, (rand(3), rand(3))),
        (binary_cross_entropy, (rand(3, low=0.1, high=0.9), np.array([0.0, 1.0, 1.0]))),
        (binary_cross_entropy_with_logits, (rand(3), np.array([0.0, 1.0, 1.0]))),
        (cross_entropy, (rand(2, 3), [1, 2])),
    ],
)
def test_losses_keep_float32(loss, args):
    pred = Tensor(args[0].astype(np.float32), requires_grad=True)
    out = loss(pred, args[1])
    assert out.dtype == np.float32 and out.shape == ()
    out.backward()
    assert pred.grad.dtype == np.float32


def test_losses_on_single_numbers():
    p = Tensor(0.3, requires_grad=True)
    loss = binary_cross_entropy(p, 1.0)
    loss.backward()
    assert isinstance(p.grad, np.ndarray) and p.grad.shape == ()
    assert float(p.grad) == pytest.approx(-1 / 0.3)


# --- bad input: typed errors, nothing built ------------------------------------------------------------


def test_loss_shape_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"mse_loss.*\(4, 1\).*\(4,\)"):
        mse_loss(Tensor(np.zeros((4, 1))), np.zeros(4))
    with pytest.raises(ShapeError, match="empty"):
        mse_loss(Tensor(np.zeros(0)), np.zeros(0))


def test_bce_rejects_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: prob must lie in \[0, 1\], got 1.5"):
        binary_cross_entropy(Tensor([0.5, 1.5]), [0.0, 1.0])
    with pytest.raises(ValueError, match="got -0.1 at index \\(1,\\)"):
        binary_cross_entropy(Tensor([0.5, -0.1]), [0.0, 1.0])


def test_cross_entropy_bad_targets():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(IndexError, match=r"target 3 at position 1 .* 0 … 2"):
        cross_entropy(x, [0, 3])
    with pytest.raises(IndexError, match="target -1"):
        cross_entropy(x, [-1, 0])
    with pytest.raises(TypeError, match="integer class indices, got 0.5 at position 1"):
        cross_entropy(x, [1.0, 0.5])
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(x, ["a", "b"])
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(x, [True, False])
    with pytest.raises(ShapeError, match="expected 2 targets"):
        cross_entropy(x, [0, 1, 2])
    with pytest.raises(ShapeError, match=r"\(N, C\)"):
        cross_entropy(Tensor(np.zeros(3)), [0])
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        cross_entropy(x, Value(1.0))
    with pytest.raises(TypeError, match="cannot mix Value and Tensor"):
        mse_loss(Value(1.0), Tensor(1.0))
    assert x.grad is None
