"""Normalisation layers: ``BatchNorm1d`` and ``LayerNorm``, built from the engine's own ops.

Both standardise their input and then rescale it with a learned ``weight`` (γ) and ``bias`` (β)::

    x̂ = (x − μ) / √(σ² + ε),        y = γ·x̂ + β

They differ in *what* μ and σ² average over:

* **BatchNorm1d** (Ioffe & Szegedy 2015): per feature (channel), over the batch — axis 0 of an
  ``(N, C)`` input, axes 0 and 2 of ``(N, C, L)``. In training it uses the batch's own mean and
  *biased* variance (divide by n) and updates running estimates, ``running = (1 − m)·running +
  m·batch`` with the *unbiased* variance (divide by n − 1); in eval it uses the running
  estimates, so one sample's output no longer depends on the others in its batch.
* **LayerNorm** (Ba et al. 2016): per sample, over the last ``len(normalized_shape)`` axes; the
  same in training and eval, no running state.

Nothing here is a fused op: μ is a ``mean`` node, σ² the ``mean`` of a squared difference, √ a
``sqrt`` node, so the graph shows every local derivative and ``backward()`` runs the ordinary
chain rule through them. In particular the gradient through batch statistics couples the
samples of a batch: ∂x̂ᵢ/∂xⱼ = (δᵢⱼ − 1/n − x̂ᵢx̂ⱼ/n)/σ for i, j in one channel — the term that,
stacked layer after layer, makes BatchNorm networks' gradients grow toward the input at
initialisation (Yang et al. 2019; see the ``batchnorm`` experiment).

Names, shapes, defaults and the error for a batch of one follow PyTorch, so the arrays of a
PyTorch ``state_dict`` load (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``) and give the same numbers.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..modes import no_grad
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "LayerNorm", "standardize"]


def _eps(value: Any, where: str) -> float:
    if (
        not isinstance(value, Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or float(value) <= 0
    ):
        raise ValueError(f"{where}: eps must be a finite number > 0, got {value!r}")
    return float(value)


def _flag(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def _dtype(dtype: Any, where: str) -> np.dtype:
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{where}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _as_tensor(x: Any, where: str) -> Tensor:
    if isinstance(x, np.ndarray):
        return Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: expected a Tensor or numpy array, got {type(x).__name__}")
    return x


def standardize(x: Tensor, axis: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(x̂, μ, σ²)`` with μ = mean(x), σ² = mean((x − μ)²) over ``axis`` (kept as size-1 axes).

    The biased variance (divide by n) is what both layers normalise with, as in PyTorch.
    """
    mean = x.mean(axis=axis, keepdims=True)  # μ; local derivative 1/n
    centered = x - mean  # x − μ
    var = (centered * centered).mean(axis=axis, keepdims=True)  # σ² = mean((x − μ)²)
    return centered / (var + eps).sqrt(), mean, var  # x̂ = (x − μ)/√(σ² + ε)


