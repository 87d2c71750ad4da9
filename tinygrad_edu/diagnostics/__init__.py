"""Gradient diagnostics: measure every layer, then name the problem — vanishing, exploding or healthy.

Backprop multiplies, layer after layer, by the weights and by the activation's derivative. When
that product shrinks, the layers near the input get almost no gradient and stop learning
(**vanishing**); when it grows, gradients and weights blow up, the loss jumps or turns NaN
(**exploding**). This module measures the product where it shows:

* per layer (a module that owns a ``weight``, e.g. :class:`~tinygrad_edu.nn.Linear`):
  ‖∂L/∂W‖, ‖W‖, ‖∂L/∂output‖ (the layer's δ), ‖∂L/∂activation‖ of the activation that
  follows it, the update ratio ‖ΔW‖/‖W‖ of the last optimiser step, the fraction of saturated
  sigmoid/tanh units and of dead ReLUs, and how many numbers are nan/inf;
* per step: the loss, the total gradient norm and the total weight norm.

A quantity that could not be measured (no gradient yet, no activation after the layer, no
optimiser step yet) is ``None``; one whose numbers are nan is ``nan``.

:class:`GradientMonitor` records these every training step; :func:`diagnose` does it once,
after a single ``backward()``. Both return a :class:`Diagnosis` with a ``verdict``, the
``evidence`` (numbers per layer, ratios, and the findings that crossed a threshold) and
``suggestions``. The thresholds are the module constants below.

Where the numbers come from: modules remember the output of their last call
(``module.last_output``), and after ``backward()`` every node of the graph holds its gradient,
so ∂L/∂activation is simply ``activation_module.last_output.grad``. Only calls made with
gradients enabled are remembered: run evaluation under ``no_grad()`` so that it does not
replace the training forward pass the diagnostics read.

The verdict, first rule that applies:

1. any nan/inf in the loss, the gradients or the weights → **exploding**;
2. ‖∂L/∂W‖ or ‖∂L/∂output‖ of the first layer over that of the last layer
   > :data:`EXPLODING_RATIO` → **exploding** (gradients grow toward the input);
3. a loss jump: ``loss[t] > LOSS_JUMP_FACTOR · loss[t−1]`` and above the first loss → **exploding**;
4. that first/last ratio < :data:`VANISHING_RATIO`, or the first layer's update ratio over the
   last layer's < :data:`VANISHING_RATIO` → **vanishing** (lower layers barely move);
5. a gradient larger than :data:`GRAD_TO_WEIGHT_HIGH` × its weights, or an update ratio above
   :data:`UPDATE_RATIO_HIGH` → **exploding** (steps bigger than the weights themselves);
6. otherwise **healthy**. Saturated or dead units, and update ratios far below 1e-3, are
   reported as notes.

"First" and "last" layer are the layers nearest the input and the output. The monitor's report
takes each per-layer number as the median over the last :data:`RECENT_STEPS` steps (ignoring
nan steps, which rule 1 already reports). An exploding diagnosis suggests a clipping
threshold derived from the observed norms (see :func:`_clip_threshold`).

Example::

    model = nn.MLP([64, 30, 30, 30, 10], activation="sigmoid", init="normal")
    loss = cross_entropy(model(Tensor(X)), y); loss.backward()
    print(diagnose(model, loss=loss))          # verdict: vanishing, with the numbers
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..graph import norm

__all__ = [
    "GradientMonitor",
    "diagnose",
    "Diagnosis",
    "Finding",
    "LayerStats",
    "StepRecord",
    "VERDICTS",
    "VANISHING_RATIO",
    "EXPLODING_RATIO",
    "LOSS_JUMP_FACTOR",
    "GRAD_TO_WEIGHT_HIGH",
    "UPDATE_RATIO_HIGH",
    "UPDATE_RATIO_LOW",
    "SATURATION_DERIVATIVE",
    "SATURATED_UNITS_HIGH",
    "DEAD_UNITS_HIGH",
    "RECENT_STEPS",
]

VERDICTS = ("vanishing", "exploding", "healthy")

#: First-layer / last-layer gradient norm below this → vanishing. Each sigmoid layer multiplies
#: the gradient by at most 1/4 times the weights, so a few small-init layers go far below it.
VANISHING_RATIO = 1e-2
#: First-layer / last-layer gradient norm above this → exploding (gradients grow toward the input).
EXPLODING_RATIO = 1e2
#: ``loss[t] > LOSS_JUMP_FACTOR · loss[t−1]`` (and above the first loss) counts as a loss jump.
LOSS_JUMP_FACTOR = 10.0
#: ‖∂L/∂W‖ / ‖W‖ above this in any layer → exploding: a plain SGD step with lr = 0.1 would
#: change the weights by more than their own size.
GRAD_TO_WEIGHT_HIGH = 10.0
#: ‖ΔW‖ / ‖W‖ of one step above this → exploding (the step rewrote the weights).
UPDATE_RATIO_HIGH = 1.0
#: ‖ΔW‖ / ‖W‖ below this is noted as "barely moves" (a healthy ratio is about 1e-3).
UPDATE_RATIO_LOW = 1e-5
#: A sigmoid/tanh unit counts as saturated when its local derivative is below this fraction of
#: the derivative's maximum: σ' < 0.05 · 1/4 (|x| > 4.4) or tanh' < 0.05 · 1 (|x| > 2.2).
SATURATION_DERIVATIVE = 0.05
#: A note is raised when more than this fraction of a layer's units is saturated.
SATURATED_UNITS_HIGH = 0.5
#: A note is raised when more than this fraction of a layer's ReLUs is dead (0 for the whole batch).
DEAD_UNITS_HIGH = 0.5
#: The monitor's report judges ratios on the median of the last this-many recorded steps.
RECENT_STEPS = 10

#: Maximum of each activation's derivative (what SATURATION_DERIVATIVE is a fraction of).
_DERIVATIVE_MAX = {"sigmoid": 0.25, "tanh": 1.0}


# --- what is measured -------------------------------------------------------------------


@dataclass
class LayerStats:
    """One layer at one step. Norms are Frobenius norms; ``None`` where nothing was measured
    (no gradient yet, no activation after the layer, no optimiser step), ``nan`` where the
    measured numbers themselves are nan."""

    name: str
    weight_norm: float
    weight_grad_norm: float | None = None
    output_grad_norm: float | None = None
    activation: str | None = None
    activation_kind: str | None = None
    activation_grad_norm: float | None = None
    saturated_fraction: float | None = None
    dead_fraction: float | None = None
    update_ratio: float | None = None
    nonfinite: int = 0

    @property
    def grad_to_weight(self) -> float:
        """‖∂L/∂W‖ / ‖W‖: the update ratio a plain SGD step with lr = 1 would make."""
        return _ratio(self.weight_grad_norm, self.weight_norm)

    def as_dict(self) -> dict[str, Any]:
        return {
            "weight_grad_norm": self.weight_grad_norm,
            "weight_norm": self.weight_norm,
            "grad_to_weight": self.grad_to_weight,
            "output_grad_norm": self.output_grad_norm,
            "activation": self.activation,
            "activation_kind": self.activation_kind,
            "activation_grad_norm": self.activation_grad_norm,
            "saturated_fraction": self.saturated_fraction,
            "dead_fraction": self.dead_fraction,
            "update_ratio": self.update_ratio,
            "nonfinite": self.nonfinite,
        }


@dataclass
class StepRecord:
    """Everything measured at one step."""

    step: int
    loss: float | None  # None when record() was not given the loss
    layers: dict[str, LayerStats]
    total_grad_norm: float | None  # ‖all the layers' parameter gradients‖ as one vector
    total_weight_norm: float  # ‖all weight matrices‖ as one vector
    nonfinite: int


@dataclass
class Finding:
    """A threshold that was crossed (or a note): ``quantity`` ``comparison`` ``threshold``."""

    points_to: str  # "vanishing", "exploding" or "note"
    quantity: str
    value: float
    comparison: str
    threshold: float
    message: str
    decisive: bool = True

    def __str__(self) -> str:
        return self.message


@dataclass
class Diagnosis:
    """A verdict with its evidence and what to do about it.

    Attributes:
        verdict: "vanishing", "exploding" or "healthy".
        evidence: ``{"layers": {name: {quantity: number}}, "ratios": {...}, "findings":
            [Finding, ...], "loss": [...]}``.
        suggestions: concrete fixes, most relevant first.
    """

    verdict: str
    evidence: dict[str, Any]
    suggestions: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return self.evidence["findings"]

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        return self.evidence["layers"]

    @property
    def ratios(self) -> dict[str, float]:
        return self.evidence["ratios"]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for strict JSON: findings as dicts, nan/inf as None."""
        evidence = dict(self.evidence)
        evidence["findings"] = [vars(f).copy() for f in self.findings]
        return _plain({"verdict": self.verdict, "evidence": evidence, "suggestions": list(self.suggestions)})

    def __str__(self) -> str:
        lines = [f"Diagnosis: {self.verdict.upper()}"]
        rows = [("layer", "‖∂L/∂W‖", "‖∂L/∂out‖", "‖∂L/∂act‖", "‖ΔW‖/‖W‖", "saturated", "dead", "nan/inf")]
        for name, stats in self.layers.items():
            rows.append(
                (
                    name,
                    _fmt(stats["weight_grad_norm"]),
                    _fmt(stats["output_grad_norm"]),
                    _fmt(stats["activation_grad_norm"]),
                    _fmt(stats["update_ratio"]),
                    _pct(stats["saturated_fraction"]),
                    _pct(stats["dead_fraction"]),
                    str(stats["nonfinite"]),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for name, *numbers in rows:  # names left-aligned, numbers right-aligned
            cells = [name.ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(numbers, widths[1:])]
            lines.append("  " + "  ".join(cells))
        ratios = {k: v for k, v in self.ratios.items() if not math.isnan(v)}
        if ratios:
            lines.append("Ratios (first layer / last layer):")
            lines.extend(f"  {k} = {_fmt(v)}" for k, v in ratios.items())
        losses = self.evidence.get("loss") or []
        if losses:
            shown = ", ".join(f"{x:.3g}" for x in losses[-5:])
            lines.append(f"Loss ({len(losses)} steps, last {min(5, len(losses))}): {shown}")
        lines.append("Evidence:" if self.findings else "Evidence: no threshold crossed")
        lines.extend(f"  - {f.message}" for f in self.findings)
        if self.suggestions:
            lines.append("Suggestions:")
            lines.extend(f"  - {s}" for s in self.suggestions)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Diagnosis(verdict={self.verdict!r}, findings={len(self.findings)})"


# --- reading a model ----------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float:
    """a / b; nan when either is missing or nan, or both are 0."""
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return math.nan
    if b == 0:
        return math.nan if a == 0 else math.inf
    return a / b


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _pct(x: float | None) -> str:
    if x is None:
        return "—"
    return "nan" if math.isnan(x) else f"{100 * x:.0f}%"


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _number(x: float | None) -> float:
    """For charts: a missing measurement becomes nan (drawn as a gap marker, never dropped)."""
    return math.nan if x is None else float(x)


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


def _layers_of(model: Any) -> list[tuple[str, Any, Any | None]]:
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
    for name, layer, activation in _layers_of(model):
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
    loss_value = _loss_value(loss)
    if loss_value is not None and not math.isfinite(loss_value):
        nonfinite += 1
    weights = math.sqrt(sum(stats.weight_norm**2 for stats in layers.values()))
    return StepRecord(step, loss_value, layers, _total_norm(grads), weights, nonfinite)


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
        limit = SATURATION_DERIVATIVE * _DERIVATIVE_MAX[activation.kind]
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
    if not grads:
        return None
    return float(math.sqrt(sum(norm(g) ** 2 for g in grads)))


# --- judging ------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    """The median of the measured finite values; nan if every measured value is nan, None if
    nothing was measured. (Steps with nan/inf are evidence on their own; the other steps
    still show how the gradient was scaled across layers.)"""
    measured = [v for v in values if v is not None]
    if not measured:
        return None
    finite = [v for v in measured if not math.isnan(v)]
    return float(np.median(finite)) if finite else math.nan


#: Per-layer quantities that the monitor's report takes as medians over the recent steps.
MEDIAN_KEYS = (
    "weight_grad_norm",
    "output_grad_norm",
    "activation_grad_norm",
    "update_ratio",
    "saturated_fraction",
    "dead_fraction",
)


def _judge(history: Sequence[StepRecord], recent: int = RECENT_STEPS) -> Diagnosis:
    """Apply the documented rules to recorded steps (the last ``recent`` for the ratios)."""
    last = history[-1]
    names = list(last.layers)
    window = history[-recent:]
    per_layer: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = [record.layers[name] for record in window if name in record.layers]
        summary = last.layers[name].as_dict()
        for key in MEDIAN_KEYS:
            summary[key] = _median([getattr(r, key) for r in rows])
        summary["grad_to_weight"] = _ratio(summary["weight_grad_norm"], summary["weight_norm"])
        summary["nonfinite"] = max(r.nonfinite for r in rows)
        per_layer[name] = summary
    losses = [record.loss for record in history if record.loss is not None]
    findings: list[Finding] = []
    ratios = {"weight_grad": math.nan, "output_grad": math.nan, "update_ratio": math.nan}
    if len(names) >= 2:
        first, final = per_layer[names[0]], per_layer[names[-1]]
        ratios["weight_grad"] = _ratio(first["weight_grad_norm"], final["weight_grad_norm"])
        ratios["output_grad"] = _ratio(first["output_grad_norm"], final["output_grad_norm"])
        ratios["update_ratio"] = _ratio(first["update_ratio"], final["update_ratio"])
    first_name = names[0] if names else "?"
    last_name = names[-1] if names else "?"

    # 1. non-finite numbers
    bad = sum(record.nonfinite for record in history)
    if bad:
        where = [n for n in names if any(r.layers.get(n) and r.layers[n].nonfinite for r in history)]
        if len(where) > 3:
            place = f" in {len(where)} layers ({where[0]} … {where[-1]})"
        else:
            place = f" in {', '.join(where)}" if where else " in the loss"
        findings.append(
            Finding("exploding", "nonfinite", float(bad), ">", 0.0, f"{bad} nan/inf values{place}")
        )
    # 2. growth toward the input
    labels = {"weight_grad": "‖∂L/∂W‖", "output_grad": "‖∂L/∂output‖", "update_ratio": "‖ΔW‖/‖W‖"}
    for key in ("weight_grad", "output_grad"):
        r = ratios[key]
        if r > EXPLODING_RATIO:
            findings.append(
                Finding(
                    "exploding",
                    f"{key} first/last",
                    r,
                    ">",
                    EXPLODING_RATIO,
                    f"{labels[key]} of the first layer ({first_name}) is {_fmt(r)}× that of the last "
                    f"({last_name}) > EXPLODING_RATIO={EXPLODING_RATIO:g}: gradients grow toward the input",
                )
            )
    # 3. loss jumps
    for t in range(1, len(losses)):
        before, now = losses[t - 1], losses[t]
        if math.isfinite(before) and before > 0 and now > LOSS_JUMP_FACTOR * before and now > losses[0]:
            findings.append(
                Finding(
                    "exploding",
                    "loss jump",
                    now / before,
                    ">",
                    LOSS_JUMP_FACTOR,
                    f"the loss jumped from {_fmt(before)} to {_fmt(now)} at step {t} "
                    f"(×{_fmt(now / before)} > LOSS_JUMP_FACTOR={LOSS_JUMP_FACTOR:g})",
                )
            )
            break
    # 4. decay toward the input
    for key in ("weight_grad", "output_grad", "update_ratio"):
        r = ratios[key]
        if r < VANISHING_RATIO:
            findings.append(
                Finding(
                    "vanishing",
                    f"{key} first/last",
                    r,
                    "<",
                    VANISHING_RATIO,
                    f"{labels[key]} of the first layer ({first_name}) is {_fmt(r)}× that of the last "
                    f"({last_name}) < VANISHING_RATIO={VANISHING_RATIO:g}: the lower layers barely learn",
                )
            )
    # 5. steps bigger than the weights
    grad_to_weight = {n: v["grad_to_weight"] for n, v in per_layer.items()}
    for layer_finding in (
        _per_layer(
            "exploding",
            "grad/weight",
            grad_to_weight,
            GRAD_TO_WEIGHT_HIGH,
            "GRAD_TO_WEIGHT_HIGH",
            "‖∂L/∂W‖/‖W‖",
            "(a step with lr = 0.1 would change the weights by more than their size)",
        ),
        _per_layer(
            "exploding",
            "update ratio",
            {n: v["update_ratio"] for n, v in per_layer.items()},
            UPDATE_RATIO_HIGH,
            "UPDATE_RATIO_HIGH",
            "the update ratio ‖ΔW‖/‖W‖",
            "(one step changed the weights by more than their own size)",
        ),
        # notes: units that pass (almost) no gradient
        _per_layer(
            "note",
            "saturated",
            {n: v["saturated_fraction"] for n, v in per_layer.items()},
            SATURATED_UNITS_HIGH,
            "SATURATED_UNITS_HIGH",
            "the fraction of saturated sigmoid/tanh units",
            f"(local derivative < {SATURATION_DERIVATIVE:g} × its maximum: they pass almost no gradient)",
        ),
        _per_layer(
            "note",
            "dead",
            {n: v["dead_fraction"] for n, v in per_layer.items()},
            DEAD_UNITS_HIGH,
            "DEAD_UNITS_HIGH",
            "the fraction of dead ReLUs",
            "(0 for the whole batch: no gradient flows through them)",
        ),
    ):
        if layer_finding is not None:
            findings.append(layer_finding)
    u = per_layer[names[0]]["update_ratio"] if names else None
    if u is not None and u < UPDATE_RATIO_LOW:
        findings.append(
            Finding(
                "note",
                "first layer update ratio",
                u,
                "<",
                UPDATE_RATIO_LOW,
                f"the first layer ({first_name}) moves by {_fmt(u)} of its size per step "
                f"< UPDATE_RATIO_LOW={UPDATE_RATIO_LOW:g} (≈1e-3 is typical)",
                decisive=False,
            )
        )
    verdict = _verdict(findings)
    evidence = {"layers": per_layer, "ratios": ratios, "findings": findings, "loss": losses}
    return Diagnosis(verdict, evidence, _suggest(verdict, per_layer, history, findings))


def _per_layer(
    points_to: str,
    quantity: str,
    values: dict[str, float],
    threshold: float,
    constant: str,
    what: str,
    why: str,
) -> Finding | None:
    """One finding for a per-layer check: which layers exceed ``threshold``, and the worst one."""
    over = {name: v for name, v in values.items() if v is not None and v > threshold}
    if not over:
        return None
    worst = max(over, key=lambda name: over[name])
    value = over[worst]
    shown = _pct(value) if quantity in ("saturated", "dead") else _fmt(value)
    where = worst if len(over) == 1 else f"{len(over)} of {len(values)} layers, most in {worst}"
    return Finding(
        points_to,
        quantity,
        value,
        ">",
        threshold,
        f"{what} exceeds {constant}={threshold:g} in {where} ({shown}) {why}",
        decisive=points_to != "note",
    )


def _verdict(findings: list[Finding]) -> str:
    """The documented order: nan/inf, growth, loss jumps, decay, oversize steps, healthy."""
    decisive = [f for f in findings if f.decisive]
    order = [
        lambda f: f.quantity == "nonfinite",
        lambda f: f.points_to == "exploding" and f.quantity.endswith("first/last"),
        lambda f: f.quantity == "loss jump",
        lambda f: f.points_to == "vanishing",
        lambda f: f.points_to == "exploding",
    ]
    for rule in order:
        for finding in decisive:
            if rule(finding):
                return finding.points_to
    return "healthy"


def _clip_threshold(history: Sequence[StepRecord]) -> float:
    """A ``max_norm`` for :func:`~tinygrad_edu.optim.clip_grad_norm_` from the observed norms.

    The smaller of (a) the median total gradient norm of the steps *before* the first sign of
    trouble (a nan/inf or a loss jump) — the size of a normal step, the usual recipe — and
    (b) the total weight norm of the first step, so that a clipped gradient is never larger
    than the weights themselves. Rounded to two significant digits.
    """
    calm = []
    for index, record in enumerate(history):
        previous = history[index - 1].loss if index else None
        jumped = (
            previous is not None
            and record.loss is not None
            and math.isfinite(previous)
            and previous > 0
            and record.loss > LOSS_JUMP_FACTOR * previous
        )
        if record.nonfinite or jumped:
            break
        calm.append(record.total_grad_norm)
    options = (_median(calm), history[0].total_weight_norm)
    candidates = [c for c in options if c is not None and math.isfinite(c) and c > 0]
    value = min(candidates) if candidates else 1.0
    return float(f"{value:.2g}")


def _suggest(
    verdict: str, per_layer: dict[str, dict[str, Any]], history: Sequence[StepRecord], findings: list[Finding]
) -> list[str]:
    kinds = {s["activation_kind"] for s in per_layer.values() if s["activation_kind"]}
    saturating = kinds & {"sigmoid", "tanh"}
    out: list[str] = []
    if verdict == "vanishing":
        if saturating:
            out.append(
                f"replace {'/'.join(sorted(saturating))} by ReLU (or leaky ReLU/GELU): their derivative "
                "is at most 1/4 (sigmoid) or 1 and ≈ 0 when saturated, ReLU's is 1 for active units"
            )
        out.append(
            "initialise with the variance that keeps signals alive: init='xavier_normal' (Glorot) for "
            "tanh/sigmoid, init='he_normal' (√(2/fan_in)) for ReLU; small weights such as N(0, 0.01²) "
            "shrink the gradient at every layer"
        )
        out.append("add skip connections (nn.Residual / MLP(..., residual=True)) or use fewer layers")
        out.append("an adaptive optimiser (Adam) rescales each layer's step, which partly hides the problem")
    elif verdict == "exploding":
        threshold = _clip_threshold(history)
        out.append(
            f"clip gradients: optim.clip_grad_norm_(model.parameters(), max_norm={threshold:g}) "
            "(derived from the observed gradient norms)"
        )
        out.append("use a smaller learning rate (divide it by 10)")
        out.append(
            "initialise with smaller weights: init='he_normal' for ReLU or 'xavier_normal' for tanh "
            "(variance 2/fan_in or 2/(fan_in+fan_out)) instead of large ones"
        )
    else:
        low = [f for f in findings if f.points_to == "note"]
        if low:
            out.append("no vanishing or exploding gradients; see the notes above")
        else:
            out.append("nothing to fix: gradient norms are within a factor of 100 across layers")
    return out


# --- public entry points ---------------------------------------------------------------------


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

    def __init__(self, model: Any):
        layers = _layers_of(model)
        if not layers:
            raise ValueError(
                f"GradientMonitor: {type(model).__name__} has no layer with a 'weight' parameter to watch"
            )
        self.model = model
        self.history: list[StepRecord] = []
        self._snapshot: dict[str, np.ndarray] | None = None

    def _weights(self) -> dict[str, np.ndarray]:
        return {
            name: np.array(layer._parameters["weight"].data, copy=True)
            for name, layer, _ in _layers_of(self.model)
        }

    def _fill_update_ratio(self) -> None:
        if self._snapshot is None or not self.history:
            return
        record = self.history[-1]
        now = self._weights()
        for name, before in self._snapshot.items():
            if name in record.layers and name in now and now[name].shape == before.shape:
                record.layers[name].update_ratio = _ratio(norm(now[name] - before), norm(before))
        self._snapshot = None

    def record(self, loss: Any = None) -> StepRecord:
        """Measure the model now (call after ``backward()``); returns the new record."""
        _loss_value(loss)  # a bad loss is rejected before anything is recorded
        self._fill_update_ratio()
        record = _measure(self.model, len(self.history), loss)
        self.history.append(record)
        self._snapshot = self._weights()
        return record

    def after_step(self) -> None:
        """Compute the update ratio ‖ΔW‖/‖W‖ of the step just taken (call after ``opt.step()``)."""
        self._fill_update_ratio()

    @property
    def losses(self) -> list[float]:
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

    def report(self) -> Diagnosis:
        """The verdict over the recorded steps (ratios from the last :data:`RECENT_STEPS`)."""
        if not self.history:
            raise ValueError("GradientMonitor.report: nothing recorded yet; call record() after backward()")
        return _judge(self.history)

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
    model for you to inspect. The parameters are never changed.

    Raises:
        ValueError: no gradient to judge (no backward yet and no inputs), or inputs without targets.
    """
    if inputs is not None:
        if targets is None:
            raise ValueError("diagnose: inputs given without targets")
        loss = _one_backward(model, inputs, targets, loss_fn)
    layers = _layers_of(model)
    if not layers:
        raise ValueError(f"diagnose: {type(model).__name__} has no layer with a 'weight' parameter")
    if all(layer._parameters["weight"].grad is None for _, layer, _ in layers):
        raise ValueError(
            "diagnose: no gradients yet; call loss.backward() first or pass inputs= and targets="
        )
    return _judge([_measure(model, 0, loss)])


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
