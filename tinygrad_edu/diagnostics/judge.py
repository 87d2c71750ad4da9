"""Judging recorded steps: thresholds → findings → one verdict, and what to do about it.

:func:`judge` applies the rules listed in the package docstring, in that order, to the
per-layer numbers (medians over the recent steps): every threshold crossed becomes a
:class:`~.report.Finding` that quotes the number, the constant and why it matters; the first
rule with a decisive finding names the verdict; :func:`_suggest` turns the verdict into
concrete fixes (for exploding gradients, a clipping threshold from the observed norms).

The thresholds are read from the package at call time (``diagnostics.VANISHING_RATIO`` …),
so that changing a constant there — ``monkeypatch.setattr(diagnostics, "VANISHING_RATIO",
…)`` in a test — changes the verdict. ``RECENT_STEPS`` is the default of ``recent``, fixed
when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import diagnostics
from ..formatting import percent, short_number
from .report import Diagnosis, Finding, StepRecord, safe_ratio
from .through_time import through_time_ratio


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


def judge(history: Sequence[StepRecord], recent: int = diagnostics.RECENT_STEPS) -> Diagnosis:
    """Apply the documented rules to recorded steps (the last ``recent`` for the ratios).

    The findings are listed in the order of the rules; :func:`_verdict` then picks the verdict.
    """
    names = list(history[-1].layers)
    per_layer = _layer_summaries(history, names, recent)
    ratios = _first_over_last(per_layer, names)
    losses = [record.loss for record in history if record.loss is not None]
    findings = [
        *_nonfinite(history, names),  # 1. nan/inf anywhere
        *_growth(ratios, names),  # 2. growth toward the input
        *_loss_jump(losses),  # 3. the loss jumps
        *_decay(ratios, names),  # 4. decay toward the input
        *_no_gradient(per_layer, losses),  # 4. (or a note) no gradient reaches any weight
        *_oversized_and_notes(per_layer),  # 5. steps bigger than the weights; saturated, dead units
        *_slow_first_layer(per_layer, names),  # note: the first layer barely moves
    ]
    through_time = _through_time_summaries(history, recent)
    findings += _through_time(through_time)  # rules 2 and 4 through time (recurrent modules)
    verdict = _verdict(findings)
    evidence = {"layers": per_layer, "ratios": ratios, "findings": findings, "loss": losses}
    if through_time:  # only for models with a recurrent module: other diagnoses are unchanged
        evidence["through_time"] = through_time
    return Diagnosis(verdict, evidence, _suggest(verdict, per_layer, history, findings))


def _layer_summaries(
    history: Sequence[StepRecord], names: list[str], recent: int
) -> dict[str, dict[str, Any]]:
    """Per layer: the last step's numbers, with the :data:`MEDIAN_KEYS` as medians over the
    last ``recent`` steps and the most nan/inf any of those steps had."""
    last = history[-1]
    window = history[-recent:]
    per_layer: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = [record.layers[name] for record in window if name in record.layers]
        summary = last.layers[name].as_dict()
        for key in MEDIAN_KEYS:
            summary[key] = _median([getattr(r, key) for r in rows])
        summary["grad_to_weight"] = safe_ratio(summary["weight_grad_norm"], summary["weight_norm"])
        summary["nonfinite"] = max(r.nonfinite for r in rows)
        per_layer[name] = summary
    return per_layer


def _first_over_last(per_layer: dict[str, dict[str, Any]], names: list[str]) -> dict[str, float]:
    """The first layer's number over the last layer's (nan with fewer than two layers)."""
    ratios = {"weight_grad": math.nan, "output_grad": math.nan, "update_ratio": math.nan}
    if len(names) >= 2:
        first, final = per_layer[names[0]], per_layer[names[-1]]
        ratios["weight_grad"] = safe_ratio(first["weight_grad_norm"], final["weight_grad_norm"])
        ratios["output_grad"] = safe_ratio(first["output_grad_norm"], final["output_grad_norm"])
        ratios["update_ratio"] = safe_ratio(first["update_ratio"], final["update_ratio"])
    return ratios


def _first_and_last(names: list[str]) -> tuple[str, str]:
    return (names[0], names[-1]) if names else ("?", "?")


#: How the findings name each first/last ratio.
_RATIO_LABELS = {"weight_grad": "‖∂L/∂W‖", "output_grad": "‖∂L/∂output‖", "update_ratio": "‖ΔW‖/‖W‖"}


def _nonfinite(history: Sequence[StepRecord], names: list[str]) -> list[Finding]:
    """Rule 1: any nan/inf in the loss, the gradients or the weights of any recorded step."""
    bad = sum(record.nonfinite for record in history)
    if not bad:
        return []
    where = [n for n in names if any(r.layers.get(n) and r.layers[n].nonfinite for r in history)]
    if len(where) > 3:
        place = f" in {len(where)} layers ({where[0]} … {where[-1]})"
    else:
        place = f" in {', '.join(where)}" if where else " in the loss"
    return [Finding("exploding", "nonfinite", float(bad), ">", 0.0, f"{bad} nan/inf values{place}")]


def _growth(ratios: dict[str, float], names: list[str]) -> list[Finding]:
    """Rule 2: ‖∂L/∂W‖ or ‖∂L/∂output‖, first layer over last, above EXPLODING_RATIO."""
    first_name, last_name = _first_and_last(names)
    findings = []
    for key in ("weight_grad", "output_grad"):
        r = ratios[key]
        if r > diagnostics.EXPLODING_RATIO:
            findings.append(
                Finding(
                    "exploding",
                    f"{key} first/last",
                    r,
                    ">",
                    diagnostics.EXPLODING_RATIO,
                    f"{_RATIO_LABELS[key]} of the first layer ({first_name}) is {short_number(r)}× "
                    "that of the last "
                    f"({last_name}) > EXPLODING_RATIO={diagnostics.EXPLODING_RATIO:g}: "
                    "gradients grow toward the input",
                )
            )
    return findings


def _loss_jump(losses: list[float]) -> list[Finding]:
    """Rule 3: the first step whose loss is LOSS_JUMP_FACTOR × the previous one, and above the first."""
    for t in range(1, len(losses)):
        before, now = losses[t - 1], losses[t]
        if (
            math.isfinite(before)
            and before > 0
            and now > diagnostics.LOSS_JUMP_FACTOR * before
            and now > losses[0]
        ):
            return [
                Finding(
                    "exploding",
                    "loss jump",
                    now / before,
                    ">",
                    diagnostics.LOSS_JUMP_FACTOR,
                    f"the loss jumped from {short_number(before)} to {short_number(now)} at step {t} "
                    f"(×{short_number(now / before)} > LOSS_JUMP_FACTOR={diagnostics.LOSS_JUMP_FACTOR:g})",
                )
            ]
    return []


def _decay(ratios: dict[str, float], names: list[str]) -> list[Finding]:
    """Rule 4: a first/last ratio (gradients or update ratios) below VANISHING_RATIO."""
    first_name, last_name = _first_and_last(names)
    findings = []
    for key in ("weight_grad", "output_grad", "update_ratio"):
        r = ratios[key]
        if r < diagnostics.VANISHING_RATIO:
            findings.append(
                Finding(
                    "vanishing",
                    f"{key} first/last",
                    r,
                    "<",
                    diagnostics.VANISHING_RATIO,
                    f"{_RATIO_LABELS[key]} of the first layer ({first_name}) is {short_number(r)}× "
                    "that of the last "
                    f"({last_name}) < VANISHING_RATIO={diagnostics.VANISHING_RATIO:g}: "
                    "the lower layers barely learn",
                )
            )
    return findings


def _no_gradient(per_layer: dict[str, dict[str, Any]], losses: list[float]) -> list[Finding]:
    """Rule 4, its limit: every layer's ‖∂L/∂W‖ is exactly 0 — no ratio can be formed (0/0),
    yet nothing learns. Vanishing, unless the loss itself is exactly 0 (nothing left to fit:
    then a note, and the verdict stays healthy)."""
    norms = [summary["weight_grad_norm"] for summary in per_layer.values()]
    if not norms or any(n is None or n != 0.0 for n in norms):
        return []
    if losses and losses[-1] == 0.0:
        return [
            Finding(
                "note",
                "zero gradients",
                0.0,
                "==",
                0.0,
                "the loss is exactly 0 and so is every weight gradient: there is nothing left to fit",
                decisive=False,
            )
        ]
    layers = f"all {len(norms)} layers" if len(norms) > 1 else "the only layer"
    return [
        Finding(
            "vanishing",
            "zero gradients",
            0.0,
            "==",
            0.0,
            f"‖∂L/∂W‖ is exactly 0 in {layers}: no gradient reaches any weight, so nothing learns "
            "(dead ReLUs, saturated units, all-zero weights, or a loss that does not depend on them)",
        )
    ]


def _oversized_and_notes(per_layer: dict[str, dict[str, Any]]) -> list[Finding]:
    """Rule 5 (a gradient or a step bigger than the weights) and the notes on units that pass
    (almost) no gradient: one finding per check, naming the worst layer."""
    checks = (
        _per_layer(
            "exploding",
            "grad/weight",
            {n: v["grad_to_weight"] for n, v in per_layer.items()},
            diagnostics.GRAD_TO_WEIGHT_HIGH,
            "GRAD_TO_WEIGHT_HIGH",
            "‖∂L/∂W‖/‖W‖",
            "(a step with lr = 0.1 would change the weights by more than their size)",
        ),
        _per_layer(
            "exploding",
            "update ratio",
            {n: v["update_ratio"] for n, v in per_layer.items()},
            diagnostics.UPDATE_RATIO_HIGH,
            "UPDATE_RATIO_HIGH",
            "the update ratio ‖ΔW‖/‖W‖",
            "(one step changed the weights by more than their own size)",
        ),
        _per_layer(
            "note",
            "saturated",
            {n: v["saturated_fraction"] for n, v in per_layer.items()},
            diagnostics.SATURATED_UNITS_HIGH,
            "SATURATED_UNITS_HIGH",
            "the fraction of saturated sigmoid/tanh units",
            f"(local derivative < {diagnostics.SATURATION_DERIVATIVE:g} × its maximum: "
            "they pass almost no gradient)",
        ),
        _per_layer(
            "note",
            "dead",
            {n: v["dead_fraction"] for n, v in per_layer.items()},
            diagnostics.DEAD_UNITS_HIGH,
            "DEAD_UNITS_HIGH",
            "the fraction of dead ReLUs",
            "(0 for the whole batch: no gradient flows through them)",
        ),
    )
    return [finding for finding in checks if finding is not None]


def _slow_first_layer(per_layer: dict[str, dict[str, Any]], names: list[str]) -> list[Finding]:
    """A note when the first layer's update ratio is below UPDATE_RATIO_LOW."""
    u = per_layer[names[0]]["update_ratio"] if names else None
    if u is None or not u < diagnostics.UPDATE_RATIO_LOW:
        return []
    first_name, _ = _first_and_last(names)
    return [
        Finding(
            "note",
            "first layer update ratio",
            u,
            "<",
            diagnostics.UPDATE_RATIO_LOW,
            f"the first layer ({first_name}) moves by {short_number(u)} of its size per step "
            f"< UPDATE_RATIO_LOW={diagnostics.UPDATE_RATIO_LOW:g} (≈1e-3 is typical)",
            decisive=False,
        )
    ]


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
    shown = percent(value) if quantity in ("saturated", "dead") else short_number(value)
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


