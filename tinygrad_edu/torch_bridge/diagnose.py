"""The diagnostics for a torch model: the same per-layer measurements, fed to the same judge.

:mod:`tinygrad_edu.diagnostics` reads our modules (``weight.grad``, each module's
``last_output`` and its ``.grad``) into :class:`~tinygrad_edu.diagnostics.measure.LayerReading`
rows and judges them. A torch model keeps no outputs and no activation gradients, so
:class:`Watcher` adds them with hooks: a forward hook on every layer (a module that owns a
parameter called ``weight``) and on every activation module (``nn.Sigmoid``, ``nn.Tanh``,
``nn.ReLU``, ``nn.LeakyReLU``) copies the output and registers a tensor hook on it, which
receives ∂L/∂output during backward. The readings are then the same quantities as for our
models — ‖∂L/∂W‖, ‖W‖, ‖∂L/∂output‖ (δ), ‖∂L/∂activation‖, saturated and dead units, nan/inf,
update ratios — and :func:`~tinygrad_edu.diagnostics.judge.judge` gives verdict, evidence and fixes.

Layer names follow our modules: the model's class name in lower case, then the dotted path
from ``named_modules()`` (``"sequential.0"``). Activations called as functions
(``torch.relu(x)`` in ``forward``) are not modules, so they cannot be watched: their layer's
activation columns stay empty, as for one of our layers without an activation module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..diagnostics.judge import judge
from ..diagnostics.measure import LayerReading, loss_value, step_record
from ..diagnostics.monitor import GradientMonitor
from ..diagnostics.report import Diagnosis, StepRecord
from ..nn import activations as ours
from ..tensor import Tensor
from .convert import require_torch, to_numpy
from .scopes import module_names, root_name

#: The judge's fixes name our API; a torch user gets torch's names for the same fix.
TORCH_WORDS = (
    ("optim.clip_grad_norm_(", "torch.nn.utils.clip_grad_norm_("),
    ("init='xavier_normal' (Glorot)", "nn.init.xavier_normal_ (Glorot)"),
    ("init='he_normal' (√(2/fan_in))", "nn.init.kaiming_normal_(w, nonlinearity='relu') (√(2/fan_in))"),
    (
        "init='he_normal' for ReLU or 'xavier_normal' for tanh",
        "nn.init.kaiming_normal_ for ReLU or nn.init.xavier_normal_ for tanh",
    ),
    ("(nn.Residual / MLP(..., residual=True))", "(residual blocks: x + f(x))"),
    (
        "(no no_grad() or .data in the forward pass)",
        "(no torch.no_grad(), .detach() or .data in the forward)",
    ),
)


def _torch_diagnosis(diagnosis: Diagnosis) -> Diagnosis:
    diagnosis.evidence["theory"] = None  # mean-field theory is made for our plain MLPs only
    return in_torch_words(diagnosis)


def in_torch_words(diagnosis: Diagnosis) -> Diagnosis:
    """The same diagnosis, its suggestions in torch's names (verdict and evidence untouched)."""
    suggestions = []
    for text in diagnosis.suggestions:
        for our_words, torch_words in TORCH_WORDS:
            text = text.replace(our_words, torch_words)
        suggestions.append(text)
    diagnosis.suggestions = suggestions
    return diagnosis


def _activation_kinds(torch: Any) -> dict:
    """torch activation module class → our activation (its ``kind``, and its op for the local)."""
    nn = torch.nn
    return {
        nn.Sigmoid: ours.Sigmoid(),
        nn.Tanh: ours.Tanh(),
        nn.ReLU: ours.ReLU(),
        nn.LeakyReLU: ours.LeakyReLU(),
    }


@dataclass
class TorchLayer:
    """A layer of a torch model and the activation module after it (None if there is none);
    ``activation`` is our activation of the same kind (its ``kind``, and its op for the local)."""

    name: str
    module: Any
    activation: Any = None
    activation_name: str | None = None
    activation_module: Any = None


def torch_layers(model: Any) -> list[TorchLayer]:
    """The layers of ``model`` in ``named_modules`` order.

    The same rule as for our models: a layer owns a parameter called ``weight``; each activation
    module is paired with the closest layer before it.
    """
    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    kinds = _activation_kinds(torch)
    names = module_names(model, root_name(model, None))
    found: list[TorchLayer] = []
    for module, name in names.items():
        if isinstance(module._parameters.get("weight"), torch.Tensor):
            found.append(TorchLayer(name, module))
        elif type(module) in kinds and found and found[-1].activation is None:
            found[-1].activation = kinds[type(module)]
            if isinstance(module, torch.nn.LeakyReLU):  # its own slope, for its local
                found[-1].activation = ours.LeakyReLU(module.negative_slope)
            found[-1].activation_name = name
            found[-1].activation_module = module
    return found


