"""Tensor-only derivative rules: ``@``, reductions, shape ops, indexing, softmax and the losses.

They join the elementwise rules of :mod:`tinygrad_edu.rules` in the same :data:`RULES` table,
with the same shape: ``compute(m, *inputs[, arg]) -> (output, locals)``, forward next to local
derivative, plus the formulas that pictures print. ``inputs`` are numpy arrays, ``arg`` is the
node's static parameter (the axes, the new shape, the index ...), passed only when the op has
one (``getitem`` always gets its index, which may be None itself: ``t[None]``), so a node of
an op with an argument can be recomputed as
``RULES[node.op].compute(ArrayMath, *[p.data for p in node.parents], node.arg)``.

A local here is either an array (the elementwise or gradient array, when the output is a
single number, e.g. a loss) or one of the small linear maps of :mod:`tinygrad_edu.jacobians`
that the backward loop applies by ``local * upstream``.

Validation (types, shapes, axes) happens in :mod:`tinygrad_edu.tensor` before these run, and
they run with numpy's floating-point warnings off (IEEE results, silently: log 0 = −inf).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .jacobians import (
    Expand,
    LogSoftmaxJacobian,
    MatmulLeft,
    MatmulRight,
    Permute,
    Reshape,
    Scatter,
    Select,
    SoftmaxJacobian,
)
from .rules import rule


class ReduceArg(NamedTuple):
    """The ``arg`` of a reduction node: ``axis`` (sorted tuple of axes, or None for all) and
    ``keepdims``."""

    axis: tuple | None
    keepdims: bool


def _averaged(shape: tuple, out_shape: tuple) -> int:
    """How many input elements each output element averages (the ``n`` of a mean)."""
    return int(np.prod(shape)) // max(1, int(np.prod(out_shape)))


def _rows(shape: tuple, out_shape: tuple) -> int:
    """The number of rows (samples) of an ``(N, C)`` input (the ``N`` of a mean over samples)."""
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


def _reduced(x: np.ndarray, axis: tuple | None) -> tuple:
    return tuple(range(x.ndim)) if axis is None else axis


# --- products ----------------------------------------------------------------------------


@rule("matmul", "@", "X @ W", "·Wᵀ", "Xᵀ·", inputs=("X", "W"))
def matmul(m, x, w):
    """X @ W as numpy's ``matmul`` (1-D operands promoted, batch axes broadcast).

    ∂L/∂X = ∂L/∂Y · Wᵀ and ∂L/∂W = Xᵀ · ∂L/∂Y: each operand's local is the *other* operand,
    as for a scalar product.
    """
    return np.matmul(x, w), (MatmulLeft(w, x.shape), MatmulRight(x, w.shape))


# --- reductions --------------------------------------------------------------------------


@rule("sum", "Σ", "Σ x over axis", "1")
def sum_(m, x, arg):
    """Σ over ``axis``. ∂y/∂xᵢ = 1: the upstream is copied back to every summed element."""
    out = x.sum(axis=arg.axis, keepdims=arg.keepdims)
    return out, (Expand(1.0, x.shape, x.dtype, _reduced(x, arg.axis), arg.keepdims),)


@rule("mean", "mean", "(1/n) Σ x over axis", "1/n", counts={"n": _averaged})
def mean(m, x, arg):
    """Mean over ``axis`` (n elements per output). ∂y/∂xᵢ = 1/n."""
    n = reduce_size(x.shape, arg.axis)  # > 0: tensor.py refuses the mean of nothing
    out = x.mean(axis=arg.axis, keepdims=arg.keepdims)
    return out, (Expand(1.0 / n, x.shape, x.dtype, _reduced(x, arg.axis), arg.keepdims),)


@rule("max", "max", "max x over axis", "one-hot(argmax)")
def max_(m, x, arg):
    """Maximum over ``axis``. ∂y/∂xᵢ = 1 where xᵢ is the maximum, 0 elsewhere.

    NOTE: on a tie (several elements equal to the maximum) the gradient is split evenly among
    them (each gets 1/k), so the gradient still sums to the upstream; PyTorch's ``amax`` does
    the same. (Picking one arg-max instead would be an arbitrary choice.)
    """
    kept = x.max(axis=arg.axis, keepdims=True)
    hit = (x == kept).astype(x.dtype)
    hit /= hit.sum(axis=arg.axis, keepdims=True)
    out = kept if arg.keepdims else np.squeeze(kept, axis=_reduced(x, arg.axis))
    return out, (Expand(hit, x.shape, x.dtype, _reduced(x, arg.axis), arg.keepdims),)


@rule("logsumexp", "LSE", "ln Σ eˣ over axis", "softmax(x)")
def logsumexp(m, x, arg):
    """ln Σ exp(x), computed as c + ln Σ exp(x − c) with c = max x, so exp never overflows.

    ∂y/∂xᵢ = exp(xᵢ − y) = softmax(x)ᵢ.
    """
    c = x.max(axis=arg.axis, keepdims=True)
    c = np.where(np.isfinite(c), c, 0).astype(x.dtype)  # a row of all −inf stays −inf, not nan
    e = np.exp(x - c)
    s = e.sum(axis=arg.axis, keepdims=True)
    out = c + np.log(s)  # all −inf: y = −inf, weights nan (silently: ops run with numpy quiet)
    weights = e / s
    if not arg.keepdims:
        out = np.squeeze(out, axis=_reduced(x, arg.axis))
    return out, (Expand(weights, x.shape, x.dtype, _reduced(x, arg.axis), arg.keepdims),)


# --- shape ops -----------------------------------------------------------------------------


@rule("reshape", "reshape", "reshape(x)", "1 (same elements)")
def reshape(m, x, shape):
    """Same elements in a new shape; the gradient is reshaped back."""
    return x.reshape(shape), (Reshape(x.shape),)


@rule("transpose", "ᵀ", "transpose(x, axes)", "1 (permuted)")
def transpose(m, x, axes):
    """Axes permuted by ``axes``; the gradient is permuted back by the inverse permutation."""
    return x.transpose(axes), (Permute(tuple(int(i) for i in np.argsort(axes))),)


@rule("getitem", "[·]", "x[index]", "1 at index")
def getitem(m, x, index):
    """``x[index]`` (basic slicing or integer/boolean arrays). The gradient is scattered back
    into zeros; with integer arrays repeated positions accumulate."""
    parts = index if isinstance(index, tuple) else (index,)
    advanced = any(isinstance(part, np.ndarray) for part in parts)
    return x[index], (Scatter(index, x.shape, x.dtype, advanced),)


@rule("concatenate", "concat", "[x₁, x₂, …] along axis")
def concatenate(m, *inputs):
    """Join along an existing axis (``inputs`` = the arrays, then the axis). Each input's local
    selects its own slice of the upstream (the formula is the edge's note)."""
    *arrays, axis = inputs
    locals_ = []
    start = 0
    for a in arrays:
        index = (slice(None),) * axis + (slice(start, start + a.shape[axis]),)
        locals_.append(Select(index))
        start += a.shape[axis]
    return np.concatenate(arrays, axis=axis), tuple(locals_)


@rule("stack", "stack", "[x₁, x₂, …] along a new axis")
def stack(m, *inputs):
    """Join along a new axis (``inputs`` = the arrays, then the axis); input i's gradient is
    ``upstream`` at position i of that axis."""
    *arrays, axis = inputs
    locals_ = tuple(Select((slice(None),) * axis + (i,)) for i in range(len(arrays)))
    return np.stack(arrays, axis=axis), locals_


# --- softmax ------------------------------------------------------------------------------


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    """x − max(x) along ``axis`` (0 where the max is not finite): exp of it never overflows.

    An empty ``axis`` has no maximum (``initial=−inf`` stands in for it): the result is empty.
    """
    c = x.max(axis=axis, keepdims=True, initial=-np.inf)
    return x - np.where(np.isfinite(c), c, 0).astype(x.dtype)


@rule("softmax", "softmax", "eˣⁱ / Σⱼ eˣʲ", "softmax(x)ᵢ(δᵢⱼ − softmax(x)ⱼ)")
def softmax(m, x, axis):
    """softmax along ``axis``, computed from x − max x (stable for ±1000).

    NOTE: along an empty axis (shape (2, 0), axis −1) the result is empty too, as in PyTorch:
    softmax keeps the input's shape, so no output element is undefined. (The reductions
    ``mean``/``max``/``logsumexp`` refuse an empty axis instead: each of their outputs would be
    a mean or maximum of nothing.)
    """
    e = np.exp(_shifted(x, axis))
    s = e / e.sum(axis=axis, keepdims=True)
    return s, (SoftmaxJacobian(s, axis),)


@rule("log_softmax", "log softmax", "xᵢ − ln Σⱼ eˣʲ", "δᵢⱼ − softmax(x)ⱼ")
def log_softmax(m, x, axis):
    """log softmax along ``axis``: (x − c) − ln Σ exp(x − c) with c = max x; never log(0).

    NOTE: an empty ``axis`` gives an empty result, as for :func:`softmax`.
    """
    z = _shifted(x, axis)
    e = np.exp(z)
    s = e.sum(axis=axis, keepdims=True)
    out = z - np.log(s)
    return out, (LogSoftmaxJacobian(e / s, axis),)


# --- losses: each one node, with the fused, stable derivative ----------------------------------


@rule(
    "mse_loss",
    "MSE",
    "mean((p − t)²)",
    "2(p − t)/n",
    "−2(p − t)/n",
    inputs=("p", "t"),
    counts={"n": _averaged},
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
    counts={"n": _averaged},
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
    counts={"n": _averaged},
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
    counts={"N": _rows},
)
def cross_entropy(m, logits, targets):
    """Softmax cross-entropy of (N, C) logits against N integer class indices (the ``arg``).

    L = mean over rows of logsumexp(xᵢ) − xᵢ[tᵢ], with the max subtracted first so extreme logits
    stay finite. ∂L/∂x = (softmax(x) − onehot(t))/N: the classic "prediction minus truth".
    """
    n = logits.shape[0]
    rows = np.arange(n)
    z = _shifted(logits, 1)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    out = np.mean(np.log(s[:, 0]) - z[rows, targets])
    local = e / s
    local[rows, targets] -= 1
    local *= 1.0 / n
    return out, (local,)


#: Ops whose result is a loss (one number) computed in one fused node.
LOSSES = ("mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy")


def reduce_size(shape: tuple, axis: tuple | None) -> int:
    """How many elements each output of a reduction over ``axis`` combines."""
    axes = range(len(shape)) if axis is None else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


__all__ = [
    "ReduceArg",
    "LOSSES",
    "reduce_size",
    "matmul",
    "sum_",
    "mean",
    "max_",
    "logsumexp",
    "reshape",
    "transpose",
    "getitem",
    "concatenate",
    "stack",
    "softmax",
    "log_softmax",
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
]
