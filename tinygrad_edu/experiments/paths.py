"""Veit, Wilber & Belongie (2016): a deep residual net trains on its *short* paths — counted exactly.

A residual MLP of n blocks ``x + Linear(ReLU(LayerNorm(x)))`` (pre-norm) on the digits. Its
input gradient is a sum over 2ⁿ paths; :func:`~tinygrad_edu.diagnostics.path_lengths` splits it
*exactly* into ``components[k]``, the part carried by the C(n, k) paths through k branches (a
backward pass whose upstream is a polynomial in a formal variable t; see its module). Measured at
initialisation and after training:

* ``counts`` — how many paths have each length: Binomial(n, ½)·2ⁿ, peaked at n/2;
* ``share[k]`` — ‖components[k]‖ / Σ_j ‖components[j]‖: where the gradient comes from;
* ``band`` — the shortest range of lengths holding 90 % of it (Veit's "effective paths"), and
  ``mean_length`` = Σ k·share[k]: both far below n/2;
* ``path_norm_mean[k]`` — the mean norm of *one* sampled path of length k (Veit's method); it
  falls geometrically with k, which is why the many middle-length paths carry little.

Beside it, the **plain** net of the same depth (the same layers, no skips): its gradient has one
path, through all n branches. With LayerNorm in every block its gradient at the input does *not*
vanish at initialisation (the norm rescales it; ``block_grad_norms`` shows ‖∂L/∂h_l‖ per block),
yet it does not train: its loss stays near chance (ln 10 ≈ 2.30) while the residual net's falls.

JSON (``tinygrad-edu experiment paths --json``)::

    {"experiment": "paths", "seed": 0,
     "config": {"blocks": 50, "width": 64, "norm": "layer", "placement": "pre", ...},
     "results": {
       "counts": [1, 50, 1225, ...],
       "init":    {"share": [...], "component_norms": [...], "band": [0, 7], "mean_length": 4.2,
                   "gradient_norm": 0.12, "max_residual": 1e-15, "path_norm_mean": [...],
                   "veit_total": [...]},                 # counts[k] · path_norm_mean[k]
       "trained": {... the same after training ...},
       "plain":   {"init_gradient_norm": 0.29, "trained_gradient_norm": ...},
       "block_grad_norms": {"residual": [...], "plain": [...]},   # ‖∂L/∂h_l‖, input side first
       "training": {"residual": [losses], "plain": [losses],
                    "final_loss": {"residual": 0.04, "plain": 2.3}}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, nn
from ..diagnostics import path_lengths
from ..graph import norm
from ..losses import cross_entropy
from ..optim import SGD
from .common import Progress, format_table, make_result, rng, run_experiment, say
from .data import digits

NAME = "paths"
TITLE = "Veit et al. 2016: a deep residual net's gradient comes from short paths (counted exactly)"
RESULT_KEYS = ("counts", "init", "trained", "plain", "block_grad_norms", "training")

#: The fraction of the gradient magnitude the "effective paths" band holds.
BAND_FRACTION = 0.9


def settings(quick: bool) -> dict[str, Any]:
    return {
        "blocks": 20 if quick else 50,
        "width": 32 if quick else 64,
        "activation": "relu",
        "norm": "layer",
        "placement": "pre",
        "train_size": 400 if quick else 1500,
        "measure_size": 100 if quick else 500,
        "batch": 64 if quick else 128,
        "steps": 60 if quick else 200,
        "lr": 0.05,
        "samples": 2 if quick else 10,
        "band_fraction": BAND_FRACTION,
        "quick": quick,
    }


def build(config: dict, seed: int, skip: bool) -> nn.ResidualMLP:
    """The net of the experiment (the same seed gives the same weights for both twins)."""
    return nn.ResidualMLP(
        64,
        config["width"],
        10,
        config["blocks"],
        activation=config["activation"],
        norm=config["norm"],
        placement=config["placement"],
        skip=skip,
        rng=seed,
    )


def decompose(model: nn.ResidualMLP, X: np.ndarray, y: np.ndarray, config: dict, seed: int) -> dict:
    """The path-length numbers of ``model`` on the measuring batch (JSON-ready)."""
    result = path_lengths(model, X, y, samples=config["samples"], rng=seed)
    lo, hi = result.effective_band(config["band_fraction"])
    return {
        "share": result.share(),
        "component_norms": result.component_norms,
        "band": [lo, hi],
        "mean_length": result.mean_length(),
        "gradient_norm": norm(result.gradient),
        "max_residual": result.residual(),
        "path_norm_mean": result.path_norm_mean,
        "veit_total": [None if m is None else c * m for c, m in zip(result.counts, result.path_norm_mean)],
        "loss": result.loss,
    }


def block_grad_norms(model: nn.ResidualMLP, X: np.ndarray, y: np.ndarray) -> list[float]:
    """‖∂L/∂h_l‖ of every block's output h_l, input side first, read from the nodes' ``.grad``."""
    cross_entropy(model(Tensor(X)), y).backward()
    norms = [norm(block.last_output.grad) for block in model.blocks]
    model.zero_grad()
    return norms


def train(model: nn.ResidualMLP, X: np.ndarray, y: np.ndarray, config: dict, seed: int) -> list[float]:
    """Plain SGD on random mini-batches; the loss of every step."""
    optimizer = SGD(model.parameters(), lr=config["lr"])
    generator = rng(seed)
    losses = []
    for _ in range(config["steps"]):
        index = generator.choice(len(X), config["batch"], replace=False)
        loss = cross_entropy(model(Tensor(X[index])), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    config = settings(quick)
    X, y = digits(config["train_size"])
    Xm, ym = X[: config["measure_size"]], y[: config["measure_size"]]
    n = config["blocks"]
    residual, plain = build(config, seed, skip=True), build(config, seed, skip=False)
    say(progress, f"splitting the input gradient of a {n}-block residual MLP by path length (at init)")
    at_init = decompose(residual, Xm, ym, config, seed)
    counts = [int(c) for c in path_lengths(residual, Xm[:2], ym[:2]).counts]
    grads = {"residual": block_grad_norms(residual, Xm, ym), "plain": block_grad_norms(plain, Xm, ym)}
    plain_init = norm(path_lengths(plain, Xm, ym).gradient)
    say(progress, f"training both nets for {config['steps']} SGD steps (lr {config['lr']})")
    losses = {"residual": train(residual, X, y, config, seed), "plain": train(plain, X, y, config, seed)}
    say(progress, "splitting the gradient again after training")
    trained = decompose(residual, Xm, ym, config, seed)
    plain_trained = norm(path_lengths(plain, Xm, ym).gradient)
    tail = max(1, config["steps"] // 10)
    results = {
        "counts": counts,
        "init": at_init,
        "trained": trained,
        "plain": {"init_gradient_norm": plain_init, "trained_gradient_norm": plain_trained},
        "block_grad_norms": grads,
        "training": {
            **losses,
            "final_loss": {key: float(np.mean(value[-tail:])) for key, value in losses.items()},
        },
    }
    return make_result(NAME, seed, config, results)


def pictures(result: dict, folder: Path) -> list[Path]:
    """``paths_lengths.svg`` (paths and gradient per length), ``paths_single.svg`` (one path's
    magnitude per length), ``paths_training.svg`` (loss of the residual and the plain net)."""
    from .pictures import line_chart

    res, n = result["results"], result["config"]["blocks"]
    total = float(sum(res["counts"]))
    band, later = res["init"]["band"], res["trained"]["band"]
    lengths = {
        f"paths of length k (C({n}, k)/2^{n})": {k: c / total for k, c in enumerate(res["counts"])},
        f"gradient share at init (90 % in k = {band[0]}…{band[1]})": dict(enumerate(res["init"]["share"])),
        f"gradient share after training (90 % in k = {later[0]}…{later[1]})": dict(
            enumerate(res["trained"]["share"])
        ),
    }
    single = {
        "at init": dict(enumerate(res["init"]["path_norm_mean"])),
        "after training": dict(enumerate(res["trained"]["path_norm_mean"])),
    }
    runs = {f"{key} ({n} blocks)": dict(enumerate(res["training"][key])) for key in ("residual", "plain")}
    return [
        line_chart(
            lengths,
            folder / "paths_lengths.svg",
            title=f"{n}-block residual MLP: where the paths are, where the gradient is",
            xlabel="path length k (branches passed through)",
            ylabel="fraction",
            log=False,
        ),
        line_chart(
            single,
            folder / "paths_single.svg",
            title="mean ‖gradient‖ of one path of length k (sampled)",
            xlabel="path length k",
            ylabel="‖∂L/∂x along one path‖",
        ),
        line_chart(runs, folder / "paths_training.svg", title="training loss", xlabel="step", ylabel="loss"),
    ]


def table(result: dict) -> str:
    res, config = result["results"], result["config"]
    n = config["blocks"]
    rows = []
    for key, label in (("init", "at init"), ("trained", f"after {config['steps']} steps")):
        r = res[key]
        rows.append(
            [label, f"{r['band'][0]}…{r['band'][1]}", r["mean_length"], r["gradient_norm"], r["max_residual"]]
        )
    split = format_table(
        [
            "residual net",
            f"{round(100 * config['band_fraction'])} % band",
            "mean length",
            "‖∂L/∂x‖",
            "max residual",
        ],
        rows,
        title=f"{n}-block residual MLP (pre-LayerNorm, width {config['width']}) on digits: the input "
        f"gradient split exactly by path length (n/2 = {n / 2:g})",
    )
    step = max(1, n // 10)
    ks = list(range(0, n + 1, step))
    per_length = format_table(
        ["k"] + [str(k) for k in ks],
        [
            ["paths C(n,k)"] + [float(res["counts"][k]) for k in ks],
            ["share at init"] + [res["init"]["share"][k] for k in ks],
            ["share trained"] + [res["trained"]["share"][k] for k in ks],
            ["one path, init"] + [res["init"]["path_norm_mean"][k] for k in ks],
            ["C(n,k)·one path"] + [res["init"]["veit_total"][k] for k in ks],
        ],
        title="Per path length k",
    )
    final = res["training"]["final_loss"]
    nets = format_table(
        ["net", "‖∂L/∂x‖ at init", "‖∂L/∂h‖ first block", "‖∂L/∂h‖ last block", "final loss"],
        [
            ["residual", res["init"]["gradient_norm"]]
            + [res["block_grad_norms"]["residual"][i] for i in (0, -1)]
            + [final["residual"]],
            ["plain (no skips)", res["plain"]["init_gradient_norm"]]
            + [res["block_grad_norms"]["plain"][i] for i in (0, -1)]
            + [final["plain"]],
        ],
        title=f"Residual vs plain, the same {n} blocks (chance loss ln 10 = 2.30)",
    )
    return f"{split}\n\n{per_length}\n\n{nets}"