class Watcher:
    """Forward hooks that keep each watched module's last output and, after backward, ∂L/∂output;
    for the modules in ``keep_inputs`` (the activations) also their last input."""

    def __init__(self, modules: list, keep_inputs: Sequence = ()):
        self.outputs: dict = {}
        self.inputs: dict = {}
        self.grads: dict = {}
        self.keep_inputs = set(map(id, keep_inputs))
        self.handles = [m.register_forward_hook(self._after) for m in modules]

    def _after(self, module: Any, args: Any, output: Any) -> None:
        torch = require_torch()
        if not isinstance(output, torch.Tensor):
            return
        self.outputs[module] = to_numpy(output)
        self.inputs.pop(module, None)
        if id(module) in self.keep_inputs and args and isinstance(args[0], torch.Tensor):
            self.inputs[module] = to_numpy(args[0])
        self.grads.pop(module, None)
        if output.requires_grad and torch.is_grad_enabled():
            output.register_hook(lambda grad, m=module: self.grads.__setitem__(m, to_numpy(grad)))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


def _activation_modules(layers: list[TorchLayer]) -> list:
    return [layer.activation_module for layer in layers if layer.activation is not None]


def _watcher(layers: list[TorchLayer]) -> Watcher:
    """Hooks on every layer and activation module; the activations' inputs kept for their locals."""
    activations = _activation_modules(layers)
    return Watcher([layer.module for layer in layers] + activations, keep_inputs=activations)


def activation_local(activation: Any, inputs: np.ndarray | None) -> np.ndarray | None:
    """The local derivative ∂output/∂input of our ``activation`` at the inputs torch recorded.

    torch keeps no local derivative we could read, so our own op is run once on the recorded
    input and its node's stored ``local_grads[0]`` is the local (σ′ = σ(1−σ), 1 − tanh² ...,
    from the one derivative table, rules.py) — the same number the diagnostics read from our
    own activation nodes.
    """
    if inputs is None:
        return None
    node = activation.forward(Tensor(inputs, requires_grad=True))
    return np.asarray(node.local_grads[0], dtype=np.float64) if node.local_grads else None


def measure_torch(layers: list, watcher: Watcher | None, step: int, loss: Any) -> StepRecord:
    """One :class:`StepRecord` of a torch model, from its parameters and the watcher's records."""
    readings = []
    for layer in layers:
        weight = layer.module._parameters["weight"]
        params = [(to_numpy(p), _grad(p)) for p in layer.module._parameters.values() if p is not None]
        reading = LayerReading(layer.name, to_numpy(weight), _grad(weight), params)
        reading.activation = layer.activation
        reading.activation_name = layer.activation_name
        if watcher is not None:
            reading.output_grad = watcher.grads.get(layer.module)
            if layer.activation is not None:
                reading.activation_output = watcher.outputs.get(layer.activation_module)
                reading.activation_grad = watcher.grads.get(layer.activation_module)
                reading.activation_local = activation_local(
                    layer.activation, watcher.inputs.get(layer.activation_module)
                )
        readings.append(reading)
    return step_record(step, loss_value(loss), readings)


def _grad(parameter: Any) -> np.ndarray | None:
    return None if parameter.grad is None else to_numpy(parameter.grad)


