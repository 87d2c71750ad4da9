"""What mean-field theory predicts for a plain MLP's gradients, from the weights it has now.

For an MLP ``Linear → φ → Linear → φ → … → Linear`` the theory (:mod:`tinygrad_edu.theory`)
says, before any training step, by how much each layer multiplies the gradient:
‖∂L/∂h_l‖ ≈ √χ_l · ‖∂L/∂h_{l+1}‖ with χ_l = σ_{w,l+1}² E[φ′(√q_l z)²] (``h_l`` the output of
Linear ``l``, what the diagnostics call ‖∂L/∂out‖).

**Where σ_w² and σ_b² come from.** From the weights themselves, not from the init's name:
σ_{w,l}² = fan_in · mean(W_l²) and σ_{b,l}² = mean(b_l²) — the second moments the theory's
derivation uses (it needs E[W²] = σ_w²/fan_in, and a non-zero mean counts as part of it).
That is right whatever made the weights (a named init, a user's callable, a loaded state
dict), and after training it is what the weights are *now* — though trained weights are no
longer independent of each other, so the prediction then describes a random net with the same
scale rather than the trained one.

**Where q starts.** The first layer's pre-activation variance q_0 depends on the data: it is
read from the first Linear's last output (mean(h_0²) of the last forward pass) when there is
one, otherwise σ_{w,0}² · 1 + σ_{b,0}², i.e. inputs with unit second moment. From there
:func:`tinygrad_edu.theory.propagate` carries q_l layer by layer.

**What counts as a plain MLP.** Every layer a 2-D ``Linear``, consecutive widths matching,
one activation kind the theory knows after every layer but the last, no ``Residual``, no
active ``Dropout``, no recurrent module. For anything else :func:`predict` returns ``None``
(:func:`why_not` says why), and the diagnosis simply has no theory line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import theory
from ..formatting import MISSING, short_number
from .measure import layers_of
from .through_time import recurrent_modules

#: The depth named in the message ("expect 1e-3 after 30 layers").
HORIZON = 30


@dataclass(frozen=True)
class Prediction:
    """The theory's numbers for one plain MLP (see the module docstring).

    Attributes:
        activation: the activation's name in :mod:`tinygrad_edu.theory`.
        layers: the Linear layers' scope names, input side first.
        sigma_w2, sigma_b2: per layer, fan_in·mean(W²) and mean(b²).
        q: per layer, the predicted pre-activation variance q_l (q_0 as described above).
        q0_measured: whether q_0 was read from the last forward pass.
        gains: per pair of consecutive layers, √χ_l = predicted ‖∂L/∂h_l‖ / ‖∂L/∂h_{l+1}‖.
        mean_field: the infinite-depth picture for the median hidden σ_w², σ_b² (q* and χ₁).
    """

    activation: str
    layers: tuple[str, ...]
    sigma_w2: tuple[float, ...]
    sigma_b2: tuple[float, ...]
    q: tuple[float, ...]
    q0_measured: bool
    gains: tuple[float, ...]
    mean_field: theory.MeanField | None

    @property
    def first_over_last(self) -> float:
        """Predicted ‖∂L/∂h_first‖ / ‖∂L/∂h_last‖: the product of the gains."""
        return float(np.prod(self.gains)) if self.gains else 1.0

    def output_grad_norms(self, last: float) -> dict[str, float]:
        """Predicted ‖∂L/∂out‖ of every layer, anchored at the last layer's measured ``last``."""
        norms = [float(last)]
        for gain in reversed(self.gains):
            norms.append(norms[-1] * gain)
        return dict(zip(self.layers, reversed(norms)))

    def message(self, measured_first_over_last: float | None = None) -> str:
        """One paragraph: χ₁, the gain per layer, what it does over HORIZON layers and this net."""
        mf = self.mean_field
        w2 = _spread(self.sigma_w2[1:])
        b2 = _spread(self.sigma_b2[1:])
        text = f"mean field ({self.activation}; σ_w² = fan_in·mean(W²) = {w2}, σ_b² = mean(b²) = {b2}): "
        if mf is not None:
            text += (
                f"χ₁ = {short_number(mf.chi1)} ({_phase(mf.gain)}): each layer multiplies the gradient by ≈ "
                # gain**30 magnifies the gain's error thirtyfold: 2 digits are all it means
                f"{short_number(mf.gain)}; expect ×{mf.gain_over(HORIZON):.2g} after {HORIZON} layers. "
            )
        text += (
            f"For these {len(self.layers)} layers it predicts ‖∂L/∂out‖ first/last = "
            f"{short_number(self.first_over_last)}"
        )
        if measured_first_over_last is not None and math.isfinite(measured_first_over_last):
            text += f" (measured {short_number(measured_first_over_last)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        mf = self.mean_field
        return {
            "activation": self.activation,
            "layers": list(self.layers),
            "sigma_w2": list(self.sigma_w2),
            "sigma_b2": list(self.sigma_b2),
            "q": list(self.q),
            "q0_measured": self.q0_measured,
            "gains": list(self.gains),
            "first_over_last": self.first_over_last,
            "q_star": None if mf is None else mf.q_star,
            "chi1": None if mf is None else mf.chi1,
            "gain": None if mf is None else mf.gain,
            "depth_scale": None if mf is None else mf.depth_scale,
        }


