"""Regression exercise: fit a noisy curve, with the gradient diagnostics watching every step.

Data: 200 points ``y = sin(3x)·e^{−x²} + x/2 + noise`` (std 0.1) at random ``x ∈ [−1, 1]``.
Two nets, trained the same way (full batch, SGD lr 0.1 with momentum 0.9, mean squared error):

* **tanh / Xavier**, ``1 → 32 → 32 → 1``: gradients of the same size in every layer (healthy),
  and the fit reaches the noise level (MSE ≈ 0.01);
* **sigmoid / N(0, 0.01²)**, ``1 → 32 × 6 → 1``: every layer multiplies the gradient by
  σ' ≤ 1/4 and by tiny weights, so the first layer's gradient is ~10⁻¹¹ of the last one's
  (vanishing): the net only learns the mean of y and the loss stays at Var(y).

JSON (``tinygrad-edu experiment regression --json``)::

    {"experiment": "regression", "seed": 0,
     "config": {"points": 200, "noise": 0.1, "steps": 1000, "lr": 0.1, "momentum": 0.9,
                "nets": {"tanh_xavier": {...}, "sigmoid_small_init": {...}}, "quick": false},
     "results": {
       "target_variance": 0.6,                      # MSE of predicting the mean
       "nets": {"tanh_xavier": {
                  "final_loss": 0.0106,             # training MSE
                  "curve_error": 0.0008,            # MSE against the noise-free curve on a grid
                  "verdict": "healthy",             # the monitor's report after training
                  "health": [{"step": 0, "loss": 0.96, "verdict": "healthy",
                              "weight_grad_ratio": 1.3, "output_grad_ratio": 1.6}, ...],
                  "weight_grad_norm_first": [...],   # ‖∂L/∂W‖ of the first layer, every step
                  "weight_grad_norm_last": [...]},   # ... and of the last layer
                "sigmoid_small_init": {...}}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, mse_loss
from ..modes import no_grad
from .common import Progress, describe_sizes, format_table, make_result, number, rng, run_experiment
from .data import curve, noisy_curve
from .health import dashboard_page, flow_chart, train_each

NAME = "regression"
TITLE = "fit a noisy curve, with gradient health during training"
RESULT_KEYS = ("target_variance", "nets")

NETS = {
    "tanh_xavier": {"sizes": [1, 32, 32, 1], "activation": "tanh", "init": "xavier_normal"},
    "sigmoid_small_init": {"sizes": [1] + [32] * 6 + [1], "activation": "sigmoid", "init": "normal"},
}


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> tuple[dict, dict, dict]:
    config: dict[str, Any] = {  # settings of mixed types, recorded in the result
        "points": 100 if quick else 200,
        "noise": 0.1,
        "steps": 250 if quick else 1000,
        "lr": 0.1,
        "momentum": 0.9,
        "nets": NETS,
        "quick": quick,
    }
    x, y, _ = noisy_curve(config["points"], config["noise"], rng(seed))
    grid = np.linspace(-1.0, 1.0, 201)[:, None]
    runs = train_each(NETS, x, y, mse_loss, config, seed=seed, progress=progress)
    nets, fits = {}, {}
    for key, run_ in runs.items():
        with no_grad():
            predicted = run_.net(Tensor(grid)).data
        nets[key] = run_.summary(curve_error=float(np.mean((predicted - curve(grid)) ** 2)))
        fits[key] = (grid, predicted)
    fits["data"] = (x, y)
    monitors = {key: run_.monitor for key, run_ in runs.items()}
    result = make_result(NAME, seed, config, {"target_variance": float(np.var(y)), "nets": nets})
    return result, fits, monitors


def pictures(result: dict, fits: dict, monitors: dict, folder: Path) -> list[Path]:
    """``regression_fit.svg`` (data and both fits), ``regression_flow.svg`` (‖∂L/∂W‖ per layer) and
    ``regression_dashboard.html`` (both trainings' gradient histories, :func:`viz.dashboard`)."""
    from .pictures import fit_chart

    x, y = fits["data"]
    curves = {key: fits[key] for key in NETS}
    return [
        fit_chart(x, y, curves, folder / "regression_fit.svg", title="noisy curve: the two fits"),
        flow_chart(monitors, folder / "regression_flow.svg"),
        dashboard_page(monitors, folder / "regression_dashboard.html", "regression: the two trainings"),
    ]


def table(result: dict) -> str:
    return health_table(result, "training MSE", extra=("curve error", "curve_error"))


def health_table(result: dict, loss_name: str, extra: tuple[str, str]) -> str:
    """Per net and checkpoint: loss, the diagnostics' verdict and the first/last-layer ratios."""
    config = result["config"]
    rows = []
    for key, net in result["results"]["nets"].items():
        spec = config["nets"][key]
        name = f"{spec['activation']}/{spec['init']} {describe_sizes(spec['sizes'])}"
        for i, check in enumerate(net["health"]):
            rows.append(
                [
                    name if i == 0 else "",
                    check["step"],
                    check["loss"],
                    check["verdict"],
                    check["weight_grad_ratio"],
                    check["output_grad_ratio"],
                ]
            )
        rows.append(
            ["", "final", net["final_loss"], net["verdict"], f"{extra[0]}: {number(net[extra[1]])}", ""]
        )
    return format_table(
        ["net", "step", loss_name, "gradients", "‖∂L/∂W‖ first/last", "‖∂L/∂out‖ first/last"],
        rows,
        title=f"{result['experiment']}: full-batch SGD lr={config['lr']} momentum={config['momentum']}, "
        f"{config['steps']} steps (verdicts from tinygrad_edu.diagnostics)",
    )
