"""Reading a model: the per-layer numbers of one step, after ``backward()``.

A layer is a module that directly owns a parameter called ``weight`` (e.g.
:class:`~tinygrad_edu.nn.Linear`); the activation module that follows it is paired with it.
Everything is read from data already in the graph: ``weight.grad`` for ‖∂L/∂W‖, the layer's
``last_output.grad`` for its δ = ∂L/∂output, and the activation's ``last_output`` for
∂L/∂activation and for how many units are saturated or dead (σ′, tanh′ read from the activation
node's stored local). Nothing is recomputed and the model is never changed.

The saturation threshold is read from the package at call time
(``diagnostics.SATURATION_DERIVATIVE``), so that changing the constant there takes effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import diagnostics
from ..numerics import combined_norm, norm
from ..optim import total_norm
from .report import LayerStats, StepRecord
from .through_time import gradient_over_time, recurrent_modules

#: Maximum of each activation's derivative (what SATURATION_DERIVATIVE is a fraction of).
_DERIVATIVE_MAX = {"sigmoid": 0.25, "tanh": 1.0}


def own_parameters(module: Any) -> dict[str, Any]:
    """``{name: parameter}`` of ``module`` itself, not of its children (``weight``, ``bias``)."""
    return dict(module.named_parameters(recurse=False))


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
        if "weight" in own_parameters(module):
            found.append([name, module, None])
        elif isinstance(module, Activation) and found and found[-1][2] is None:
            found[-1][2] = module
    return [tuple(entry) for entry in found]


@dataclass
class LayerReading:
    """The raw numbers of one layer at one step, as arrays, read from any kind of model.

    :func:`step_record` turns readings into a :class:`StepRecord`; :func:`measure_step` reads them
    from our modules, the torch bridge from a ``torch.nn.Module`` (so both are judged on the
    very same quantities). ``params`` is ``[(value, grad)]`` of every parameter the layer owns;
    ``activation`` is the activation module after the layer (None if there is none), whose
    ``kind`` is used; ``activation_output``/``activation_grad`` are its last output and ∂L/∂
    that output; ``activation_local`` is its local derivative ∂output/∂input elementwise (σ′,
    tanh′ ...), as the rule of its op computed it (rules.py, the one derivative table): our
    activation node's stored ``local_grads[0]``; the torch bridge runs our op on the input torch
    recorded. Without a local (a forward under no_grad) no saturated unit is counted.
    """

    name: str
    weight: np.ndarray
    weight_grad: np.ndarray | None
    params: list
    output_grad: np.ndarray | None = None
    activation: Any = None
    activation_name: str | None = None
    activation_output: np.ndarray | None = None
    activation_grad: np.ndarray | None = None
    activation_local: np.ndarray | None = None


def step_record(
    step: int,
    loss: float | None,
    readings: Sequence[LayerReading],
    extra_params: Sequence = (),
    extra_weights: Sequence = (),
    through_time: dict | None = None,
) -> StepRecord:
    """The :class:`StepRecord` of one step from the layers' readings.

    ``extra_params`` (``[(value, grad)]``) and ``extra_weights`` (weight arrays, in ‖W‖ of all
    weights) are parameters outside those layers that count in the totals (a recurrent
    module's), ``through_time`` its ‖∂L/∂h_t‖ per step.
    """
    layers: dict[str, LayerStats] = {}
    grads: list[np.ndarray] = []
    nonfinite = 0
    for reading in readings:
        stats = LayerStats(name=reading.name, weight_norm=norm(reading.weight))
        if reading.weight_grad is not None:
            stats.weight_grad_norm = norm(reading.weight_grad)
        stats.nonfinite = _count_nonfinite(*(a for pair in reading.params for a in pair))
        grads.extend(gr for _, gr in reading.params if gr is not None)
        if reading.output_grad is not None:
            stats.output_grad_norm = norm(reading.output_grad)
        if reading.activation is not None:
            _measure_activation(stats, reading)
        nonfinite += stats.nonfinite
        layers[reading.name] = stats
    nonfinite += _count_nonfinite(*(a for pair in extra_params for a in pair))
    grads.extend(g for _, g in extra_params if g is not None)
    if loss is not None and not math.isfinite(loss):
        nonfinite += 1
    weights = combined_norm([stats.weight_norm for stats in layers.values()] + list(extra_weights)) or 0.0
    return StepRecord(step, loss, layers, _total_norm(grads), weights, nonfinite, through_time or {})


def measure_step(model: Any, step: int, loss: Any) -> StepRecord:
    """The :class:`StepRecord` of our ``model`` now (after ``backward()``), read from its graph."""
    readings = []
    for name, layer, activation in layers_of(model):
        weight = own_parameters(layer)["weight"]
        reading = LayerReading(
            name,
            np.asarray(weight.data, dtype=np.float64),
            _array(weight.grad),
            [(_array(p.data), _array(p.grad)) for p in layer.parameters(recurse=False)],
        )
        output = getattr(layer, "last_output", None)
        if output is not None and getattr(output, "grad", None) is not None:
            reading.output_grad = _array(output.grad)
        if activation is not None:
            reading.activation = activation
            path = next((p for p, m in model.named_modules() if m is activation), "")
            reading.activation_name = f"{model.name}.{path}" if path else model.name
            output = getattr(activation, "last_output", None)
            if output is not None and hasattr(output, "data"):
                reading.activation_output = _array(output.data)
                reading.activation_grad = _array(getattr(output, "grad", None))
                # The activation node stores its local derivative σ′ or tanh′ elementwise (the
                # one derivative table, rules.py); without it (built under no_grad) it is None.
                if getattr(output, "local_grads", ()):
                    reading.activation_local = _array(output.local_grads[0])
        readings.append(reading)
    through_time: dict[str, list[float]] = {}
    extra: list[tuple[np.ndarray | None, np.ndarray | None]] = []  # (value, grad)
    recurrent_weights: list[np.ndarray | None] = []
    for name, module in recurrent_modules(model):  # their parameters count in the totals too
        extra.extend((_array(p.data), _array(p.grad)) for p in module.parameters())
        recurrent_weights += [_array(p.data) for n, p in module.named_parameters() if n.startswith("weight")]
        if module.hidden_states and any(p.grad is not None for p in module.parameters()):
            through_time[name] = [float(v) for v in gradient_over_time(module)]
    return step_record(step, loss_value(loss), readings, extra, recurrent_weights, through_time)


def _measure_activation(stats: LayerStats, reading: LayerReading) -> None:
    activation = reading.activation
    stats.activation_kind = activation.kind
    stats.activation = reading.activation_name
    a = reading.activation_output
    if a is None:
        return
    if reading.activation_grad is not None:
        stats.activation_grad_norm = norm(reading.activation_grad)
    if a.ndim == 0 or a.size == 0:
        return
    if activation.kind in _DERIVATIVE_MAX:
        derivative = reading.activation_local
        if derivative is None:
            return
        limit = diagnostics.SATURATION_DERIVATIVE * _DERIVATIVE_MAX[activation.kind]
        stats.saturated_fraction = float(np.mean(derivative < limit))
    elif activation.kind == "relu":
        batch = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
        dead = np.all(batch <= 0, axis=0)  # a unit that outputs 0 for every sample
        stats.dead_fraction = float(np.mean(dead))


def loss_value(loss: Any) -> float | None:
    """The loss as a float (a number, a ``Value``, a one-element ``Tensor`` or torch tensor), or None."""
    if loss is None:
        return None
    value = getattr(loss, "data", loss)
    if hasattr(value, "detach"):  # a torch tensor: its value without the graph
        value = value.detach().cpu().numpy()
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
