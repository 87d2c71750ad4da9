"""Losses: each one node with its own fused, numerically stable rule (see ``tensor_rules``).

A loss written out of small ops (``-(t * p.log()).mean()``) works, but it is long to draw, and
``log`` of a probability that underflowed to 0 gives −inf; the fused forms below compute in
log-space (log-sum-exp, softplus), so they stay finite for logits of ±1000, and their local
derivative is the classic short formula (softmax − onehot)/N, (σ(x) − t)/n, 2(p − t)/n.

Every function takes Tensors (targets may also be arrays or lists), returns a 0-d Tensor, and
checks its inputs before building anything: shapes must match exactly (no silent
broadcasting of (N, 1) against (N,)), targets must be in range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import tensor_rules as trules
from .errors import ShapeError
from .scalar import Value
from .tensor import Tensor, apply
from .tensor_checks import to_array


def mse_loss(pred: Any, target: Any) -> Tensor:
    """Mean squared error mean((pred − target)²). Local derivative 2(pred − target)/n."""
    pred, target = _pair("mse_loss", pred, target)
    return apply("mse_loss", trules.mse_loss, (pred, target))


def binary_cross_entropy(prob: Any, target: Any) -> Tensor:
    """−mean(t·ln p + (1 − t)·ln(1 − p)) for probabilities p in [0, 1] and targets t (usually in
    [0, 1]; not checked, so that a target can itself be differentiated).

    No clipping (see :func:`tinygrad_edu.tensor_rules.binary_cross_entropy` for what happens at
    p = 0 or 1: 0 when the target agrees, +inf when it does not). Prefer
    :func:`binary_cross_entropy_with_logits`, which is finite for any logits.

    Raises:
        ValueError: a probability outside [0, 1] (its log would be nan).
    """
    prob, target = _pair("binary_cross_entropy", prob, target)
    _in_unit_interval("binary_cross_entropy", "prob", prob.data)
    return apply("binary_cross_entropy", trules.binary_cross_entropy, (prob, target))


def binary_cross_entropy_with_logits(logits: Any, target: Any) -> Tensor:
    """BCE of σ(logits) against targets (usually in [0, 1]), computed as mean(softplus(x) − t·x).

    Finite for logits of ±1000. Local derivative (σ(x) − t)/n.
    """
    logits, target = _pair("binary_cross_entropy_with_logits", logits, target)
    return apply(
        "binary_cross_entropy_with_logits", trules.binary_cross_entropy_with_logits, (logits, target)
    )


def cross_entropy(logits: Any, targets: Any) -> Tensor:
    """Softmax cross-entropy of ``logits`` (N, C) against ``targets``: N integer class indices.

    mean over rows of logsumexp(xᵢ) − xᵢ[tᵢ], stable for extreme logits. Local derivative
    (softmax(x) − onehot(t))/N. The targets are not a graph input: they are the node's ``arg``.

    Raises:
        ShapeError: logits not 2-D, no rows or classes, or not N targets.
        TypeError: targets that are not whole numbers.
        IndexError: a target outside 0 … C−1.
    """
    logits = _operand("cross_entropy", "logits", logits, None)
    if logits.ndim != 2:
        raise ShapeError(
            f"cross_entropy: logits must have shape (N, C) (rows × classes), got {logits.shape}; "
            "for one example use logits.reshape(1, -1)"
        )
    n, c = logits.shape
    if n == 0 or c == 0:
        raise ShapeError(f"cross_entropy: logits of shape {logits.shape} have no rows or no classes")
    return apply("cross_entropy", trules.cross_entropy, (logits,), _class_indices(targets, n, c))


# --- input checks --------------------------------------------------------------------------------


def _operand(op: str, name: str, x: Any, dtype: np.dtype | None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Value):
        raise TypeError(f"{op}: cannot mix Value and Tensor: {name} is a Value")
    array = to_array(x, f"{op}: {name}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)  # a float32 prediction keeps its float32 loss
    return Tensor(array)


def _pair(op: str, pred: Any, target: Any) -> tuple[Tensor, Tensor]:
    pred = _operand(op, "input", pred, None)
    target = _operand(op, "target", target, pred.dtype)
    if pred.shape != target.shape:
        raise ShapeError(
            f"{op}: input has shape {pred.shape} but target has shape {target.shape}; they must be "
            "equal (broadcasting would silently compare the wrong pairs)"
        )
    if pred.size == 0:
        raise ShapeError(f"{op}: empty input of shape {pred.shape}: the mean of nothing is undefined")
    return pred, target


def _in_unit_interval(op: str, name: str, data: np.ndarray) -> None:
    bad = (data < 0) | (data > 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{op}: {name} must lie in [0, 1], got {data[where]} at index {where}")


def _whole_python_numbers(array: np.ndarray) -> np.ndarray:
    """An object array of Python ints (e.g. 2**70, beyond int64) stays exact for the range check;
    anything else in it is refused."""
    flat = array.reshape(-1)
    for position, item in enumerate(flat):
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            raise TypeError(
                f"cross_entropy: targets must be integer class indices, "
                f"got {item!r:.40} at position {position}"
            )
    return array


def _class_indices(targets: Any, n: int, c: int) -> np.ndarray:
    if isinstance(targets, Value):
        raise TypeError("cross_entropy: cannot mix Value and Tensor: targets is a Value")
    if isinstance(targets, Tensor):
        targets = targets.data
    if isinstance(targets, (str, bytes)) or targets is None:
        raise TypeError(f"cross_entropy: targets must be integer class indices, got {targets!r}")
    try:
        array = np.asarray(targets)
    except ValueError as error:
        raise TypeError(f"cross_entropy: targets must be a flat list of class indices: {error}") from None
    if array.dtype.kind == "O":  # Python ints too large for int64, or mixed objects
        array = _whole_python_numbers(array)
    kind = array.dtype.kind
    if kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            where = int(np.argmin(whole.reshape(-1)))
            raise TypeError(
                f"cross_entropy: targets must be integer class indices, got {array.reshape(-1)[where]} "
                f"at position {where}"
            )
    elif kind not in "iuO":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {array.dtype}")
    if array.shape != (n,):
        raise ShapeError(
            f"cross_entropy: expected {n} targets (one per row of logits), got shape {array.shape}"
        )
    # The range is checked in the targets' own dtype, before the cast to a platform index:
    # a uint64 2**63 + 5 or a float 1e20 would wrap to a meaningless (negative) index.
    bad = (array < 0) | (array >= c)
    if bad.any():
        where = int(np.argmax(bad))
        raise IndexError(
            f"cross_entropy: target {array[where]} at position {where} is not a class index 0 … {c - 1} "
            f"(logits have {c} classes)"
        )
    array = array.astype(np.intp)
    return array