def _phase(gain: float) -> str:
    """The phase in words, within the 1% a printed gain can show (theory.MeanField.phase is exact)."""
    if gain < 0.99:
        return "ordered: vanishing"
    if gain > 1.01:
        return "chaotic: exploding"
    return "at the edge of chaos"


def _spread(values: tuple[float, ...]) -> str:
    if not values:
        return MISSING
    lo, hi = min(values), max(values)
    if hi - lo <= 0.05 * max(abs(hi), 1e-300):
        return short_number(lo)
    return f"{short_number(lo)} … {short_number(hi)}"


def why_not(model: Any) -> str | None:
    """Why ``model`` is not a plain MLP the theory can describe (None if it is one)."""
    from ..nn.activations import Activation, LeakyReLU
    from ..nn.layers import Dropout, Linear, Residual

    if recurrent_modules(model):
        return "it has recurrent modules (see the through-time diagnosis)"
    layers = layers_of(model)
    if len(layers) < 2:
        return "fewer than two layers"
    for _, module in model.named_modules():
        if isinstance(module, Residual):
            return "it has skip connections (Residual)"
        if isinstance(module, Dropout) and module.training and module.p > 0:
            return "Dropout is active"
    kinds = set()
    for index, (name, layer, act) in enumerate(layers):
        if not isinstance(layer, Linear):
            return f"{name} is a {type(layer).__name__}, not a Linear"
        if index + 1 < len(layers):
            if act is None:
                return f"no activation after {name}"
            slope = act.negative_slope if isinstance(act, LeakyReLU) else None
            kinds.add((act.kind, slope, type(act).__name__ == "Lambda"))
            if layers[index + 1][1].in_features != layer.out_features:
                return f"{name} hands on {layer.out_features} features, the next layer takes another number"
        elif act is not None and not isinstance(act, Activation):
            return f"{name} is followed by a {type(act).__name__}"
    if len(kinds) != 1:
        return "the layers use different activations"
    kind, _, is_lambda = next(iter(kinds))
    if is_lambda:
        return "its activation is a user function"
    if kind not in theory.ACTIVATIONS:
        return f"the theory does not know the activation {kind!r}"
    return None