class BatchNorm1d(Module):
    """Batch normalisation over the batch axis of ``(N, C)`` or ``(N, C, L)`` inputs (PyTorch's).

    Args:
        num_features: C, the number of channels.
        eps: ε added to the variance.
        momentum: m of ``running = (1 − m)·running + m·batch``; ``None`` means the cumulative
            average over every batch seen (m = 1/num_batches_tracked), as in PyTorch.
        affine: learn ``weight`` (γ, ones at init) and ``bias`` (β, zeros).
        track_running_stats: keep ``running_mean``, ``running_var`` and ``num_batches_tracked``
            and use them in eval; without them the batch statistics are used in eval too.
        dtype: float64 (default) or float32.

    Raises (in ``forward``, before any running statistic changes):
        ShapeError: not 2-D or 3-D, a channel count other than ``num_features``, an empty
            batch, or a single value per channel in training mode.
    """

    # declared here: mypy defers an __init__ that narrows an int with isinstance(.., Integral)
    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    weight: Any  # γ, a Parameter; None when affine=False
    bias: Any  # β, a Parameter; None when affine=False
    running_mean: Any  # buffers (Tensors); None when track_running_stats=False
    running_var: Any
    num_batches_tracked: Any

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        name: str | None = None,
    ):
        where = "BatchNorm1d"
        if not isinstance(num_features, Integral) or isinstance(num_features, bool) or num_features <= 0:
            raise ValueError(f"{where}: num_features must be a positive int, got {num_features!r}")
        eps = _eps(eps, where)
        if momentum is not None and (
            not isinstance(momentum, Real) or isinstance(momentum, bool) or not 0.0 <= momentum <= 1.0
        ):
            raise ValueError(f"{where}: momentum must be a number in [0, 1] or None, got {momentum!r}")
        affine = _flag(affine, "affine", where)
        track = _flag(track_running_stats, "track_running_stats", where)
        dtype = _dtype(dtype, where)
        super().__init__(name)
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = None if momentum is None else float(momentum)
        self.affine = affine
        self.track_running_stats = track
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def check_input(self, x: Tensor) -> None:
        """Refuse what PyTorch refuses, with the shapes in the message."""
        shape = x.shape
        where = f"BatchNorm1d {self.name!r} (num_features={self.num_features})"
        if x.ndim not in (2, 3):
            raise ShapeError(f"{where}: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape {shape}")
        if shape[1] != self.num_features:
            raise ShapeError(
                f"{where}: input of shape {shape} has {shape[1]} channels (axis 1), "
                f"expected {self.num_features}"
            )
        if x.size == 0:
            raise ShapeError(f"{where}: input of shape {shape} is empty; there is nothing to normalise")
        per_channel = x.size // shape[1]
        if self.training and per_channel == 1:
            raise ShapeError(
                f"{where}: Expected more than 1 value per channel when training, got input size {shape}"
            )

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x, f"BatchNorm1d {self.name!r}")
        self.check_input(x)
        axis = (0,) if x.ndim == 2 else (0, 2)
        column = (1, -1) if x.ndim == 2 else (1, -1, 1)  # (C,) parameters broadcast over N (and L)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            x_hat, mean, var = standardize(x, axis, self.eps)
            if self.training and self.track_running_stats:
                self._update_running(mean.data.reshape(-1), var.data.reshape(-1), x.size // x.shape[1])
        else:
            # constants of this graph (no gradient flows into running statistics), drawn in the layer
            mean = Tensor(self.running_mean.data.reshape(column), label="running_mean")
            std = Tensor(
                np.sqrt(self.running_var.data + self.eps).reshape(column), label="√(running_var + ε)"
            )
            x_hat = (x - mean) / std  # x̂ = (x − running_mean)/√(running_var + ε)
        if not self.affine:
            return x_hat
        return x_hat * self.weight.reshape(column) + self.bias.reshape(column)  # γ·x̂ + β

    def _update_running(self, mean: np.ndarray, var: np.ndarray, count: int) -> None:
        """``running = (1 − m)·running + m·batch``; the variance enters unbiased: σ²·n/(n − 1)."""
        with no_grad():
            tracked = int(self.num_batches_tracked.data) + 1
            m = 1.0 / tracked if self.momentum is None else self.momentum
            unbiased = var * (count / (count - 1))
            dtype = self.running_mean.data.dtype
            self.running_mean = ((1 - m) * self.running_mean.data + m * mean).astype(dtype)
            self.running_var = ((1 - m) * self.running_var.data + m * unbiased).astype(dtype)
            self.num_batches_tracked = np.array(tracked, dtype=np.int64)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class LayerNorm(Module):
    """Layer normalisation over the last ``len(normalized_shape)`` axes (PyTorch's).

    Args:
        normalized_shape: an int or a tuple: the trailing shape every sample is normalised over.
        eps: ε added to the variance.
        elementwise_affine: learn ``weight`` (ones) of shape ``normalized_shape``, and ``bias``.
        bias: whether the affine part has a ``bias`` (zeros).
        dtype: float64 (default) or float32.

    Raises (in ``forward``): ShapeError when the input's trailing axes are not
    ``normalized_shape`` or the input is empty.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
        name: str | None = None,
    ):
        where = "LayerNorm"
        shape = (normalized_shape,) if isinstance(normalized_shape, Integral) else normalized_shape
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or any(not isinstance(n, Integral) or isinstance(n, bool) or n <= 0 for n in shape)
        ):
            raise ValueError(
                f"{where}: normalized_shape must be a positive int or a non-empty tuple of them, "
                f"got {normalized_shape!r}"
            )
        eps = _eps(eps, where)
        affine = _flag(elementwise_affine, "elementwise_affine", where)
        use_bias = _flag(bias, "bias", where)
        dtype = _dtype(dtype, where)
        super().__init__(name)
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = eps
        self.elementwise_affine = affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if affine and use_bias else None

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x, f"LayerNorm {self.name!r}")
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k :] != self.normalized_shape or x.ndim < k:
            raise ShapeError(
                f"LayerNorm {self.name!r}: input of shape {x.shape} does not end in normalized_shape "
                f"{self.normalized_shape}"
            )
        if x.size == 0:
            raise ShapeError(f"LayerNorm {self.name!r}: input of shape {x.shape} is empty")
        axis = tuple(range(x.ndim - k, x.ndim))
        x_hat, _, _ = standardize(x, axis, self.eps)
        if self.weight is not None:
            x_hat = x_hat * self.weight
        if self.bias is not None:
            x_hat = x_hat + self.bias
        return x_hat

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
