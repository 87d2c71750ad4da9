"""softmax and log_softmax along an axis: forward, and their Jacobians applied without the matrix.

∂sᵢ/∂xⱼ = sᵢ(δᵢⱼ − sⱼ) for s = softmax(x), and ∂yᵢ/∂xⱼ = δᵢⱼ − sⱼ for y = log_softmax(x):
:class:`SoftmaxJacobian` and :class:`LogSoftmaxJacobian` apply them to the upstream in O(n).
"""

from __future__ import annotations

import numpy as np

from ..jacobians import Local
from ..rules import rule


def shifted(x: np.ndarray, axis: int) -> np.ndarray:
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
    e = np.exp(shifted(x, axis))
    s = e / e.sum(axis=axis, keepdims=True)
    return s, (SoftmaxJacobian(s, axis),)


@rule("log_softmax", "log softmax", "xᵢ − ln Σⱼ eˣʲ", "δᵢⱼ − softmax(x)ⱼ")
def log_softmax(m, x, axis):
    """log softmax along ``axis``: (x − c) − ln Σ exp(x − c) with c = max x; never log(0).

    NOTE: an empty ``axis`` gives an empty result, as for :func:`softmax`.
    """
    z = shifted(x, axis)
    e = np.exp(z)
    s = e.sum(axis=axis, keepdims=True)
    out = z - np.log(s)
    return out, (LogSoftmaxJacobian(e / s, axis),)


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