def predict(model: Any) -> Prediction | None:
    """The theory's prediction for a plain MLP (None for other models, see :func:`why_not`)."""
    if why_not(model) is not None:
        return None
    layers = layers_of(model)
    names = tuple(name for name, _, _ in layers)
    w2 = tuple(_weight_variance(layer) for _, layer, _ in layers)
    b2 = tuple(_bias_variance(layer) for _, layer, _ in layers)
    act = layers[0][2]
    first_output = getattr(layers[0][1], "last_output", None)
    if first_output is not None and getattr(first_output, "data", None) is not None:
        q0, measured = float(np.mean(np.asarray(first_output.data, dtype=np.float64) ** 2)), True
    else:
        q0, measured = w2[0] + b2[0], False
    try:
        along = theory.propagate(act, w2[1:], b2[1:], q0=q0)
    except theory.TheoryError:
        return None
    try:
        mf = theory.mean_field(act, float(np.median(w2[1:])), float(np.median(b2[1:])), q0=q0)
    except theory.TheoryError:
        mf = None
    return Prediction(
        theory.activation(act).name, names, w2, b2, along.q[: len(names)], measured, along.gains, mf
    )


def layer_gains(model: Any) -> dict[str, float] | None:
    """The gain mean-field theory predicts for every layer of the layer view, by scope.

    ``trace(loss).layers()`` splits the factor √χ_l between consecutive Linear outputs into two
    layers' gains. The activation after Linear l passes ``δ ⊙ φ′(h_l)`` down: with δ independent
    of h_l, E‖δ ⊙ φ′(h_l)‖² = E[φ′(√q_l z)²]·‖δ‖², so its predicted gain is √E[φ′(√q_l z)²].
    Linear l passes ``δ W_lᵀ`` down: E‖δ W_lᵀ‖² = σ_{w,l}²‖δ‖² (see :mod:`tinygrad_edu.theory`),
    so its predicted gain is σ_{w,l}. Their product is √χ_l. The first Linear is left out (what
    it passes down goes to the input, which usually needs no gradient).

    Pass the result as ``viz.draw(loss, group="layers", predicted=...)``. None for a model that
    is not a plain MLP (:func:`why_not`).
    """
    p = predict(model)
    if p is None:
        return None
    layers = layers_of(model)
    nl = theory.activation(layers[0][2])
    gains: dict[str, float] = {}
    for index, (name, _, act) in enumerate(layers):
        if index > 0:
            gains[name] = math.sqrt(p.sigma_w2[index])
        if index + 1 < len(layers):
            path = next(path for path, module in model.named_modules() if module is act)
            scope = f"{model.name}.{path}" if path else model.name
            gains[scope] = math.sqrt(theory.gaussian_mean(lambda x: nl.dphi(x) ** 2, p.q[index]))
    return gains


def evidence(model: Any, layers: dict[str, dict[str, Any]], ratio: float | None) -> dict[str, Any] | None:
    """The prediction as plain data for ``Diagnosis.evidence["theory"]`` (None if none applies):
    :meth:`Prediction.to_dict`, the one-paragraph ``message`` the report prints (with the
    measured first/last ``ratio``), and ``output_grad_norms``, the predicted ‖∂L/∂out‖ per layer
    anchored at the last layer's measured one (None before a backward) — the line
    ``viz.gradient_flow_chart(..., predicted=...)`` draws beside the measured one."""
    prediction = predict(model)
    if prediction is None:
        return None
    last = layers.get(prediction.layers[-1], {}).get("output_grad_norm")
    usable = last is not None and math.isfinite(last) and last > 0
    return {
        **prediction.to_dict(),
        "output_grad_norms": prediction.output_grad_norms(last) if last is not None and usable else None,
        "message": prediction.message(ratio),
    }


def _weight_variance(layer: Any) -> float:
    w = np.asarray(layer.weight.data, dtype=np.float64)
    return float(w.shape[0] * np.mean(w * w))  # weight layout (fan_in, fan_out)


def _bias_variance(layer: Any) -> float:
    if layer.bias is None:
        return 0.0
    b = np.asarray(layer.bias.data, dtype=np.float64)
    return float(np.mean(b * b))
