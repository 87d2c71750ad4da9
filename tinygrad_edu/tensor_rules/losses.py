"""The losses, each one node whose local derivative is the fused, numerically stable gradient.

A loss is one number, so its local derivative with respect to each input is an array of that
input's shape (∂L/∂p), and ``local * upstream`` is a plain elementwise product.
"""

from __future__ import annotations

import numpy as np

from ..rules import rule
from .reductions import elements_per_output, rows_of
from .softmax import shifted


@rule(
    "mse_loss",
    "MSE",
    "mean((p − t)²)",
    "2(p − t)/n",
    "−2(p − t)/n",
    inputs=("p", "t"),
    counts={"n": elements_per_output},
)
def mse_loss(m, pred, target):
    """Mean squared error over all n elements. ∂L/∂p = 2(p − t)/n, ∂L/∂t = −2(p − t)/n."""
    d = pred - target
    local = d * (2.0 / d.size)
    return np.mean(d * d), (local, -local)


def _xdivy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y with 0 where x == 0 (the limit that goes with 0·ln 0 = 0)."""
    return np.where(x == 0, 0, x / y)


@rule(
    "binary_cross_entropy",
    "BCE",
    "−mean(t·ln p + (1−t)·ln(1−p))",
    "(−t/p + (1−t)/(1−p))/n",
    "(ln(1−p) − ln p)/n",
    inputs=("p", "t"),
    counts={"n": elements_per_output},
)
def binary_cross_entropy(m, prob, target):
    """Binary cross-entropy of probabilities ``prob`` against targets in [0, 1].

    No clipping: ln(1−p) is computed as log1p(−p) (accurate for small p), and a term whose
    weight is 0 is 0 (0·ln 0 = 0, as ``xlogy``). NOTE at the ends: p = 0 with t = 0 (or p = 1
    with t = 1) costs 0 with the finite one-sided gradient ±1/n; p = 0 with t > 0 (or p = 1 with
    t < 1) costs +inf with an infinite gradient — the model said "impossible". PyTorch instead
    clamps ln p at −100.
    For real stability feed logits to :func:`binary_cross_entropy_with_logits`.
    """
    n = prob.size
    log_p = np.log(prob)
    log_q = np.log1p(-prob)
    terms = m.xlogy(target, prob) + np.where(target == 1, 0, (1 - target) * log_q)
    local_p = (_xdivy(1 - target, 1 - prob) - _xdivy(target, prob)) / n
    local_t = (log_q - log_p) / n
    return -np.mean(terms), (local_p, local_t)


@rule(
    "binary_cross_entropy_with_logits",
    "BCE(logits)",
    "mean(softplus(x) − t·x)",
    "(σ(x) − t)/n",
    "−x/n",
    inputs=("x", "t"),
    counts={"n": elements_per_output},
)
def binary_cross_entropy_with_logits(m, logits, target):
    """BCE of σ(x) against t, as mean(softplus(x) − t·x): no σ, no log of 0, finite for ±1000.

    (−t·ln σ(x) − (1−t)·ln(1−σ(x)) = softplus(x) − t·x because ln σ(x) = x − softplus(x).)
    ∂L/∂x = (σ(x) − t)/n, ∂L/∂t = −x/n.
    """
    n = logits.size
    out = np.mean(m.softplus(logits) - target * logits)
    return out, ((m.sigmoid(logits) - target) / n, -logits / n)


@rule(
    "cross_entropy",
    "CE",
    "mean(ln Σⱼ eˣʲ − x[target])",
    "(softmax(x) − onehot(target))/N",
    counts={"N": rows_of},
)
def cross_entropy(m, logits, targets):
    """Softmax cross-entropy of (N, C) logits against N integer class indices (the ``arg``).

    L = mean over rows of logsumexp(xᵢ) − xᵢ[tᵢ], with the max subtracted first so extreme logits
    stay finite. ∂L/∂x = (softmax(x) − onehot(t))/N: the classic "prediction minus truth".
    """
    n = logits.shape[0]
    rows = np.arange(n)
    z = shifted(logits, 1)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    out = np.mean(np.log(s[:, 0]) - z[rows, targets])
    local = e / s
    local[rows, targets] -= 1
    local *= 1.0 / n
    return out, (local,)


#: Ops whose result is a loss (one number) computed in one fused node.
LOSSES = ("mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy")
