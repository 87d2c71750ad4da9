"""Schoenholz et al. (2017): random tanh nets vanish, explode or keep their gradient where theory says.

A random tanh net of ``depth`` square layers of ``width`` units, ``W ~ N(0, σ_w²/width)``,
``b ~ N(0, σ_b²)``, inputs ``x ~ N(0, 1)`` (so the first layer's q is σ_w² + σ_b²), and a loss
``Σ R ⊙ tanh(h_depth)`` with a random ``R ~ N(0, 1)``: a linear readout with no preferred
direction, so the gradient that enters the last layer is as random as the theory assumes and
biases no layer. One backward pass; ``‖∂L/∂h_l‖`` is read from the ``.grad`` of every
Linear's output node.

**Measured gain** of one net: the geometric mean of ‖∂L/∂h_l‖ / ‖∂L/∂h_{l+1}‖ over the layers
after the first :data:`SKIP` (where q is still on its way to q*), which telescopes to
``(‖∂L/∂h_SKIP‖ / ‖∂L/∂h_last‖)^(1/(depth − 1 − SKIP))``; then the median over ``seeds`` nets.
**Predicted**: √χ₁ of :func:`tinygrad_edu.theory.mean_field` (the infinite-depth value), and
``predicted_at_depth``, the geometric mean of the per-layer gains √χ_l of
:func:`tinygrad_edu.theory.propagate` over the same layers — what the theory says for this
finite depth, where q may not have settled (near σ_w² = 1, σ_b² = 0, q_l ~ 1/l).

The phase diagram colours each grid point by the measured ``log10(‖∂L/∂h_1‖ / ‖∂L/∂h_depth‖)``
(blue: vanishing towards the input, red: exploding) and draws the predicted critical line
σ_w²(σ_b²) with χ₁ = 1 from :func:`tinygrad_edu.theory.critical_sigma_w2`.

JSON (``tinygrad-edu experiment edge_of_chaos --json``)::

    {"experiment": "edge_of_chaos", "seed": 0,
     "config": {"activation": "tanh", "width": 256, "depth": 40, "batch": 16, "seeds": 3,
                "skip": 5, "sigma_w2": [0.5, ...], "sigma_b2": [0.0, 0.05, ...], "quick": false},
     "results": {
       "grid": [{"sigma_w2": 0.5, "sigma_b2": 0.0, "q_star": 0.0, "chi1": 0.5,
                 "predicted": 0.707, "predicted_at_depth": 0.707, "measured": 0.706,
                 "measured_per_seed": [...], "relative_error": -0.002,
                 "log10_ratio": -5.9, "predicted_log10_ratio": -5.9}, ...],
       "critical_line": [{"sigma_b2": 0.0, "sigma_w2": 1.0}, ...],      # χ₁ = 1 (theory)
       "crossings": [{"sigma_b2": 0.05, "predicted": 1.76, "measured": 1.77}, ...],
       "agreement": {"max_relative_error": 0.03, "median_relative_error": 0.005,
                     "max_relative_error_at_depth": 0.02, "phase_agreement": 1.0},
       "profiles": [{"sigma_w2": 1.0, "sigma_b2": 0.05, "measured": [‖∂L/∂h_1‖, ...],
                     "predicted": [...]}, ...]}}     # ordered, critical, chaotic

``crossings.measured`` is where the measured gain crosses 1 along the σ_w² grid (linear
interpolation of log gain; null if it does not cross). ``profiles`` are three single nets at
σ_b² = 0.05 — ordered (σ_w² = 1), critical, chaotic (σ_w² = 3) — with ‖∂L/∂h_l‖ of every layer
and the prediction: the last layer's measured norm times the product of the per-layer gains.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, nn, theory
from ..graph import norm
from .common import Progress, format_table, make_result, median, run_experiment, say

NAME = "edge_of_chaos"
TITLE = "Schoenholz et al. 2017: random tanh nets vanish or explode either side of χ₁ = 1"
RESULT_KEYS = ("grid", "critical_line", "crossings", "agreement", "profiles")

ACTIVATION = "tanh"
#: Layers left out at the input side while q settles on q*.
SKIP = 5
#: The three nets drawn layer by layer: σ_b² = 0.05 and σ_w² ordered, critical (from theory), chaotic.
PROFILE_SIGMA_B2, PROFILE_SIGMA_W2 = 0.05, (1.0, 3.0)


def random_net(
    sigma_w2: float,
    sigma_b2: float,
    width: int,
    depth: int,
    generator: np.random.Generator,
    activation=ACTIVATION,
) -> nn.Sequential:
    """``depth`` × (Linear(width, width) → activation), W ~ N(0, σ_w²/width), b ~ N(0, σ_b²)."""
    weight = nn.init.normal(std=math.sqrt(sigma_w2 / width))
    bias = nn.init.normal(std=math.sqrt(sigma_b2)) if sigma_b2 > 0 else "zeros"
    modules: list[nn.Module] = []
    for _ in range(depth):
        modules += [
            nn.Linear(width, width, init=weight, bias_init=bias, rng=generator),
            nn.ACTIVATIONS[activation](),
        ]
    return nn.Sequential(*modules)


def delta_norms(model: nn.Sequential, batch: int, generator: np.random.Generator) -> np.ndarray:
    """‖∂L/∂h_l‖ of every Linear output after one backward of the random readout Σ R ⊙ out.

    The inputs are N(0, 1); ``R`` is N(0, 1) and fixed by ``generator`` (drawn after them).
    """
    linears = [m for m in model if isinstance(m, nn.Linear)]
    x = Tensor(generator.normal(size=(batch, linears[0].in_features)), label="x")
    out = model(x)
    readout = Tensor(generator.normal(size=out.shape), label="R")
    (out * readout).sum().backward()
    return np.array([norm(linear.last_output.grad) for linear in linears])


def per_layer_gain(norms: np.ndarray, skip: int = SKIP) -> float:
    """Geometric mean of ‖δ_l‖/‖δ_{l+1}‖ for l ≥ skip: (‖δ_skip‖/‖δ_last‖)^(1/(L − 1 − skip))."""
    return float((norms[skip] / norms[-1]) ** (1.0 / (len(norms) - 1 - skip)))


def net_generator(seed: int, i: int, j: int, replicate: int) -> np.random.Generator:
    """The generator of the net at grid point (i, j), replicate ``replicate``: reproducible alone."""
    return np.random.default_rng([seed, i, j, replicate])


def measure_point(
    sigma_w2: float,
    sigma_b2: float,
    *,
    width: int,
    depth: int,
    batch: int,
    seeds: int,
    seed: int,
    i: int,
    j: int,
) -> dict[str, Any]:
    """One grid point: theory and the median measurement over ``seeds`` nets."""
    q0 = sigma_w2 + sigma_b2  # the first layer's pre-activation variance for inputs N(0, 1)
    mf = theory.mean_field(ACTIVATION, sigma_w2, sigma_b2, q0=q0)
    along = theory.propagate(ACTIVATION, [sigma_w2] * (depth - 1), [sigma_b2] * (depth - 1), q0=q0)
    at_depth = float(np.exp(np.mean(np.log(along.gains[SKIP:]))))
    gains, ratios = [], []
    for replicate in range(seeds):
        generator = net_generator(seed, i, j, replicate)
        norms = delta_norms(random_net(sigma_w2, sigma_b2, width, depth, generator), batch, generator)
        gains.append(per_layer_gain(norms))
        ratios.append(math.log10(norms[0] / norms[-1]))
    measured = median(gains)
    return {
        "sigma_w2": sigma_w2,
        "sigma_b2": sigma_b2,
        "q_star": mf.q_star,
        "chi1": mf.chi1,
        "predicted": mf.gain,
        "predicted_at_depth": at_depth,
        "measured": measured,
        "measured_per_seed": gains,
        "relative_error": measured / mf.gain - 1.0,
        "log10_ratio": median(ratios),
        "predicted_log10_ratio": math.log10(along.first_over_last()),
    }


def profile(
    sigma_w2: float, sigma_b2: float, *, width: int, depth: int, batch: int, generator: np.random.Generator
) -> dict[str, Any]:
    """One net's ‖∂L/∂h_l‖ layer by layer, beside the theory's: the predicted norms are the
    measured last one times the product of the per-layer gains √χ_l of ``theory.propagate``."""
    norms = delta_norms(random_net(sigma_w2, sigma_b2, width, depth, generator), batch, generator)
    along = theory.propagate(
        ACTIVATION, [sigma_w2] * (depth - 1), [sigma_b2] * (depth - 1), q0=sigma_w2 + sigma_b2
    )
    predicted = [float(norms[-1])]
    for gain in reversed(along.gains):
        predicted.append(predicted[-1] * gain)
    return {"sigma_w2": sigma_w2, "sigma_b2": sigma_b2, "measured": norms, "predicted": predicted[::-1]}


def crossing(sigma_w2s: list[float], gains: list[float]) -> float | None:
    """The σ_w² where the gain crosses 1 (log gain interpolated linearly); None if it never does."""
    logs = np.log(gains)
    for k in range(len(logs) - 1):
        if logs[k] < 0 <= logs[k + 1]:
            t = -logs[k] / (logs[k + 1] - logs[k])
            return float(sigma_w2s[k] + t * (sigma_w2s[k + 1] - sigma_w2s[k]))
    return None


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    if quick:
        config = {"width": 128, "depth": 30, "batch": 8, "seeds": 2}
        sigma_w2s = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
        sigma_b2s = [0.0, 0.05]
    else:
        config = {"width": 256, "depth": 40, "batch": 16, "seeds": 3}
        sigma_w2s = [round(0.5 + 0.25 * k, 2) for k in range(15)]  # 0.5 … 4.0
        sigma_b2s = [0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3]
    grid = []
    for j, b2 in enumerate(sigma_b2s):
        for i, w2 in enumerate(sigma_w2s):
            grid.append(measure_point(w2, b2, seed=seed, i=i, j=j, **config))
        say(progress, f"σ_b² = {b2}: measured the gain of {len(sigma_w2s) * config['seeds']} nets")
    # the line rises steeply from (1, 0): denser near σ_b² = 0
    line_b2 = np.concatenate([[0.0], np.geomspace(1e-4, max(sigma_b2s), 6 if quick else 16)])
    critical = [
        {"sigma_b2": float(b2), "sigma_w2": theory.critical_sigma_w2(ACTIVATION, float(b2))} for b2 in line_b2
    ]
    crossings = []
    for b2 in sigma_b2s:
        row = [p for p in grid if p["sigma_b2"] == b2]
        crossings.append(
            {
                "sigma_b2": b2,
                "predicted": theory.critical_sigma_w2(ACTIVATION, b2),
                "measured": crossing([p["sigma_w2"] for p in row], [p["measured"] for p in row]),
            }
        )
    errors = [abs(p["relative_error"]) for p in grid]
    phases = [
        (p["measured"] > 1) == (p["predicted"] > 1) for p in grid if abs(math.log(p["predicted"])) > 0.01
    ]
    agreement = {
        "max_relative_error": max(errors),
        "median_relative_error": median(errors),
        "max_relative_error_at_depth": max(abs(p["measured"] / p["predicted_at_depth"] - 1) for p in grid),
        "phase_agreement": sum(phases) / len(phases),
    }
    edge = theory.critical_sigma_w2(ACTIVATION, PROFILE_SIGMA_B2)
    options = {key: config[key] for key in ("width", "depth", "batch")}
    profiles = [
        profile(w2, PROFILE_SIGMA_B2, generator=net_generator(seed, 1000 + k, 0, 0), **options)
        for k, w2 in enumerate((PROFILE_SIGMA_W2[0], edge, PROFILE_SIGMA_W2[1]))
    ]
    settings = {
        "activation": ACTIVATION,
        **config,
        "skip": SKIP,
        "sigma_w2": sigma_w2s,
        "sigma_b2": sigma_b2s,
    }
    results = {
        "grid": grid,
        "critical_line": critical,
        "crossings": crossings,
        "agreement": agreement,
        "profiles": profiles,
    }
    return make_result(NAME, seed, {**settings, "quick": quick}, results)


def pictures(result: dict, folder: Path) -> list[Path]:
    """``edge_of_chaos_phase.svg`` (the heat map with the critical line), ``edge_of_chaos_gains.svg``
    (gain against σ_w²) and ``edge_of_chaos_flow.svg`` (three nets layer by layer, with the prediction)."""
    from .pictures import matplotlib_figure, save_figure

    config, res = result["config"], result["results"]
    w2s, b2s = config["sigma_w2"], config["sigma_b2"]
    values = np.full((len(b2s), len(w2s)), np.nan)
    for p in res["grid"]:
        values[b2s.index(p["sigma_b2"]), w2s.index(p["sigma_w2"])] = p["log10_ratio"]
    Figure, style = matplotlib_figure()
    with style():
        fig = Figure(figsize=(6.8, 4.4), layout="constrained")
        ax = fig.add_subplot()
        from matplotlib.colors import TwoSlopeNorm

        # white at 0 (gain 1); each side stretched to its own extreme, so that the weaker
        # exploding side is as visible as the vanishing one
        low, high = min(float(np.nanmin(values)), -1e-3), max(float(np.nanmax(values)), 1e-3)
        w_edges, b_edges = _edges(w2s), _edges(b2s)
        scale = TwoSlopeNorm(vcenter=0.0, vmin=low, vmax=high)
        mesh = ax.pcolormesh(w_edges, b_edges, values, cmap="RdBu_r", norm=scale, shading="flat")
        bar = fig.colorbar(mesh, ax=ax)
        bar.set_label(f"measured log10 ‖∂L/∂h_1‖ / ‖∂L/∂h_{config['depth']}‖")
        line = res["critical_line"]
        ax.plot(
            [c["sigma_w2"] for c in line], [c["sigma_b2"] for c in line], "k-", lw=2, label="theory: χ₁ = 1"
        )
        found = [c for c in res["crossings"] if c["measured"] is not None]
        ax.plot(
            [c["measured"] for c in found],
            [c["sigma_b2"] for c in found],
            "wo",
            mec="k",
            label="measured gain = 1",
        )
        ax.set_xlim(w_edges[0], w_edges[-1])
        ax.set_ylim(b_edges[0], b_edges[-1])
        ax.set_xlabel("σ_w²  (W ~ N(0, σ_w²/n))")
        ax.set_ylabel("σ_b²")
        ax.set_title(
            f"tanh, width {config['width']}, depth {config['depth']}: ordered (blue) | chaotic (red)"
        )
        ax.legend(loc="upper left", fontsize=8)
        phase = save_figure(fig, folder / "edge_of_chaos_phase.svg")
    with style():
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.add_subplot()
        fine = np.linspace(min(w2s), max(w2s), 60)
        for k, b2 in enumerate(b2s):
            row = [p for p in res["grid"] if p["sigma_b2"] == b2]
            curve = [theory.mean_field(ACTIVATION, float(w2), b2, q0=float(w2) + b2).gain for w2 in fine]
            ax.plot(fine, curve, "-", color=f"C{k % 10}", lw=1.2, label=f"σ_b² = {b2}")
            ax.plot([p["sigma_w2"] for p in row], [p["measured"] for p in row], "o", color=f"C{k % 10}", ms=4)
        ax.axhline(1.0, color="0.5", lw=0.8)
        ax.set_xlabel("σ_w²")
        ax.set_ylabel("gradient gain per layer")
        ax.set_title(f"lines: predicted √χ₁; dots: measured (median of {config['seeds']} nets)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        gains = save_figure(fig, folder / "edge_of_chaos_gains.svg")
    import viz  # the gradient-flow chart, with the prediction dashed beside each measurement

    measured, predicted = {}, {}
    for p in res["profiles"]:
        name = f"σ_w² = {p['sigma_w2']:.3g}, σ_b² = {p['sigma_b2']:g}"
        measured[name] = {str(k + 1): v for k, v in enumerate(p["measured"])}
        predicted[name] = {str(k + 1): v for k, v in enumerate(p["predicted"])}
    flow = viz.gradient_flow_chart(
        measured,
        folder / "edge_of_chaos_flow.svg",
        predicted=predicted,
        title=f"‖∂L/∂h_l‖ of three tanh nets (width {config['width']}): measured, and theory (dashed)",
        xlabel="layer l (input side → output side)",
        ylabel="‖∂L/∂h_l‖",
    )
    return [phase, gains, flow]


def _edges(centres: list[float]) -> np.ndarray:
    """Cell edges around grid centres (midpoints; the outer cells as wide as their neighbours)."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def table(result: dict) -> str:
    res, config = result["results"], result["config"]
    b2s = config["sigma_b2"]
    cell = {(p["sigma_w2"], p["sigma_b2"]): p for p in res["grid"]}
    rows = [
        [w2] + [f"{cell[w2, b2]['measured']:.3f} ({cell[w2, b2]['predicted']:.3f})" for b2 in b2s]
        for w2 in config["sigma_w2"]
    ]
    grid = format_table(
        ["σ_w²"] + [f"σ_b² = {b2}" for b2 in b2s],
        rows,
        title=f"Gradient gain per layer, measured (predicted √χ₁): tanh nets of width {config['width']}, "
        f"depth {config['depth']}, layers {config['skip']}… , median of {config['seeds']} nets",
    )
    crossings = format_table(
        ["σ_b²", "critical σ_w² (theory)", "measured gain = 1 at"],
        [[c["sigma_b2"], c["predicted"], c["measured"]] for c in res["crossings"]],
        title="The edge of chaos",
    )
    profiles = format_table(
        ["σ_w²", "σ_b²", "measured", "predicted"],
        [
            [
                p["sigma_w2"],
                p["sigma_b2"],
                p["measured"][0] / p["measured"][-1],
                p["predicted"][0] / p["predicted"][-1],
            ]
            for p in res["profiles"]
        ],
        title=f"‖∂L/∂h_1‖ / ‖∂L/∂h_{config['depth']}‖ of one net each: ordered, critical, chaotic",
    )
    a = res["agreement"]
    summary = (
        f"|measured/√χ₁ − 1|: median {a['median_relative_error']:.3g}, max {a['max_relative_error']:.3g} "
        f"(against the finite-depth prediction: max {a['max_relative_error_at_depth']:.3g}); "
        f"phase (vanishing/exploding) agrees at {100 * a['phase_agreement']:.0f}% of the points"
    )
    return f"{grid}\n\n{crossings}\n\n{profiles}\n\n{summary}"
