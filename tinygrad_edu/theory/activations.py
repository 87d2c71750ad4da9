"""Activations for the theory: φ next to φ′, from a name, an ``nn`` module or user functions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import TheoryError

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715  # as nn.GELU: the tanh approximation of x·Φ(x)


# --- activations: φ next to φ′ --------------------------------------------------------


@dataclass(frozen=True)
class Nonlinearity:
    """An activation for the theory: ``phi`` and its derivative ``dphi``, both on numpy arrays."""

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    numeric_derivative: bool = False


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1 + e⁻ˣ), without overflow


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)))


def _gelu_derivative(x):
    # d/dx ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³):  ½(1 + tanh u) + ½x·(1 − tanh²u)·u′
    t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)


def _leaky(slope: float) -> Nonlinearity:
    return Nonlinearity(
        f"leaky_relu({slope:g})",
        lambda x: np.where(x > 0, x, slope * x),
        lambda x: np.where(x > 0, 1.0, slope),
    )


#: name → (φ, φ′). GELU is the tanh approximation that :class:`~tinygrad_edu.nn.GELU` computes
#: (it differs from x·Φ(x) by < 1e-3), so the prediction is about the net our engine builds.
ACTIVATIONS: dict[str, Nonlinearity] = {
    "tanh": Nonlinearity("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "sigmoid": Nonlinearity("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
    "relu": Nonlinearity("relu", lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(np.float64)),
    "leaky_relu": _leaky(0.01),
    "gelu": Nonlinearity("gelu", _gelu, _gelu_derivative),
    "linear": Nonlinearity("linear", lambda x: x, np.ones_like),
    "identity": Nonlinearity("linear", lambda x: x, np.ones_like),
}


def _elementwise(fn: Callable, name: str) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` on an array; a function of one float (``math.tanh``) is applied per element."""

    def apply(x: np.ndarray) -> np.ndarray:
        shape = None
        try:
            y = np.asarray(fn(x), dtype=np.float64)
            if y.shape == x.shape:
                return y
            shape = f" (on an array of shape {x.shape} it returned shape {y.shape})"
        except Exception:  # noqa: BLE001 - any failure on an array: try element by element
            pass
        try:
            return np.array([float(fn(float(v))) for v in x.ravel()]).reshape(x.shape)
        except Exception as error:  # noqa: BLE001 - the user's function: report whatever it raised
            raise TheoryError(
                f"theory: activation {name!r} cannot be evaluated at the quadrature nodes"
                f"{shape or ''}: {error}"
            ) from error

    return apply


def _through_the_engine(fn: Callable, name: str) -> Nonlinearity:
    """An activation written for Tensors (``nn.Lambda(lambda x: x.tanh())``): φ is its forward on
    ``Tensor(x)``, φ′ the ``.grad`` of one backward of Σφ(x) through our engine (elementwise
    φ: ∂Σφ/∂x_i = φ′(x_i))."""
    from ..tensor import Tensor

    def phi(x: np.ndarray) -> np.ndarray:
        return _engine_call(fn, name, Tensor(x)).data

    def dphi(x: np.ndarray) -> np.ndarray:
        t = Tensor(x, requires_grad=True)
        _engine_call(fn, name, t).sum().backward()
        assert t.grad is not None, "backward() reached the input"
        return t.grad

    return Nonlinearity(name, phi, dphi)


def _engine_call(fn: Callable, name: str, t: Any) -> Any:
    try:
        out = fn(t)
    except Exception as error:  # noqa: BLE001 - the user's function: report whatever it raised
        raise TheoryError(
            f"theory: activation {name!r} fails on a Tensor of the quadrature nodes: {error}"
        ) from error
    if getattr(out, "shape", None) != t.shape:
        raise TheoryError(
            f"theory: activation {name!r} must be elementwise; it returned {type(out).__name__}"
        )
    return out


def _central_difference(phi: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """φ′(x) ≈ (φ(x + h) − φ(x − h)) / 2h with h = 1e-5·(1 + |x|): error ~ h²·φ‴/6 ≈ 1e-10."""

    def dphi(x: np.ndarray) -> np.ndarray:
        h = 1e-5 * (1.0 + np.abs(x))
        return (phi(x + h) - phi(x - h)) / (2.0 * h)

    return dphi


def activation(spec: Any) -> Nonlinearity:
    """An activation for the theory from what a user has at hand.

    * a name from :data:`ACTIVATIONS` (``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"leaky_relu"``
      (slope 0.01), ``"gelu"``, ``"linear"``);
    * an ``nn`` activation module or class (``nn.Tanh()``, ``nn.LeakyReLU(0.2)`` keeps its
      slope); an ``nn.Lambda`` of a Tensor function is run through our engine: φ by its
      forward, φ′ by one backward (exact, like the pair below);
    * a pair ``(φ, φ′)`` of numpy functions — the exact derivative, the recommended form;
    * a numpy function ``φ`` alone: φ′ is then a central difference (relative error about
      1e-10 for a smooth φ; wrong only within 1e-5·(1 + |x|) of a kink, and 0 — the usual
      kink — is a panel edge, never a node). ``Nonlinearity.numeric_derivative`` records that.

    Functions take and return numpy arrays elementwise (a function of one float is applied
    element by element).

    Raises:
        TheoryError: an unknown name or something that is not a function.
    """
    if isinstance(spec, Nonlinearity):
        return spec
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise TheoryError(
                f"theory: unknown activation {spec!r}; known: {', '.join(ACTIVATIONS)}, "
                "or pass (φ, φ′) functions"
            )
        return ACTIVATIONS[spec]
    kind = getattr(spec, "kind", None)
    if isinstance(kind, str) and hasattr(spec, "forward"):  # an nn.Activation module (or its class)
        if kind == "leaky_relu":
            slope = getattr(spec, "negative_slope", None)
            return _leaky(0.01 if isinstance(spec, type) or slope is None else float(slope))
        if kind == "linear" and not isinstance(spec, type) and type(spec).__name__ == "Lambda":
            return _through_the_engine(spec.fn, getattr(spec.fn, "__name__", "Lambda"))
        return activation(kind)
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        name = getattr(spec[0], "__name__", "user activation")
        return Nonlinearity(name, _elementwise(spec[0], name), _elementwise(spec[1], name + "′"))
    if callable(spec):
        name = getattr(spec, "__name__", "user activation")
        phi = _elementwise(spec, name)
        return Nonlinearity(name, phi, _central_difference(phi), numeric_derivative=True)
    raise TheoryError(
        f"theory: activation must be a name, an nn activation, a function φ or a pair (φ, φ′); "
        f"got {type(spec).__name__}"
    )
