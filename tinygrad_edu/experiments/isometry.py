"""Pennington, Schoenholz & Ganguli (2017): at criticality, orthogonal tanh nets keep the whole
input–output Jacobian near an isometry; Gaussian weights, and ReLU nets, cannot.

χ₁ = 1 only says that the *average* squared singular value of the Jacobian
``J = ∂x_depth/∂x_0`` stays 1 with depth. Its *spread* is a second matter: each layer
multiplies by ``Wᵀ`` and by the diagonal ``D = φ′(h)``. With Gaussian ``W`` the singular values
of a product of random matrices fan out (log σ performs a random walk, its spread grows like
√depth); with orthogonal ``W`` only the ``D`` factors vary, and for tanh with a small q* they are
all close to φ′(0) = 1, so the spectrum stays concentrated at any depth — dynamical isometry.
ReLU's ``D`` is a 0/1 mask: half the directions are cut at every layer whatever ``W`` is, so
the non-zero spectrum widens even with orthogonal weights.

**The nets** (square, ``width`` units, no readout): tanh at the edge of chaos —
σ_b² = :data:`TANH_SIGMA_B2`, σ_w² = ``theory.critical_sigma_w2("tanh", σ_b²)`` — with Gaussian
``W ~ N(0, σ_w²/n)`` or orthogonal ``W = σ_w·Q`` (``nn.init.orthogonal``, every singular value
σ_w); ReLU with He-scaled Gaussian ``N(0, 2/n)`` or ``√2·Q``, σ_b² = 0. The input is a draw of
the fixed-point distribution: ``x = φ(√q*·z)`` for tanh (so every layer sits at q*), ``z`` for
ReLU (whose Jacobian does not depend on the input's scale).

**The Jacobian, from our engine**: one backward per output unit, all at once — the batch holds
``width`` copies of the same ``x`` (row k is "the k-th backward"), and ``backward`` is seeded
with the identity, so row k of ``x.grad`` is ∂out_k/∂x = row k of J. Its singular values come
from ``numpy.linalg.svd``.

**The spread** is measured as Pennington et al. do, by the variance of the eigenvalues of JJᵀ
over all singular values, here relative to their mean squared, ``var(σ²)/mean(σ²)²`` (the mean,
``mean(σ²)``, is what χ₁ = 1 keeps near 1 on average; for one finite net it wanders, and the
ratio does not depend on it), and, more plainly, by ``near_one``: the fraction of singular
values within a factor 2 of 1.
Not by the standard deviation of ln σ: the smallest singular values of a product of Gaussian
matrices fall like e^(−c·depth), below double precision relative to the largest at depth 128,
so the log of that tail is rounding noise, and ReLU's J has exact zeros (rank ≤ width/2: each
0/1 mask cuts about half the units). ``lost`` is the fraction of directions the Jacobian has
effectively lost, σ < 1e-9·σ_max (exact zeros for ReLU, exponentially small ones for Gaussian W).

JSON (``tinygrad-edu experiment isometry --json``)::

    {"experiment": "isometry", "seed": 0,
     "config": {"width": 256, "depths": [8, 32, 128], "seeds": 2, "tanh_sigma_b2": 1e-05,
                "nets": {"tanh, Gaussian": {"activation": "tanh", "weights": "gaussian",
                                             "sigma_w2": 1.04, "sigma_b2": 1e-05, "q_star": 0.02}, ...},
                "quick": false},
     "results": {
       "spectra": {"tanh, Gaussian": {"8": [σ_1, σ_2, ...], ...}, ...},   # all seeds, descending
       "spread": {"tanh, Gaussian": {"8": 7.8, "32": 40.0, "128": 120.0}, ...},  # var(σ²)/mean(σ²)²
       "summary": {"tanh, Gaussian": {"8": {"mean_sigma2": 1.0, "near_one": 0.16, "max": 9.1,
                                            "min": 1e-3, "lost": 0.0}, ...}, ...}}}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, nn, theory
from .common import Progress, format_table, make_result, run_experiment, say

NAME = "isometry"
TITLE = "Pennington et al. 2017: orthogonal tanh nets at criticality keep the Jacobian an isometry"
RESULT_KEYS = ("spectra", "spread", "summary")

#: σ_b² of the tanh nets: small, so that q* ≈ 0.02 is small and φ′ ≈ 1 (the regime of isometry).
TANH_SIGMA_B2 = 1e-5
#: Singular values below this fraction of the largest count as lost directions.
ZERO = 1e-9
#: The histograms show log10 σ from LOW to 2 (the number below LOW is written in the panel).
LOW = -4
BINS = np.linspace(LOW, 2, 49)

NETS = {
    "tanh, Gaussian": ("tanh", "gaussian"),
    "tanh, orthogonal": ("tanh", "orthogonal"),
    "ReLU, Gaussian (He)": ("relu", "gaussian"),
    "ReLU, orthogonal": ("relu", "orthogonal"),
}


def settings() -> dict[str, dict[str, Any]]:
    """Each net's activation, weights, σ_w², σ_b² and q* (tanh at the edge of chaos, ReLU at He)."""
    tanh_w2 = theory.critical_sigma_w2("tanh", TANH_SIGMA_B2)
    tanh_q = theory.mean_field("tanh", tanh_w2, TANH_SIGMA_B2).q_star
    out = {}
    for label, (activation, weights) in NETS.items():
        w2, b2, q = (tanh_w2, TANH_SIGMA_B2, tanh_q) if activation == "tanh" else (2.0, 0.0, 1.0)
        out[label] = {
            "activation": activation,
            "weights": weights,
            "sigma_w2": w2,
            "sigma_b2": b2,
            "q_star": q,
        }
    return out


