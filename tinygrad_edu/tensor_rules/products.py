"""The product ``X @ W``: its forward and its two local derivatives, the linear maps ·Wᵀ and Xᵀ·.

The Jacobian of a 128×256 by 256×64 matmul with respect to X is a 8192×32768 matrix; nobody
stores it. What backward needs is the vector-Jacobian product, and for ``Y = X @ W`` that is

    ∂L/∂X = ∂L/∂Y · Wᵀ        ∂L/∂W = Xᵀ · ∂L/∂Y

so each operand's local derivative is the *other* operand, as for a scalar product ``x·w``.
:class:`MatmulLeft` stores W and applies ``·Wᵀ`` in ``local * upstream``;
:class:`MatmulRight` stores X and applies ``Xᵀ·``. Stepping into ``local * upstream`` in a
debugger lands in their ``__mul__`` below.
"""

from __future__ import annotations

import numpy as np

from ..formatting import short_number
from ..jacobians import Local, broadcast_axes, sum_to_shape
from ..numerics import norm
from ..rules import rule


@rule("matmul", "@", "X @ W", "·Wᵀ", "Xᵀ·", inputs=("X", "W"))
def matmul(m, x, w):
    """X @ W as numpy's ``matmul`` (1-D operands promoted, batch axes broadcast).

    ∂L/∂X = ∂L/∂Y · Wᵀ and ∂L/∂W = Xᵀ · ∂L/∂Y: each operand's local is the *other* operand,
    as for a scalar product.
    """
    return np.matmul(x, w), (MatmulLeft(w, x.shape), MatmulRight(x, w.shape))


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
        name, size = self.other_name, short_number(norm(self.other))
        return f"{type(self).__name__}({self.applied}, {name}: shape {self.other.shape}, ‖{name}‖={size})"

    def summary(self) -> str:
        return f"{self.other_name}ᵀ, ‖{self.other_name}‖={short_number(norm(self.other))}"


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
