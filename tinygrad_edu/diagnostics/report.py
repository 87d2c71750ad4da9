"""What the diagnostics produce: the numbers of one layer, of one step, a finding and the diagnosis.

:class:`LayerStats` and :class:`StepRecord` are what :mod:`.measure` reads from a model;
:class:`Finding` and :class:`Diagnosis` are what :mod:`.judge` concludes. ``str(diagnosis)``
is the table a user reads; :meth:`Diagnosis.to_dict` is the same as strict JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..formatting import optional_number, percent, short_number


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
        return safe_ratio(self.weight_grad_norm, self.weight_norm)

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
    #: Per recurrent module (nn.RNN/LSTM/GRU): ‖∂L/∂h_t‖ for t = 1 … T of its last layer.
    through_time: dict[str, list[float]] = field(default_factory=dict)


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

    @property
    def theory(self) -> dict[str, Any] | None:
        """What mean-field theory predicts for a plain MLP (see :mod:`.predict`), else None."""
        return self.evidence.get("theory")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for strict JSON: findings as dicts, nan/inf as None."""
        evidence = dict(self.evidence)
        evidence["findings"] = [vars(f).copy() for f in self.findings]
        return _plain({"verdict": self.verdict, "evidence": evidence, "suggestions": list(self.suggestions)})

    def __str__(self) -> str:
        lines = [f"Diagnosis: {self.verdict.upper()}"]
        rows = [("layer", "‖∂L/∂W‖", "‖∂L/∂out‖", "‖∂L/∂act‖", "‖ΔW‖/‖W‖", "saturated", "dead", "nan/inf")]
        # L1, L2 …: the numbering of Graph.layers() and of the demo (the k-th layer with weights)
        for number, (name, stats) in enumerate(self.layers.items(), start=1):
            rows.append(
                (
                    f"L{number} {name}",
                    optional_number(stats["weight_grad_norm"]),
                    optional_number(stats["output_grad_norm"]),
                    optional_number(stats["activation_grad_norm"]),
                    optional_number(stats["update_ratio"]),
                    percent(stats["saturated_fraction"]),
                    percent(stats["dead_fraction"]),
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
            lines.extend(f"  {k} = {optional_number(v)}" for k, v in ratios.items())
        through_time = self.evidence.get("through_time") or {}
        if through_time:
            lines.append("Through time (‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ of each recurrent module):")
            lines.extend(
                f"  {k} = {optional_number(v['ratio'])} over T = {v['steps']}"
                for k, v in through_time.items()
            )
        if self.theory is not None:
            lines.append("Theory: " + self.theory["message"])
        losses = self.evidence.get("loss") or []
        if losses:
            shown = ", ".join(short_number(x) for x in losses[-5:])
            lines.append(f"Loss ({len(losses)} steps, last {min(5, len(losses))}): {shown}")
        lines.append("Evidence:" if self.findings else "Evidence: no threshold crossed")
        lines.extend(f"  - {f.message}" for f in self.findings)
        if self.suggestions:
            lines.append("Suggestions:")
            lines.extend(f"  - {s}" for s in self.suggestions)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Diagnosis(verdict={self.verdict!r}, findings={len(self.findings)})"


# --- ratios, and numbers as text or strict JSON ---------------------------------------------


def safe_ratio(a: float | None, b: float | None) -> float:
    """a / b; nan when either is missing or nan, or both are 0."""
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return math.nan
    if b == 0:
        return math.nan if a == 0 else math.inf
    return a / b


#: A table cell: 3 significant digits, ``—`` for a quantity not measured
#: (:func:`tinygrad_edu.formatting.optional_number`).
fmt_number = optional_number
#: A fraction of units in whole percent, ``—`` when not measured (:func:`tinygrad_edu.formatting.percent`).
fmt_percent = percent


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