def make_net(net: dict[str, Any], width: int, depth: int, generator: np.random.Generator) -> nn.Sequential:
    """``depth`` × (Linear → activation) with the net's weights (Gaussian or orthogonal) and biases."""
    std = math.sqrt(net["sigma_w2"] / width)
    if net["weights"] == "gaussian":
        weight = nn.init.normal(std=std)
    else:
        weight = nn.init.orthogonal(gain=math.sqrt(net["sigma_w2"]))  # every singular value σ_w
    bias = nn.init.normal(std=math.sqrt(net["sigma_b2"])) if net["sigma_b2"] > 0 else "zeros"
    modules: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width, init=weight, bias_init=bias, rng=generator)
        modules += [linear, nn.ACTIVATIONS[net["activation"]]()]
    return nn.Sequential(*modules)


def jacobian(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """J[k, i] = ∂out_k/∂x_i at ``x``, by our engine: one backward per output unit, batched.

    Row k of the batch is a copy of ``x`` whose backward is seeded with the unit vector e_k;
    the rows do not interact, so one ``backward(I)`` runs all the per-unit backward passes.
    """
    n_out = model(Tensor(x[None, :])).shape[-1]
    copies = Tensor(np.repeat(x[None, :], n_out, axis=0), requires_grad=True, label="x")
    out = model(copies)
    out.backward(np.eye(n_out))
    assert copies.grad is not None, "backward() reached the input copies"
    return copies.grad


def net_input(net: dict[str, Any], width: int, generator: np.random.Generator) -> np.ndarray:
    z = generator.normal(size=width)
    return np.tanh(math.sqrt(net["q_star"]) * z) if net["activation"] == "tanh" else z


def spread(singular: np.ndarray) -> dict[str, float]:
    """var(σ²)/mean(σ²)² (Pennington's spread, scale-free), mean(σ²), the fraction within a
    factor 2 of 1, the extremes, and the fraction of lost directions (σ below ZERO·σ_max)."""
    squares = singular**2
    return {
        "spread": float(np.var(squares) / np.mean(squares) ** 2),
        "mean_sigma2": float(np.mean(squares)),
        "near_one": float(np.mean((singular >= 0.5) & (singular <= 2.0))),
        "max": float(singular.max()),
        "min": float(singular.min()),
        "lost": float(np.mean(singular < ZERO * singular.max())),
    }


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    width, depths, seeds = (64, [4, 16, 64], 1) if quick else (256, [8, 32, 128], 2)
    nets = settings()
    spectra: dict[str, dict[str, np.ndarray]] = {}  # singular values, descending
    spreads: dict[str, dict[str, float]] = {}
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for n, (label, net) in enumerate(nets.items()):
        spectra[label], spreads[label], summary[label] = {}, {}, {}
        for d, depth in enumerate(depths):
            values = []
            for replicate in range(seeds):
                generator = np.random.default_rng([seed, n, d, replicate])
                model = make_net(net, width, depth, generator)
                values.append(
                    np.linalg.svd(jacobian(model, net_input(net, width, generator)), compute_uv=False)
                )
            singular = np.sort(np.concatenate(values))[::-1]
            stats = spread(singular)
            spectra[label][str(depth)] = singular
            spreads[label][str(depth)] = stats.pop("spread")
            summary[label][str(depth)] = stats
        say(progress, f"{label}: Jacobian spectra at depths {', '.join(map(str, depths))}")
    config = {
        "width": width,
        "depths": depths,
        "seeds": seeds,
        "tanh_sigma_b2": TANH_SIGMA_B2,
        "nets": nets,
        "quick": quick,
    }
    return make_result(NAME, seed, config, {"spectra": spectra, "spread": spreads, "summary": summary})


def pictures(result: dict, folder: Path) -> list[Path]:
    """``isometry_spectra.svg`` (histograms of log10 σ) and ``isometry_spread.svg`` (spread vs depth)."""
    from .pictures import line_chart, matplotlib_figure, save_figure

    config, res = result["config"], result["results"]
    depths = config["depths"]
    Figure, style = matplotlib_figure()
    with style():
        fig = Figure(figsize=(3.2 * len(depths), 5.6), layout="constrained")
        for row, activation in enumerate(("tanh", "ReLU")):
            labels = [label for label in NETS if label.startswith(activation)]
            for col, depth in enumerate(depths):
                ax = fig.add_subplot(2, len(depths), row * len(depths) + col + 1)
                below = []
                for k, label in enumerate(labels):
                    singular = np.asarray(res["spectra"][label][str(depth)])
                    logs = np.log10(np.maximum(singular, 1e-300))
                    ax.hist(logs[logs >= LOW], bins=BINS, histtype="step", lw=1.4, color=f"C{k}", label=label)
                    below.append(f"{label.split(', ')[1].split(' ')[0]}: {int(np.sum(logs < LOW))}")
                ax.axvline(0.0, color="0.5", lw=0.8)
                ax.text(
                    0.02,
                    0.97,
                    f"σ < 1e{LOW}: " + ", ".join(below),
                    transform=ax.transAxes,
                    fontsize=6,
                    va="top",
                )
                ax.set_title(f"{activation}, depth {depth}", fontsize=9)
                ax.set_xlabel("log10 σ (singular value of J)")
                if col == 0:
                    ax.set_ylabel("count")
                    ax.legend(fontsize=7, loc="center left")
        fig.suptitle(f"Singular values of ∂x_depth/∂x_0 (width {config['width']}, our engine's backward)")
        spectra = save_figure(fig, folder / "isometry_spectra.svg")
    series = {label: {depth: res["spread"][label][str(depth)] for depth in depths} for label in NETS}
    spread_chart = line_chart(
        series,
        folder / "isometry_spread.svg",
        title="spread of the Jacobian's spectrum against depth",
        xlabel="depth",
        ylabel="var(σ²) / mean(σ²)²  (eigenvalues of JJᵀ)",
    )
    return [spectra, spread_chart]


def table(result: dict) -> str:
    config, res = result["config"], result["results"]
    depths = config["depths"]
    rows = []
    for label, net in config["nets"].items():
        summary = res["summary"][label]
        rows.append(
            [label, net["sigma_w2"], net["q_star"]]
            + [res["spread"][label][str(d)] for d in depths]
            + [summary[str(d)]["near_one"] for d in depths]
            + [summary[str(depths[-1])]["mean_sigma2"], summary[str(depths[-1])]["lost"]]
        )
    last = depths[-1]
    return format_table(
        ["net", "σ_w²", "q*"]
        + [f"spread @{d}" for d in depths]
        + [f"σ∈[½,2] @{d}" for d in depths]
        + [f"mean σ² @{last}", f"lost @{last}"],
        rows,
        title=f"Spectrum of the input–output Jacobian ∂x_depth/∂x_0: width {config['width']}, "
        f"{config['seeds']} net(s) per cell, σ_b² = {config['tanh_sigma_b2']:g} for tanh (0 for ReLU)",
    )
