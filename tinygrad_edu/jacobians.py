"""Local derivatives of tensor ops that are not a plain number or an elementwise array.

For an elementwise op the local derivative ∂y/∂x is diagonal, so the graph stores it as an
array of the same shape and the backward loop's ``local * upstream`` is the chain rule. For
``@``, reductions, reshapes, indexing and softmax the Jacobian is a linear map that is too big
to store (a 128×256 matmul has a 32768×65536 Jacobian) but cheap to *apply*. Each class here
stores the few numbers that define that map (the other operand, the reduced axes, the softmax
output ...) and applies it in ``__mul__(upstream)``: the vector-Jacobian product. So the one
loop in :mod:`tinygrad_edu.graph` stays ``contribution = local * upstream`` for every edge.

Every class has:

* ``__mul__(upstream)`` (and ``__rmul__``) → the gradient for the parent, a *fresh* ndarray of
  the parent's shape (except :class:`Identity`, which passes ``upstream`` on untouched and is
  only used towards intermediate nodes, so a leaf's ``.grad`` never shares memory);
* ``note`` → what the edge should add to its formula ("summed over axes (0,)"), "" if nothing;
* ``__repr__`` with numbers and shapes (what a debugger shows), and ``summary()``, a short
  string for pictures ("Wᵀ, ‖W‖=3.2").

There are no closures: a debugger shows the stored arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import fmt as _num
from .numerics import norm


def broadcast_axes(shape: tuple, target: tuple) -> tuple:
    """The axes of ``target`` along which an operand of ``shape`` was broadcast.

    Leading axes that ``shape`` lacks, plus axes where ``shape`` has size 1 and ``target``
    does not. Summing a ``target``-shaped gradient over them gives back ``shape``.
    """
    lead = len(target) - len(shape)
    axes = list(range(lead))
    for i, size in enumerate(shape):
        if size == 1 and target[lead + i] != 1:
            axes.append(lead + i)
    return tuple(axes)


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes along which ``shape`` was broadcast to ``g.shape`` (un-broadcast)."""
    if g.shape == shape:
        return g
    axes = broadcast_axes(shape, g.shape)
    return np.asarray(g.sum(axis=axes)).reshape(shape)


class Local:
    """Base of the local-derivative classes: a linear map applied by ``local * upstream``."""

    __slots__ = ()
    #: ``ndarray * local`` must not become an object array: numpy defers to ``__rmul__``.
    __array_ufunc__ = None

    @property
    def note(self) -> str:
        return ""

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __rmul__(self, upstream: np.ndarray) -> np.ndarray:
        return self.__mul__(upstream)

    def summary(self) -> str:
        return type(self).__name__


class Identity(Local):
    """∂y/∂x = 1 with y and x of the same shape: the upstream gradient passes through as is.

    Used instead of the number 1.0 (which would copy ``upstream`` for nothing) on edges into
    *intermediate* nodes; a leaf keeps the rule's 1.0 so that its ``.grad`` is its own array.
    """

    __slots__ = ()

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return upstream

    def __float__(self) -> float:
        return 1.0

    def __repr__(self) -> str:
        return "Identity(1)"

    def summary(self) -> str:
        return "1"


#: The one instance of :class:`Identity`.
IDENTITY = Identity()


class Unbroadcast(Local):
    """An elementwise local whose operand was broadcast: multiply, then sum back to its shape.

    If y = f(a, b) broadcasts a of shape (3,) to y of shape (4, 3), every a[j] was used in 4
    places, so ∂L/∂a[j] = Σᵢ local[i, j]·upstream[i, j]: the product summed over axis 0. This
    is where learners get lost, so :attr:`note` says which axes were summed.

    Also used for 0-d results (no axis to sum), because numpy returns a bare scalar for a
    0-d product and a gradient must be an ndarray.

    Attributes:
        local: the elementwise derivative (array, number, or :data:`IDENTITY`).
        shape: the operand's shape; out_shape: the result's shape.
    """

    __slots__ = ("local", "shape", "out_shape")

    def __init__(self, local: Any, shape: tuple, out_shape: tuple):
        self.local = local
        self.shape = shape
        self.out_shape = out_shape

    @property
    def axes(self) -> tuple:
        """The summed axes (in the result's coordinates)."""
        return broadcast_axes(self.shape, self.out_shape)

    @property
    def note(self) -> str:
        axes = self.axes
        return f"summed over axes {axes} back to {self.shape}" if axes else ""

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        g = self.local * upstream
        axes = broadcast_axes(self.shape, self.out_shape)
        if axes:
            g = g.sum(axis=axes)
        return np.asarray(g).reshape(self.shape)

    def __repr__(self) -> str:
        return f"Unbroadcast(local={_summary(self.local)}, {self.out_shape} → {self.shape}, axes={self.axes})"

    def summary(self) -> str:
        axes = self.axes
        return f"{_summary(self.local)}, Σ axes {axes}" if axes else _summary(self.local)


