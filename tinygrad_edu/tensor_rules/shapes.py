"""Shape ops (reshape, transpose, indexing, concatenate, stack): forward and local derivative.

None of them changes a number, only where it sits, so each local derivative is a permutation
or selection of the upstream: reshaped back (:class:`Reshape`), permuted back
(:class:`Permute`), scattered into zeros (:class:`Scatter`) or sliced out (:class:`Select`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..jacobians import Local, index_text
from ..rules import rule


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


class Reshape(Local):
    """Local derivative of a reshape: the identity on the elements, so the gradient is the
    upstream reshaped back to the input's ``shape``."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple):
        self.shape = shape

    @property
    def note(self) -> str:
        return f"reshaped back to {self.shape}"

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return np.array(upstream.reshape(self.shape))

    def __repr__(self) -> str:
        return f"Reshape(back to {self.shape})"

    def summary(self) -> str:
        return f"reshape → {self.shape}"


class Permute(Local):
    """Local derivative of a transpose: the gradient is the upstream permuted back by the
    inverse permutation ``inverse``."""

    __slots__ = ("inverse",)

    def __init__(self, inverse: tuple):
        self.inverse = inverse

    @property
    def note(self) -> str:
        return f"permuted back by {self.inverse}"

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return upstream.transpose(self.inverse).copy(order="C")

    def __repr__(self) -> str:
        return f"Permute(inverse={self.inverse})"

    def summary(self) -> str:
        return f"permute {self.inverse}"


class Scatter(Local):
    """Local derivative of indexing ``y = x[index]``: 1 at the selected positions.

    The gradient is a zero array of the input's shape with the upstream added at ``index``;
    with integer-array indices a position picked twice receives both gradients
    (``np.add.at``, ``accumulate=True``), because it was used twice.

    Attributes:
        index: the (normalised) index; shape, dtype: the input's.
    """

    __slots__ = ("index", "shape", "dtype", "accumulate")

    def __init__(self, index: Any, shape: tuple, dtype: np.dtype, accumulate: bool):
        self.index = index
        self.shape = shape
        self.dtype = dtype
        self.accumulate = accumulate

    @property
    def note(self) -> str:
        extra = " (repeated indices accumulate)" if self.accumulate else ""
        return f"scattered into zeros{self.shape}{extra}"

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape, self.dtype)
        if self.accumulate:
            np.add.at(out, self.index, upstream)
        else:
            out[self.index] = upstream
        return out

    def __repr__(self) -> str:
        return (
            f"Scatter(index={index_text(self.index)}, into shape {self.shape}, accumulate={self.accumulate})"
        )

    def summary(self) -> str:
        return f"scatter [{index_text(self.index)}]"


class Select(Local):
    """Local derivative of one input of ``concatenate``/``stack``: this input's part of the
    output, so the gradient is ``upstream[index]``."""

    __slots__ = ("index",)

    def __init__(self, index: tuple):
        self.index = index

    @property
    def note(self) -> str:
        return f"upstream[{index_text(self.index)}]"

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return np.array(upstream[self.index])

    def __repr__(self) -> str:
        return f"Select(upstream[{index_text(self.index)}])"

    def summary(self) -> str:
        return f"[{index_text(self.index)}]"
