"""Functions of tensors used by networks: the losses, and the activations as plain functions.

The losses are the engine's own (:mod:`tinygrad_edu.losses`), each a single graph node with a
fused, numerically stable derivative:

* ``mse_loss(pred, target)`` — mean((p − t)²);
* ``binary_cross_entropy(prob, target)`` — for probabilities in [0, 1];
* ``binary_cross_entropy_with_logits(logits, target)`` — the stable form, from raw scores;
* ``cross_entropy(logits, targets)`` — softmax cross-entropy with integer class targets.
"""

from __future__ import annotations

from typing import Any

from ..losses import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .activations import GELU
from .init import DEFAULT_LEAKY_SLOPE

__all__ = [
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "gelu",
    "softmax",
    "log_softmax",
]


def sigmoid(x: Any) -> Any:
    """σ(x); local derivative σ(x)(1 − σ(x))."""
    return x.sigmoid()


def tanh(x: Any) -> Any:
    """tanh(x); local derivative 1 − tanh²(x)."""
    return x.tanh()


def relu(x: Any) -> Any:
    """max(x, 0); local derivative 1 for x > 0, else 0."""
    return x.relu()


def leaky_relu(x: Any, negative_slope: float = DEFAULT_LEAKY_SLOPE) -> Any:
    """x for x > 0, else α·x; local derivative 1 or α."""
    return x.leaky_relu(negative_slope)


def gelu(x: Any) -> Any:
    """GELU, tanh approximation, composed from elementary ops (see :class:`~tinygrad_edu.nn.GELU`)."""
    return GELU().forward(x)  # forward only, so no name scope is added


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(xᵢ) / Σⱼ exp(xⱼ) along ``axis``."""
    return x.softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """xᵢ − log Σⱼ exp(xⱼ) along ``axis`` (stable)."""
    return x.log_softmax(axis)