class TorchGradientMonitor(GradientMonitor):
    """:class:`~tinygrad_edu.diagnostics.GradientMonitor` for a ``torch.nn.Module``.

    ``GradientMonitor(torch_model)`` returns one. The same loop as for our models::

        monitor = GradientMonitor(model)
        for x, y in batches:
            opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward()
            monitor.record(loss)
            opt.step(); monitor.after_step()
        print(monitor.report())
        monitor.close()        # removes the hooks (or use `with GradientMonitor(model) as monitor:`)
    """

    def __init__(self, model: Any):
        layers = torch_layers(model)
        if not layers:
            raise ValueError(
                f"GradientMonitor: {type(model).__name__} has no layer with a 'weight' parameter to watch"
            )
        self.model = model
        self.layers = layers
        self.history: list[StepRecord] = []
        self._snapshot: dict[str, np.ndarray] | None = None
        self.watcher = _watcher(layers)

    def _weights(self) -> dict[str, np.ndarray]:
        return {layer.name: to_numpy(layer.module._parameters["weight"]) for layer in self.layers}

    def _measure(self, step: int, loss: Any) -> StepRecord:
        return measure_torch(self.layers, self.watcher, step, loss)

    def report(self, upto: int | None = None) -> Diagnosis:
        """The verdict over the recorded steps (the first ``upto`` of them if given), judged as
        for our models, its fixes in torch's names. The mean-field prediction our monitor adds
        for a plain MLP of ours is not made for a torch model (``evidence["theory"]`` is None)."""
        if not self.history:
            raise ValueError("GradientMonitor.report: nothing recorded yet; call record() after backward()")
        if upto is not None and (
            not isinstance(upto, int) or isinstance(upto, bool) or not 1 <= upto <= len(self.history)
        ):
            raise ValueError(
                f"GradientMonitor.report: upto must be an int from 1 to {len(self.history)} "
                f"(the steps recorded), got {upto!r}"
            )
        return _torch_diagnosis(judge(self.history if upto is None else self.history[:upto]))

    def close(self) -> None:
        """Remove the hooks from the model (the history stays)."""
        self.watcher.remove()

    def __enter__(self) -> TorchGradientMonitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GradientMonitor({type(self.model).__name__} (torch), {len(self.history)} steps)"


def _as_tensor(torch: Any, data: Any) -> Any:
    """A torch tensor; numpy floats in torch's default dtype (float32), as a model expects."""
    if isinstance(data, torch.Tensor):
        return data
    array = np.asarray(data)
    if np.issubdtype(array.dtype, np.floating):
        return torch.as_tensor(array, dtype=torch.get_default_dtype())
    return torch.as_tensor(array)


def diagnose_torch(
    model: Any, inputs: Any = None, targets: Any = None, loss_fn: Any = None, loss: Any = None
) -> Diagnosis:
    """:func:`tinygrad_edu.diagnostics.diagnose` for a ``torch.nn.Module``.

    With ``inputs`` and ``targets`` it runs one forward/backward with hooks that record each
    layer's ∂L/∂output and each activation's output and gradient: it zeroes the gradients, computes
    ``loss_fn(model(inputs), targets)`` (default: cross-entropy for integer targets, mean squared
    error otherwise) and calls ``backward()``; the gradients stay in the model, the parameters
    are never changed. Without inputs it judges the gradients of your own last ``backward()``
    (weight gradients only: nothing watched the forward).
    """
    torch = require_torch()
    layers = torch_layers(model)
    if not layers:
        raise ValueError(f"diagnose: {type(model).__name__} has no layer with a 'weight' parameter")
    watcher = None
    if inputs is not None:
        if targets is None:
            raise ValueError("diagnose: inputs given without targets")
        x, y = _as_tensor(torch, inputs), _as_tensor(torch, targets)
        if loss_fn is None:
            integer = not (y.is_floating_point() or y.is_complex())
            loss_fn = torch.nn.functional.cross_entropy if integer else torch.nn.functional.mse_loss
        watcher = _watcher(layers)
        try:
            with torch.enable_grad():
                loss = loss_fn(model(x), y)  # shape errors surface before any gradient changes
                model.zero_grad()
                loss.backward()
        finally:
            watcher.remove()
    if all(layer.module._parameters["weight"].grad is None for layer in layers):
        raise ValueError(
            "diagnose: no gradients yet; call loss.backward() first or pass inputs= and targets="
        )
    return _torch_diagnosis(judge([measure_torch(layers, watcher, 0, loss)]))


def trace_and_diagnose(model: Any, compute_loss: Any) -> tuple[Any, Diagnosis]:
    """One forward and one backward, drawn and judged: ``(graph, diagnosis)``.

    ``compute_loss()`` runs the forward (inside :func:`~tinygrad_edu.torch_scopes`, so the graph
    groups by module, and with the diagnostics' hooks); then :func:`~tinygrad_edu.from_torch`
    runs the backward. Both read the same pass: the graph's edges and the diagnosis's per-layer
    numbers are the gradients of one ``backward()``.
    """
    from .scopes import torch_scopes
    from .trace import from_torch

    layers = torch_layers(model)
    watcher = _watcher(layers)
    try:
        with torch_scopes(model) as scopes:
            loss = compute_loss()
        model.zero_grad()
        graph = from_torch(loss, model, scopes=scopes)
    finally:
        watcher.remove()
    if not layers:
        raise ValueError(f"diagnose: {type(model).__name__} has no layer with a 'weight' parameter")
    return graph, _torch_diagnosis(judge([measure_torch(layers, watcher, 0, loss)]))