class Cast(Local):
    """The operand had a narrower dtype than the result (float32 ∘ float64 → float64): the
    gradient is computed in the result's dtype and cast back, so ``grad.dtype == data.dtype``."""

    __slots__ = ("local", "dtype")

    def __init__(self, local: Any, dtype: np.dtype):
        self.local = local
        self.dtype = dtype

    @property
    def note(self) -> str:
        inner = getattr(self.local, "note", "")
        text = f"cast to {self.dtype}"
        return f"{inner}, {text}" if inner else text

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return np.asarray(self.local * upstream).astype(self.dtype)

    def __repr__(self) -> str:
        return f"Cast(local={_summary(self.local)}, to {self.dtype})"

    def summary(self) -> str:
        return f"{_summary(self.local)} → {self.dtype}"


# --- matmul -----------------------------------------------------------------------------


def _batch(shape: tuple) -> tuple:
    return shape[:-2] if len(shape) >= 2 else ()


def _batch_note(shape: tuple, other: tuple) -> str:
    """Which batch axes of the product an operand of ``shape`` was broadcast along (a 1-D
    operand has no batch axes: it was used by every matrix of the batch)."""
    axes = broadcast_axes(_batch(shape), np.broadcast_shapes(_batch(shape), _batch(other)))
    return f"summed over batch axes {axes}" if axes else ""


class _MatmulOperand(Local):
    """What the two matmul locals share: the other operand, this operand's shape, and the text.

    Attributes:
        other: the other operand (the stored array, not a copy).
        shape: this operand's shape.
    """

    __slots__ = ("other", "shape")
    #: the other operand's name in formulas ("W" or "X"), and how the gradient applies it
    other_name = ""
    applied = ""

    def __init__(self, other: np.ndarray, shape: tuple):
        self.other = other
        self.shape = shape

    @property
    def note(self) -> str:
        return _batch_note(self.shape, self.other.shape)

    def __repr__(self) -> str:
        name, size = self.other_name, norm(self.other)
        return f"{type(self).__name__}({self.applied}, {name}: shape {self.other.shape}, ‖{name}‖={size:.3g})"

    def summary(self) -> str:
        return f"{self.other_name}ᵀ, ‖{self.other_name}‖={norm(self.other):.3g}"


class MatmulLeft(_MatmulOperand):
    """Local derivative of Y = X @ W with respect to X: the other operand W.

    ∂L/∂X = ∂L/∂Y · Wᵀ (for 1-D and batched operands as numpy's ``matmul`` promotes them,
    summed over batch axes along which X was broadcast).

    Attributes:
        other: W, the right operand (the stored array, not a copy).
        shape: X's shape.
    """

    __slots__ = ()
    other_name = "W"
    applied = "·Wᵀ"

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        w = self.other
        if w.ndim == 2 and len(self.shape) == 2:  # the common case: dense layer
            return upstream @ w.T
        if w.ndim == 1:  # Y = X @ w drops X's last axis: ∂L/∂X[..., k] = upstream[...]·w[k]
            return upstream[..., None] * w
        if len(self.shape) == 1:  # X promoted to a row (1, k), the row removed again after
            g = (upstream[..., None, :] @ np.swapaxes(w, -1, -2))[..., 0, :]
        else:
            g = upstream @ np.swapaxes(w, -1, -2)
        return sum_to_shape(g, self.shape)