def _through_time_summaries(history: Sequence[StepRecord], recent: int) -> dict[str, dict[str, Any]]:
    """Per recurrent module: ‖∂L/∂h_t‖ of the last step and the median ratio ‖∂L/∂h_1‖/‖∂L/∂h_T‖
    over the last ``recent`` steps."""
    out: dict[str, dict[str, Any]] = {}
    for name, norms in history[-1].through_time.items():
        ratios = [
            through_time_ratio(r.through_time[name]) for r in history[-recent:] if name in r.through_time
        ]
        out[name] = {"norms": list(norms), "steps": len(norms), "ratio": _median(ratios)}
    return out


def _through_time(summaries: dict[str, dict[str, Any]]) -> list[Finding]:
    """Rules 2 and 4 along time: ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ above EXPLODING_RATIO or below VANISHING_RATIO."""
    findings = []
    for name, summary in summaries.items():
        r, T = summary["ratio"], summary["steps"]
        if r is None or math.isnan(r) or T < 2:
            continue
        if r > diagnostics.EXPLODING_RATIO:
            findings.append(
                Finding(
                    "exploding",
                    "through_time first/last",
                    r,
                    ">",
                    diagnostics.EXPLODING_RATIO,
                    f"‖∂L/∂h_1‖ of {name} is {short_number(r)}× ‖∂L/∂h_T‖ over T = {T} steps "
                    f"> EXPLODING_RATIO={diagnostics.EXPLODING_RATIO:g}: gradients grow backwards in time",
                )
            )
        elif r < diagnostics.VANISHING_RATIO:
            findings.append(
                Finding(
                    "vanishing",
                    "through_time first/last",
                    r,
                    "<",
                    diagnostics.VANISHING_RATIO,
                    f"‖∂L/∂h_1‖ of {name} is {short_number(r)}× ‖∂L/∂h_T‖ over T = {T} steps "
                    f"< VANISHING_RATIO={diagnostics.VANISHING_RATIO:g}: the early steps barely learn "
                    "(vanishing through time)",
                )
            )
    return findings


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
            and record.loss > diagnostics.LOSS_JUMP_FACTOR * previous
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
    if any(f.quantity == "zero gradients" and f.decisive for f in findings):
        out.append(
            "check that the loss depends on the parameters (no no_grad() or .data in the forward pass) "
            "and look for units that are 0 for every sample (dead ReLUs) or weights that are all 0"
        )
    in_time = {f.points_to for f in findings if f.quantity == "through_time first/last"}
    if verdict == "vanishing" and "vanishing" in in_time:
        out.append(
            "use nn.LSTM or nn.GRU instead of nn.RNN: along the LSTM's cell state the local derivative "
            "is the forget gate f_t, not diag(1 − h²)·W_hh at every step; an LSTM that still vanishes "
            "needs a larger forget_bias (3.0 starts f_t at σ(3) ≈ 0.95, so f_t^T decays slowly)"
        )
        out.append(
            "initialise W_hh orthogonal (weight_hh_init='orthogonal': every singular value 1), or the "
            "identity for a ReLU RNN (weight_hh_init='identity', Le et al. 2015)"
        )
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
        if "exploding" in in_time:
            out.append(
                "initialise W_hh orthogonal (weight_hh_init='orthogonal'): its largest singular value λ₁ "
                "is then 1, and ‖∂h_T/∂h_0‖ ≤ (γ·λ₁)^T cannot grow (γ = 1 for tanh)"
            )
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
