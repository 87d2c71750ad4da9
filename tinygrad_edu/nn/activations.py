"""Activation modules, and how each one passes gradients back.

The derivative of the activation is one factor of every chain-rule product through a layer,
which is why the choice matters for depth:

==============  ===================================  ==========================================
module          local derivative                     what it does to gradients
==============  ===================================  ==========================================
``Sigmoid``     σ(x)(1 − σ(x)) ≤ 1/4                 shrinks them at least 4× per layer;
                                                     ≈ 0 when saturated (|x| large)
``Tanh``        1 − tanh²(x) ≤ 1                     passes them near 0, ≈ 0 when saturated
``ReLU``        1 if x > 0 else 0                    passes them unchanged, or blocks them
                                                     ("dead" unit: 0 for every input)
``LeakyReLU``   1 if x > 0 else α                    never blocks them completely
``GELU``        Φ(x) + x·φ(x) (smooth ReLU)          like ReLU, smooth at 0
``Identity``    1                                    a linear layer
==============  ===================================  ==========================================

Every module works on a :class:`~tinygrad_edu.Tensor` and, being built from the same methods,
on a scalar :class:`~tinygrad_edu.Value` too.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from ..scalar import check_slope
from .init import DEFAULT_LEAKY_SLOPE, calculate_gain
from .module import Module

__all__ = [
    "Activation",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "Identity",
    "Lambda",
    "ACTIVATIONS",
    "make_activation",
]


class Activation(Module):
    """Base class: an elementwise nonlinearity without parameters.

    Attributes:
        kind: the name used by :func:`~tinygrad_edu.nn.init.calculate_gain` and the diagnostics.
    """

    kind = "linear"

    def gain(self) -> float:
        """The init gain that keeps the signal's variance through this activation."""
        return calculate_gain(self.kind)


class Sigmoid(Activation):
    """σ(x) = 1 / (1 + e⁻ˣ); local derivative σ(x)(1 − σ(x)), at most 1/4 (at x = 0)."""

    kind = "sigmoid"

    def forward(self, x: Any) -> Any:
        return x.sigmoid()


class Tanh(Activation):
    """tanh(x); local derivative 1 − tanh²(x), at most 1 (at x = 0)."""

    kind = "tanh"

    def forward(self, x: Any) -> Any:
        return x.tanh()


class ReLU(Activation):
    """max(x, 0); local derivative 1 for x > 0, else 0 (we use 0 at the kink x = 0)."""

    kind = "relu"

    def forward(self, x: Any) -> Any:
        return x.relu()


class LeakyReLU(Activation):
    """x for x > 0, else α·x; local derivative 1 or α — negative inputs still pass a little."""

    kind = "leaky_relu"

    def __init__(self, negative_slope: float = DEFAULT_LEAKY_SLOPE, name: str | None = None):
        super().__init__(name)
        self.negative_slope = check_slope(negative_slope, "LeakyReLU", "negative_slope")

    def forward(self, x: Any) -> Any:
        return x.leaky_relu(self.negative_slope)

    def gain(self) -> float:
        return calculate_gain("leaky_relu", self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


#: √(2/π), the constant of GELU's tanh approximation.
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
#: The cubic coefficient of GELU's tanh approximation (Hendrycks & Gimpel 2016).
_GELU_CUBIC = 0.044715


class GELU(Activation):
    """GELU(x) = x·Φ(x) ≈ ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hendrycks & Gimpel 2016).

    A smooth ReLU used by modern transformers: ≈ x for large x, ≈ 0 for very negative x, with a
    small negative dip. It is *composed* from existing ops (cube, multiply, add, tanh), so the
    graph shows its chain rule step by step instead of hiding it in one node.
    """

    kind = "gelu"

    def forward(self, x: Any) -> Any:
        inner = (x + x * x * x * _GELU_CUBIC) * _SQRT_2_OVER_PI
        return x * (inner.tanh() + 1.0) * 0.5


class Identity(Activation):
    """x; local derivative 1 (a "linear" layer: stacks of them collapse into one matrix)."""

    kind = "linear"

    def forward(self, x: Any) -> Any:
        return x


class Lambda(Activation):
    """Wraps a user function ``fn(x)`` as an activation module (the init gain is then 1)."""

    kind = "linear"

    def __init__(self, fn: Callable[[Any], Any], name: str | None = None):
        super().__init__(name)
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def forward(self, x: Any) -> Any:
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


#: Activation names accepted by ``MLP(activation=...)`` → module class.
ACTIVATIONS: dict[str, type[Activation]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "gelu": GELU,
    "identity": Identity,
    "linear": Identity,
}


def check_activation(spec: Any) -> None:
    """Raise ValueError/TypeError now if ``spec`` cannot become an activation (build nothing)."""
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {spec!r}; valid names: {', '.join(ACTIVATIONS)} (or pass a callable)"
            )
    elif not (isinstance(spec, Module) or callable(spec)):
        raise TypeError(f"activation must be a name, a Module or a callable, got {type(spec).__name__}")


def activation_kind(module: Module) -> str:
    """An activation module's ``kind``; a plain Module (which check_activation admits) has none
    and counts as "linear", like :class:`Lambda` (init gain 1)."""
    return str(getattr(module, "kind", "linear"))


def make_activation(spec: Any) -> Module:
    """A fresh activation module from a name, a Module class, a Module instance or a function."""
    check_activation(spec)
    if isinstance(spec, str):
        return ACTIVATIONS[spec]()
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    if isinstance(spec, Module):
        return copy.deepcopy(spec)  # one module per layer, so each is named and monitored
    return Lambda(spec)
