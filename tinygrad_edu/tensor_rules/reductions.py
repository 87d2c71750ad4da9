"""Reductions (sum, mean, max, logsumexp): forward, and the local derivative :class:`Expand`.

Every input element feeds one output element with a weight ∂y/∂xᵢ (1 for a sum, 1/n for a
mean, the arg-max mask for max, softmax(x) for logsumexp); backward spreads the upstream back
over the reduced axes and multiplies by that weight.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..formatting import short_value
from ..jacobians import Local
from ..rules import rule


class ReduceArg(NamedTuple):
    """The ``arg`` of a reduction node: ``axis`` (sorted tuple of axes, or None for all) and
    ``keepdims``."""

    axis: tuple | None
    keepdims: bool


def elements_per_output(shape: tuple, out_shape: tuple) -> int:
    """How many input elements each output element averages (the ``n`` of a mean)."""
    return int(np.prod(shape)) // max(1, int(np.prod(out_shape)))


def rows_of(shape: tuple, out_shape: tuple) -> int:
    """The number of rows (samples) of an ``(N, C)`` input (the ``N`` of a mean over samples)."""
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


def reduced_axes(x: np.ndarray, axis: tuple | None) -> tuple:
    return tuple(range(x.ndim)) if axis is None else axis


def reduce_size(shape: tuple, axis: tuple | None) -> int:
    """How many elements each output of a reduction over ``axis`` combines."""
    axes = range(len(shape)) if axis is None else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@rule("sum", "Σ", "Σ x over axis", "1")
def sum_(m, x, arg):
    """Σ over ``axis``. ∂y/∂xᵢ = 1: the upstream is copied back to every summed element."""
    out = x.sum(axis=arg.axis, keepdims=arg.keepdims)
    return out, (Expand(1.0, x.shape, x.dtype, reduced_axes(x, arg.axis), arg.keepdims),)


@rule("mean", "mean", "(1/n) Σ x over axis", "1/n", counts={"n": elements_per_output})
def mean(m, x, arg):
    """Mean over ``axis`` (n elements per output). ∂y/∂xᵢ = 1/n."""
    n = reduce_size(x.shape, arg.axis)  # > 0: tensor.py refuses the mean of nothing
    out = x.mean(axis=arg.axis, keepdims=arg.keepdims)
    return out, (Expand(1.0 / n, x.shape, x.dtype, reduced_axes(x, arg.axis), arg.keepdims),)


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
    out = kept if arg.keepdims else np.squeeze(kept, axis=reduced_axes(x, arg.axis))
    return out, (Expand(hit, x.shape, x.dtype, reduced_axes(x, arg.axis), arg.keepdims),)


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
        out = np.squeeze(out, axis=reduced_axes(x, arg.axis))
    return out, (Expand(weights, x.shape, x.dtype, reduced_axes(x, arg.axis), arg.keepdims),)


class Expand(Local):
    """Local derivative of a reduction (sum, mean, max, logsumexp) over ``axes``.

    Every input element feeds one output element, with weight ``scale`` (1 for sum, 1/n for
    mean, the one-hot arg-max mask for max, softmax(x) for logsumexp). So the gradient is the
    upstream spread back over the reduced axes, times the weight.

    Attributes:
        scale: a number, or an array of the input's shape.
        shape: the input's shape; dtype: its dtype.
        axes: the reduced axes (sorted, non-negative); keepdims: whether they were kept.
    """

    __slots__ = ("scale", "shape", "dtype", "axes", "keepdims")

    def __init__(self, scale: Any, shape: tuple, dtype: np.dtype, axes: tuple, keepdims: bool):
        self.scale = scale
        self.shape = shape
        self.dtype = dtype
        self.axes = axes
        self.keepdims = keepdims

    @property
    def note(self) -> str:
        return f"spread back over axes {self.axes}" if self.axes else ""

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        g = upstream if self.keepdims else np.expand_dims(upstream, self.axes)
        out = np.empty(self.shape, self.dtype)
        np.multiply(g, self.scale, out=out)
        return out

    def __repr__(self) -> str:
        return f"Expand(scale={short_value(self.scale)}, axes={self.axes}, to shape {self.shape})"

    def summary(self) -> str:
        return f"{short_value(self.scale)} over axes {self.axes}"
