"""Layers: ``Linear``, ``MLP``, ``Dropout``, ``Residual``.

``Linear`` computes ``x @ W + b`` with ``W`` of shape ``(in_features, out_features)``: one row
per sample, as in the tensor contract (``x @ W``). Its local derivatives are the classic ones:
∂(x@W)/∂x is "·Wᵀ" and ∂(x@W)/∂W is "xᵀ·", so the gradient reaching layer l is the upstream
gradient multiplied by the weights above it — the product that vanishes or explodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from . import init as init_
from .activations import activation_kind, check_activation, make_activation
from .module import Module, Parameter, Sequential

__all__ = ["Linear", "MLP", "Dropout", "Residual", "resolve_init", "resolve_bias_init"]

#: Bias init names (the weight schemes that need a fan-out do not apply to a 1-D bias).
BIAS_INITS = ("zeros", "ones", "normal", "uniform", "standard")


def resolve_init(spec: Any, *, std: float | None = None, gain: float | None = None) -> Callable[..., Any]:
    """Turn ``init=...`` into something called as ``fn(weight, rng=rng)``.

    ``spec`` is a name from :data:`~tinygrad_edu.nn.init.INITS`, an
    :class:`~tinygrad_edu.nn.init.Initializer` (``init.normal(std=0.1)``) or any callable
    ``fn(weight)`` / ``fn(weight, rng=...)``. ``std`` sets the scale of "normal" (its std) and
    "uniform" (a = √3·std, the same variance); ``gain`` is given to the gain-aware schemes
    (He, orthogonal) — ``MLP`` passes ``calculate_gain(activation)``.

    Raises:
        ValueError: unknown name (listing the valid ones), or ``std`` with a scheme that has none.
    """
    if isinstance(spec, str):
        function = init_.get(spec)
        if std is not None:
            if function is init_.normal:
                return init_.normal(std=std)
            if function is init_.uniform:
                return init_.uniform(a=math.sqrt(3.0) * _positive(std, "init_std"))
            raise ValueError(f"init_std applies to 'normal' and 'uniform', not to {spec!r}")
        if gain is not None and function in init_.GAIN_AWARE:
            return init_.Initializer(function, gain=gain)
        return init_.Initializer(function)
    if isinstance(spec, init_.Initializer) or callable(spec):
        if std is not None:
            raise ValueError("init_std applies to init='normal' or 'uniform'; set the scale in your callable")
        return spec
    raise TypeError(f"init must be a name or a callable, got {type(spec).__name__} ({spec!r})")


def resolve_bias_init(spec: Any, fan_in: int) -> Callable[..., Any]:
    """``bias_init=...``: a name from :data:`BIAS_INITS`, an Initializer or a callable."""
    if isinstance(spec, str):
        if spec not in BIAS_INITS:
            raise ValueError(
                f"unknown bias_init {spec!r}; valid names: {', '.join(BIAS_INITS)} (or pass a callable "
                "such as init.normal(std=1.0))"
            )
        if spec == "standard":
            return init_.Initializer(init_.standard, fan_in=fan_in)
        return init_.Initializer(init_.get(spec))
    if callable(spec):
        return spec
    raise TypeError(f"bias_init must be a name or a callable, got {type(spec).__name__} ({spec!r})")


def _positive(value: Any, name: str) -> float:
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _apply(initializer: Callable[..., Any], target: Any, rng: np.random.Generator) -> None:
    if init_.accepts_rng(initializer):
        initializer(target, rng=rng)
    else:
        initializer(target)


def _features(value: Any, name: str, where: str) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def _dtype(dtype: Any, where: str) -> np.dtype:
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{where}: dtype must be float32 or float64, got {dtype}")
    return dtype


class Linear(Module):
    """``y = x @ W + b``; ``W``: ``(in_features, out_features)``, ``b``: ``(out_features,)``.

    Args:
        in_features, out_features: sizes.
        bias: whether to add ``b``.
        init: weight init — a name (see :mod:`tinygrad_edu.nn.init`; default "standard",
            U(±1/√in_features), close to PyTorch's default) or a callable.
        bias_init: "zeros" (default), "normal", "uniform", "standard", or a callable such as
            ``init.normal(std=1.0)``.
        init_std: std for init="normal" / "uniform".
        gain: gain for the gain-aware schemes (He, orthogonal).
        rng: numpy Generator or int seed (deterministic init).
        dtype: float64 (default) or float32.
    """

    bias: Parameter | None  # None with bias=False

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: Any = "standard",
        bias_init: Any = "zeros",
        init_std: float | None = None,
        gain: float | None = None,
        rng: Any = None,
        dtype: Any = None,
        name: str | None = None,
    ):
        where = "Linear"
        n_in = _features(in_features, "in_features", where)
        n_out = _features(out_features, "out_features", where)
        if not isinstance(bias, bool):
            raise TypeError(f"{where}: bias must be a bool, got {bias!r}")
        weight_init = resolve_init(init, std=init_std, gain=gain)
        bias_initializer = resolve_bias_init(bias_init, n_in) if bias else None
        generator = init_.as_generator(rng)
        dtype = _dtype(dtype, where)
        super().__init__(name)
        self.in_features, self.out_features = n_in, n_out
        self.weight = Parameter(np.zeros((n_in, n_out), dtype=dtype))
        _apply(weight_init, self.weight, generator)
        if bias_initializer is not None:
            self.bias = Parameter(np.zeros(n_out, dtype=dtype))
            _apply(bias_initializer, self.bias, generator)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        if isinstance(x, np.ndarray):
            x = Tensor(x)
        if not isinstance(x, Tensor):
            raise TypeError(f"Linear {self.name!r}: expected a Tensor or numpy array, got {type(x).__name__}")
        if x.data.ndim == 0 or x.data.shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear {self.name!r} ({self.in_features} → {self.out_features}): input of shape "
                f"{x.data.shape} has {x.data.shape[-1] if x.data.ndim else 0} features, "
                f"expected {self.in_features}"
            )
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out

    def layer_kind(self) -> str:
        return f"Linear {self.in_features}→{self.out_features}"

    def extra_repr(self) -> str:
        return f"{self.in_features} → {self.out_features}, bias={self.bias is not None}"


class MLP(Module):
    """A multilayer perceptron: ``Linear → activation → … → Linear`` (logits out by default).

    ``MLP([64, 30, 30, 30, 10], activation="sigmoid", init="normal")`` builds four Linear
    layers with sigmoid between them, in ``self.layers`` (a :class:`Sequential`): children
    ``0, 2, 4, 6`` are Linear, ``1, 3, 5`` activations, so nodes of the second activation carry
    the scope ``"mlp.layers.3"``.

    Args:
        sizes: layer widths, input first, at least two.
        activation: "sigmoid", "tanh", "relu", "leaky_relu", "gelu", "identity"/"linear", an
            Activation class or instance, or a function of a Tensor.
        init: weight init name (see :data:`~tinygrad_edu.nn.init.INITS`) or callable. The He and
            orthogonal schemes use ``calculate_gain(activation)`` (√2 for ReLU, 5/3 for tanh,
            1 for sigmoid); Xavier uses Glorot's gain 1; "normal" uses std ``init_std``
            (default 0.01).
        bias: whether the Linear layers have biases.
        init_std: the std of init="normal" (and of "uniform", as a = √3·std).
        bias_init: "zeros" (default), "normal" (std 0.01), "uniform", "standard" or a callable;
            Nielsen's experiment uses ``bias_init=init.normal(std=1.0)``.
        output_activation: an activation after the last layer (default none: logits).
        dropout: drop probability after each hidden activation (0: no Dropout layers).
        residual: wrap each hidden block whose input and output widths match in a
            :class:`Residual` (``x + block(x)``), the modern fix for depth.
        rng: numpy Generator or int seed; the same seed gives the same network.
        dtype: float64 (default) or float32.
        name: the root scope (default "mlp").

    Raises:
        ValueError / TypeError: bad sizes or unknown names — before anything is built.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Any = "relu",
        init: Any = "he",
        bias: bool = True,
        *,
        init_std: float | None = None,
        bias_init: Any = "zeros",
        output_activation: Any = None,
        dropout: float = 0.0,
        residual: bool = False,
        rng: Any = None,
        dtype: Any = None,
        name: str | None = None,
    ):
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(f"MLP: sizes must be a sequence of at least two ints, got {sizes!r}")
        sizes = [_features(n, f"sizes[{i}]", "MLP") for i, n in enumerate(sizes)]
        check_activation(activation)
        if output_activation is not None:
            check_activation(output_activation)
        probe = make_activation(activation)
        gain = probe.gain() if hasattr(probe, "gain") else None
        weight_init = resolve_init(init, std=init_std, gain=gain)
        for fan_in in sizes[:-1]:
            resolve_bias_init(bias_init, fan_in)
        dropout = Dropout.check_p(dropout)
        if not isinstance(residual, bool):
            raise TypeError(f"MLP: residual must be a bool, got {residual!r}")
        generator = init_.as_generator(rng)
        dtype = _dtype(dtype, "MLP")
        super().__init__(name)
        self.sizes = tuple(sizes)
        self.activation = activation if isinstance(activation, str) else activation_kind(probe)
        modules: list[Module] = []
        last = len(sizes) - 2
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = Linear(
                n_in, n_out, bias=bias, init=weight_init, bias_init=bias_init, rng=generator, dtype=dtype
            )
            if index == last:
                modules.append(linear)
                if output_activation is not None:
                    modules.append(make_activation(output_activation))
                break
            block = [linear, make_activation(activation)]
            if residual and n_in == n_out:
                modules.append(Residual(Sequential(*block)))
            else:
                modules.extend(block)
            if dropout:
                modules.append(Dropout(dropout, rng=generator))
        self.layers = Sequential(*modules)

    def forward(self, x: Any) -> Any:
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}, activation={self.activation!r}"


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability ``p`` and scale the
    survivors by 1/(1 − p), so the expected output equals the input; in eval, the identity.

    The mask is a constant Tensor (no gradient), so the graph shows ``x × mask`` and the local
    derivative on the edge from ``x`` is the mask itself: dropped units pass no gradient.

    Args:
        p: drop probability in [0, 1] (p = 1 drops everything and outputs zeros).
        rng: numpy Generator or int seed: the same seed gives the same masks.
    """

    def __init__(self, p: float = 0.5, rng: Any = None, name: str | None = None):
        p = self.check_p(p)
        generator = init_.as_generator(rng)
        super().__init__(name)
        self.p = p
        self.rng = generator

    @staticmethod
    def check_p(p: Any) -> float:
        if not isinstance(p, Real) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        return float(p)

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        if not isinstance(x, Tensor):
            raise TypeError(f"Dropout {self.name!r}: expected a Tensor, got {type(x).__name__}")
        keep = self.rng.random(x.data.shape) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        mask = Tensor(keep.astype(x.data.dtype) * np.asarray(scale, dtype=x.data.dtype), label="mask")
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Residual(Module):
    """``x + block(x)``: a skip connection (He et al. 2016).

    The local derivative of the sum with respect to ``x`` is 1, so the gradient reaching ``x``
    is ``upstream + upstream·∂block/∂x`` — it can no longer vanish through the block alone.
    """

    def __init__(self, block: Module, name: str | None = None):
        if not isinstance(block, Module):
            raise TypeError(f"Residual: block must be a Module, got {type(block).__name__}")
        super().__init__(name)
        self.block = block

    def forward(self, x: Any) -> Any:
        return x + self.block(x)
