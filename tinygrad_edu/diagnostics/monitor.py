"""The two entry points: :class:`GradientMonitor` (every training step) and :func:`diagnose` (once).

Both measure with :mod:`.measure` and judge with :mod:`.judge`; the monitor also keeps the
history that ``viz.gradient_flow_chart`` draws (:meth:`GradientMonitor.gradient_flow`) and
computes each step's update ratio ‖ΔW‖/‖W‖ from a copy of the weights taken before the step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..numerics import norm
from ..torch_bridge.convert import is_torch_module
from . import predict
from .judge import judge
from .measure import layers_of, loss_value, measure_step, own_parameters
from .report import Diagnosis, StepRecord, safe_ratio
from .through_time import recurrent_modules


class GradientMonitor:
    """Record per-layer gradient statistics at every training step.

    Usage::

        monitor = GradientMonitor(model)
        for step in range(100):
            opt.zero_grad()
            loss = cross_entropy(model(x), y)
            loss.backward()
            monitor.record(loss)      # after backward: gradients and activations
            opt.step()
            monitor.after_step()      # optional: the update ratio ‖ΔW‖/‖W‖ of this step
        print(monitor.report())       # Diagnosis
        viz.gradient_flow_chart(monitor.gradient_flow(), "flow.svg")

    Without ``after_step()``, the update ratio of a step is filled in by the next ``record()``
    (from the change of the weights in between).
    """

    QUANTITIES = {
        "weight_grad": "weight_grad_norm",
        "output_grad": "output_grad_norm",
        "activation_grad": "activation_grad_norm",
        "update_ratio": "update_ratio",
        "weight": "weight_norm",
        "saturated": "saturated_fraction",
        "dead": "dead_fraction",
    }

    def __new__(cls, model: Any, *args: Any, **kwargs: Any):
        if cls is GradientMonitor and is_torch_module(model):  # a torch model: its hooks-based reader
            from ..torch_bridge.diagnose import TorchGradientMonitor

            cls = TorchGradientMonitor
        return super().__new__(cls)

    def __init__(self, model: Any):
        layers = layers_of(model)
        if not layers and not recurrent_modules(model):
            raise ValueError(
                f"GradientMonitor: {type(model).__name__} has no layer with a 'weight' parameter "
                "and no recurrent module (nn.RNN/LSTM/GRU) to watch"
            )
        self.model = model
        self.history: list[StepRecord] = []
        self._snapshot: dict[str, np.ndarray] | None = None

    def _weights(self) -> dict[str, np.ndarray]:
        return {
            name: np.array(own_parameters(layer)["weight"].data, copy=True)
            for name, layer, _ in layers_of(self.model)
        }

    def _measure(self, step: int, loss: Any) -> StepRecord:
        return measure_step(self.model, step, loss)

    def _fill_update_ratio(self) -> None:
        if self._snapshot is None or not self.history:
            return
        record = self.history[-1]
        now = self._weights()
        for name, before in self._snapshot.items():
            if name in record.layers and name in now and now[name].shape == before.shape:
                record.layers[name].update_ratio = safe_ratio(norm(now[name] - before), norm(before))
        self._snapshot = None

    def record(self, loss: Any = None) -> StepRecord:
        """Measure the model now (call after ``backward()``); returns the new record."""
        loss_value(loss)  # a bad loss is rejected before anything is recorded
        self._fill_update_ratio()
        record = self._measure(len(self.history), loss)
        self.history.append(record)
        self._snapshot = self._weights()
        return record

    def after_step(self) -> None:
        """Compute the update ratio ‖ΔW‖/‖W‖ of the step just taken (call after ``opt.step()``)."""
        self._fill_update_ratio()

    @property
    def losses(self) -> list[float | None]:  # None for a step recorded without its loss
        return [record.loss for record in self.history]

    def gradient_flow(self, quantity: str = "weight_grad", step: int | None = None) -> dict[str, Any]:
        """``{layer: [value per step]}`` (or ``{layer: value}`` for one ``step``), input side first.

        The form ``viz.gradient_flow_chart`` accepts. ``quantity``: "weight_grad" (‖∂L/∂W‖,
        default), "output_grad", "activation_grad", "update_ratio", "weight", "saturated", "dead".
        """
        if quantity not in self.QUANTITIES:
            raise ValueError(
                f"gradient_flow: unknown quantity {quantity!r}; valid: {', '.join(self.QUANTITIES)}"
            )
        if not self.history:
            raise ValueError("gradient_flow: nothing recorded yet; call record() after backward()")
        attribute = self.QUANTITIES[quantity]
        names = list(self.history[0].layers)
        series = {
            name: [
                _number(getattr(r.layers[name], attribute)) if name in r.layers else math.nan
                for r in self.history
            ]
            for name in names
        }
        if step is None:
            return series
        return {name: values[step] for name, values in series.items()}

    def report(self, upto: int | None = None) -> Diagnosis:
        """The verdict over the recorded steps (ratios from the last :data:`RECENT_STEPS`).

        ``upto``: judge only the first ``upto`` steps, as ``report()`` would have said right after
        step ``upto − 1`` (a dashboard's verdict timeline is ``report(upto=k + 1)`` for every k).
        """
        if not self.history:
            raise ValueError("GradientMonitor.report: nothing recorded yet; call record() after backward()")
        if upto is None:
            return _with_theory(judge(self.history), self.model)
        if not isinstance(upto, int) or isinstance(upto, bool) or not 1 <= upto <= len(self.history):
            raise ValueError(
                f"GradientMonitor.report: upto must be an int from 1 to {len(self.history)} "
                f"(the steps recorded), got {upto!r}"
            )
        return _with_theory(judge(self.history[:upto]), self.model)

    def __len__(self) -> int:
        return len(self.history)

    def __repr__(self) -> str:
        return f"GradientMonitor({self.model.name!r}, {len(self.history)} steps)"


def diagnose(
    model: Any,
    inputs: Any = None,
    targets: Any = None,
    loss_fn: Any = None,
    loss: Any = None,
) -> Diagnosis:
    """One-shot diagnosis after a single ``backward()``.

    Either call it after your own ``loss.backward()`` (pass ``loss=`` to show it), or give
    ``inputs`` and ``targets`` and it runs one forward/backward itself: it zeroes the
    gradients, computes ``loss_fn(model(inputs), targets)`` (default: cross-entropy for integer
    targets, mean squared error otherwise) and calls ``backward()`` — the gradients stay in the
    model for you to inspect. The parameters are never changed. A ``torch.nn.Module`` is
    read by the torch bridge (:func:`tinygrad_edu.torch_bridge.diagnose.diagnose_torch`), with
    the same measurements and the same judge.

    Raises:
        ValueError: a model without a layer that has a `weight` and without a recurrent module
            (checked before any backward), no gradient to judge (no backward yet and no
            inputs), or inputs without targets.
    """
    if is_torch_module(model):
        from ..torch_bridge.diagnose import diagnose_torch

        return diagnose_torch(model, inputs, targets, loss_fn, loss)
    layers = layers_of(model)  # checked first: a model without layers never runs backward
    recurrent = recurrent_modules(model)
    if not layers and not recurrent:
        raise ValueError(
            f"diagnose: {type(model).__name__} has no layer with a 'weight' parameter "
            "and no recurrent module (nn.RNN/LSTM/GRU)"
        )
    if inputs is not None:
        if targets is None:
            raise ValueError("diagnose: inputs given without targets")
        loss = _one_backward(model, inputs, targets, loss_fn)
    weights = [own_parameters(layer)["weight"] for _, layer, _ in layers]
    weights += [p for _, module in recurrent for p in module.parameters()]
    if all(weight.grad is None for weight in weights):
        raise ValueError(
            "diagnose: no gradients yet; call loss.backward() first or pass inputs= and targets="
        )
    return _with_theory(judge([measure_step(model, 0, loss)]), model)


def _with_theory(diagnosis: Diagnosis, model: Any) -> Diagnosis:
    """Add what mean-field theory predicts for a plain MLP (:mod:`.predict`) to the evidence."""
    diagnosis.evidence["theory"] = predict.evidence(
        model, diagnosis.layers, diagnosis.ratios.get("output_grad")
    )
    return diagnosis


def _one_backward(model: Any, inputs: Any, targets: Any, loss_fn: Any) -> Any:
    from ..nn import functional
    from ..tensor import Tensor

    x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs, dtype=np.float64))
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if loss_fn is None:
        integer = np.issubdtype(y.dtype, np.integer)
        loss_fn = functional.cross_entropy if integer else functional.mse_loss
    loss = loss_fn(model(x), targets)  # errors (shapes, targets) surface before any grad changes
    model.zero_grad()
    loss.backward()
    return loss


def _number(x: float | None) -> float:
    """For charts: a missing measurement becomes nan (drawn as a gap marker, never dropped)."""
    return math.nan if x is None else float(x)
