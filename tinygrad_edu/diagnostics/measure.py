"""Reading a model: the per-layer numbers of one step, after ``backward()``.

A layer is a module that directly owns a parameter called ``weight`` (e.g.
:class:`~tinygrad_edu.nn.Linear`); the activation module that follows it is paired with it.
Everything is read from data already in the graph: ``weight.grad`` for ‖∂L/∂W‖, the layer's
``last_output.grad`` for its δ = ∂L/∂output, and the activation's ``last_output`` for
∂L/∂activation and for how many units are saturated or dead. Nothing is recomputed and the
model is never changed.

The saturation threshold is read from the package at call time
(``diagnostics.SATURATION_DERIVATIVE``), so that changing the constant there takes effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import diagnostics
from ..graph import norm
from ..optim import total_norm
from .report import LayerStats, StepRecord
from .through_time import gradient_over_time, recurrent_modules

#: Maximum of each activation's derivative (what SATURATION_DERIVATIVE is a fraction of).
_DERIVATIVE_MAX = {"sigmoid": 0.25, "tanh": 1.0}


def _array(x: Any) -> np.ndarray | None:
    if x is None:
        return None
    return np.asarray(x, dtype=np.float64)


def _count_nonfinite(*arrays: Any) -> int:
    total = 0
    for array in arrays:
        if array is not None:
            total += int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    return total


def layers_of(model: Any) -> list[tuple[str, Any, Any | None]]:
    """``[(scope name, layer module, activation module after it or None)]`` in model order.

    A layer is a module that directly owns a parameter called ``weight``; an activation is a
    :class:`~tinygrad_edu.nn.activations.Activation`; each activation is paired with the
    closest layer before it.
    """
    from ..nn.activations import Activation

    if not hasattr(model, "named_modules"):
        raise TypeError(f"expected a tinygrad_edu.nn.Module, got {type(model).__name__}")
    found: list[list[Any]] = []
    root = model.name
    for path, module in model.named_modules():
        name = f"{root}.{path}" if path else root
        if "weight" in module._parameters:
            found.append([name, module, None])
        elif isinstance(module, Activation) and found and found[-1][2] is None:
            found[-1][2] = module
    return [tuple(entry) for entry in found]


def _measure(model: Any, step: int, loss: Any) -> StepRecord:
    layers = {}
    grads = []
    nonfinite = 0
    for name, layer, activation in layers_of(model):
        weight = layer._parameters["weight"]
        w = _array(weight.data)
        g = _array(weight.grad)
        stats = LayerStats(name=name, weight_norm=norm(w))
        if g is not None:
            stats.weight_grad_norm = norm(g)
        own = [(_array(p.data), _array(p.grad)) for p in layer._parameters.values()]
        stats.nonfinite = _count_nonfinite(*(a for pair in own for a in pair))
        grads.extend(gr for _, gr in own if gr is not None)
        output = getattr(layer, "last_output", None)
        if output is not None and getattr(output, "grad", None) is not None:
            stats.output_grad_norm = norm(_array(output.grad))
        if activation is not None:
            _measure_activation(stats, model, activation)
        nonfinite += stats.nonfinite
        layers[name] = stats
    through_time, weight_squares = {}, 0.0
    for name, module in recurrent_modules(model):  # their parameters count in the totals too
        own = [(_array(p.data), _array(p.grad)) for p in module.parameters()]
        nonfinite += _count_nonfinite(*(a for pair in own for a in pair))
        grads.extend(g for _, g in own if g is not None)
        weight_squares += sum(
            norm(_array(p.data)) ** 2 for n, p in module.named_parameters() if n.startswith("weight")
        )
        if module.hidden_states and any(p.grad is not None for p in module.parameters()):
            through_time[name] = [float(v) for v in gradient_over_time(module)]
    loss_value = _loss_value(loss)
    if loss_value is not None and not math.isfinite(loss_value):
        nonfinite += 1
    weights = math.sqrt(sum(stats.weight_norm**2 for stats in layers.values()) + weight_squares)
    return StepRecord(step, loss_value, layers, _total_norm(grads), weights, nonfinite, through_time)


def _measure_activation(stats: LayerStats, model: Any, activation: Any) -> None:
    stats.activation_kind = activation.kind
    path = next((p for p, m in model.named_modules() if m is activation), "")
    stats.activation = f"{model.name}.{path}" if path else model.name
    output = getattr(activation, "last_output", None)
    if output is None or not hasattr(output, "data"):
        return
    a = _array(output.data)
    if getattr(output, "grad", None) is not None:
        stats.activation_grad_norm = norm(_array(output.grad))
    if a.ndim == 0 or a.size == 0:
        return
    if activation.kind in _DERIVATIVE_MAX:
        derivative = activation.derivative_from_output(a)
        limit = diagnostics.SATURATION_DERIVATIVE * _DERIVATIVE_MAX[activation.kind]
        stats.saturated_fraction = float(np.mean(derivative < limit))
    elif activation.kind == "relu":
        batch = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
        dead = np.all(batch <= 0, axis=0)  # a unit that outputs 0 for every sample
        stats.dead_fraction = float(np.mean(dead))


def _loss_value(loss: Any) -> float | None:
    if loss is None:
        return None
    value = getattr(loss, "data", loss)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"loss must be a number, a Value or a scalar Tensor, got {type(loss).__name__}"
        ) from error
    if array.size != 1:
        raise ValueError(f"loss must be a scalar, got shape {array.shape}")
    return float(array.reshape(()))


def _total_norm(grads: Sequence[np.ndarray]) -> float | None:
    """The 2-norm of all gradients as one vector (``optim.total_norm``); None without gradients."""
    return total_norm(grads) if grads else None