class MatmulRight(_MatmulOperand):
    """Local derivative of Y = X @ W with respect to W: the other operand X.

    ∂L/∂W = Xᵀ · ∂L/∂Y (summed over the batch: every row of X used W once).

    Attributes:
        other: X, the left operand.
        shape: W's shape.
    """

    __slots__ = ()
    other_name = "X"
    applied = "Xᵀ·"

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        x = self.other
        if x.ndim == 2 and len(self.shape) == 2:
            return x.T @ upstream
        if x.ndim == 1:  # Y = x @ W: ∂L/∂W[..., k, m] = x[k]·upstream[..., m]
            if len(self.shape) == 1:
                return np.asarray(upstream * x)
            return sum_to_shape(x[:, None] * upstream[..., None, :], self.shape)
        if len(self.shape) == 1:  # W promoted to a column (k, 1)
            g = (np.swapaxes(x, -1, -2) @ upstream[..., None])[..., 0]
        else:
            g = np.swapaxes(x, -1, -2) @ upstream
        return sum_to_shape(g, self.shape)


# --- reductions ------------------------------------------------------------------------


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
        return f"Expand(scale={_num(self.scale)}, axes={self.axes}, to shape {self.shape})"

    def summary(self) -> str:
        return f"{_num(self.scale)} over axes {self.axes}"


# --- shape ops ---------------------------------------------------------------------------


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


# --- softmax -----------------------------------------------------------------------------


class _AlongAxis(Local):
    """What the softmax locals share: the softmax output they need and the axis it runs along."""

    __slots__ = ("softmax", "axis")

    def __init__(self, softmax: np.ndarray, axis: int):
        self.softmax = softmax
        self.axis = axis

    @property
    def note(self) -> str:
        return f"along axis {self.axis}"


class SoftmaxJacobian(_AlongAxis):
    """Local derivative of s = softmax(x) along ``axis``: ∂sᵢ/∂xⱼ = sᵢ(δᵢⱼ − sⱼ).

    Applied without building the matrix: ∂L/∂x = s ⊙ (g − Σⱼ gⱼsⱼ).

    Attributes:
        softmax: the forward output s; axis: the normalised axis.
    """

    __slots__ = ()

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        s = self.softmax
        sg = s * upstream
        sg -= s * sg.sum(axis=self.axis, keepdims=True)
        return sg

    def __repr__(self) -> str:
        return f"SoftmaxJacobian(diag(s) − s·sᵀ, s: shape {self.softmax.shape}, axis={self.axis})"

    def summary(self) -> str:
        return f"diag(s) − s·sᵀ, axis {self.axis}"


class LogSoftmaxJacobian(_AlongAxis):
    """Local derivative of log_softmax(x) along ``axis``: ∂yᵢ/∂xⱼ = δᵢⱼ − softmax(x)ⱼ.

    Applied as ∂L/∂x = g − softmax(x) · Σⱼ gⱼ.

    Attributes:
        softmax: softmax(x) (exp of the forward output); axis: the normalised axis.
    """

    __slots__ = ()

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return upstream - self.softmax * upstream.sum(axis=self.axis, keepdims=True)

    def __repr__(self) -> str:
        return f"LogSoftmaxJacobian(I − 1·sᵀ, s: shape {self.softmax.shape}, axis={self.axis})"

    def summary(self) -> str:
        return f"I − 1·softmaxᵀ, axis {self.axis}"


# --- text helpers ---------------------------------------------------------------------------


def _summary(local: Any) -> str:
    if isinstance(local, Local):
        return local.summary()
    return _num(local)


def index_text(index: Any) -> str:
    """An index as one writes it between brackets: ``:, 2:5``."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for part in parts:
        if isinstance(part, slice):
            start = "" if part.start is None else part.start
            stop = "" if part.stop is None else part.stop
            step = "" if part.step is None else f":{part.step}"
            out.append(f"{start}:{stop}{step}")
        elif part is Ellipsis:
            out.append("...")
        elif part is None:
            out.append("None")
        elif isinstance(part, np.ndarray):
            out.append(
                np.array2string(part, threshold=6, separator=",") if part.size <= 6 else f"int{part.shape}"
            )
        else:
            out.append(str(part))
    return ", ".join(out)
