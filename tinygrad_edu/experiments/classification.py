"""Classification exercise: two interleaved spirals, with the gradient diagnostics watching every step.

Data: 300 training and 300 test points on two spirals (1.5 turns, noise std 0.05): no straight
line separates them, so the net needs its hidden layers. Two nets, trained the same way
(full batch, SGD lr 0.1 with momentum 0.9, softmax cross-entropy):

* **ReLU / He**, ``2 → 64 × 3 → 2``: gradients of similar size in every layer (healthy); the
  net carves out both arms (test accuracy ≈ 1);
* **sigmoid / N(0, 0.01²)**, ``2 → 32 × 6 → 2``: the gradient reaching the first layer is
  ~10⁻¹¹ of the last layer's (vanishing): the loss stays at ln 2 and the accuracy at chance.

JSON (``tinygrad-edu experiment classification --json``)::

    {"experiment": "classification", "seed": 0,
     "config": {"points": 300, "noise": 0.05, "steps": 1000, "lr": 0.1, "momentum": 0.9,
                "nets": {"relu_he": {...}, "sigmoid_small_init": {...}}, "quick": false},
     "results": {
       "nets": {"relu_he": {
                  "final_loss": 0.0004, "train_accuracy": 1.0, "test_accuracy": 0.99,
                  "verdict": "healthy",
                  "health": [{"step": 0, "loss": 0.98, "verdict": "healthy",
                              "weight_grad_ratio": 0.25, "output_grad_ratio": 1.3}, ...],
                  "weight_grad_norm_first": [...], "weight_grad_norm_last": [...]},
                "sigmoid_small_init": {...}}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, cross_entropy, nn
from ..modes import no_grad
from .common import Progress, make_result, rng, run_experiment
from .data import spirals
from .health import dashboard_page, flow_chart, train_each
from .regression import health_table

NAME = "classification"
TITLE = "two spirals, with gradient health during training"
RESULT_KEYS = ("nets",)

NETS = {
    "relu_he": {"sizes": [2, 64, 64, 64, 2], "activation": "relu", "init": "he_normal"},
    "sigmoid_small_init": {"sizes": [2] + [32] * 6 + [2], "activation": "sigmoid", "init": "normal"},
}


def accuracy(net: nn.Module, X: np.ndarray, labels: np.ndarray) -> float:
    with no_grad():
        return float(np.mean(np.argmax(net(Tensor(X)).data, axis=1) == labels))


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> tuple[dict, dict, tuple]:
    config: dict[str, Any] = {  # settings of mixed types, recorded in the result
        "points": 200 if quick else 300,
        "noise": 0.05,
        "steps": 250 if quick else 1000,
        "lr": 0.1,
        "momentum": 0.9,
        "nets": NETS,
        "quick": quick,
    }
    generator = rng(seed)
    X, labels = spirals(config["points"], config["noise"], generator)
    X_test, labels_test = spirals(config["points"], config["noise"], generator)
    runs = train_each(NETS, X, labels, cross_entropy, config, seed=seed, progress=progress)
    nets = {
        key: run_.summary(
            train_accuracy=accuracy(run_.net, X, labels),
            test_accuracy=accuracy(run_.net, X_test, labels_test),
        )
        for key, run_ in runs.items()
    }
    result = make_result(NAME, seed, config, {"nets": nets})
    return result, runs, (X, labels)


def pictures(result: dict, runs: dict, data: tuple, folder: Path) -> list[Path]:
    """``classification_boundary.svg`` (decision regions), ``classification_flow.svg`` and
    ``classification_dashboard.html`` (both trainings' gradient histories).

    ``runs``: the trained nets and their monitors (:class:`~.health.WatchedRun`); ``result``
    is not needed here (every experiment's ``pictures`` takes it first).
    """
    from .pictures import boundary_chart

    X, labels = data
    xs = np.linspace(X[:, 0].min() - 0.2, X[:, 0].max() + 0.2, 120)
    ys = np.linspace(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2, 120)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    panels = {}
    for key, run_ in runs.items():
        with no_grad():
            zz = np.argmax(run_.net(Tensor(grid)).data, axis=1).reshape(xx.shape)
        panels[key] = (xx, yy, zz)
    return [
        boundary_chart(X, labels, panels, folder / "classification_boundary.svg", title="two spirals"),
        flow_chart({key: run_.monitor for key, run_ in runs.items()}, folder / "classification_flow.svg"),
        dashboard_page(
            {key: run_.monitor for key, run_ in runs.items()},
            folder / "classification_dashboard.html",
            "classification (two spirals): the two trainings",
        ),
    ]


def table(result: dict) -> str:
    nets = result["results"]["nets"]
    text = health_table(result, "cross-entropy", extra=("test accuracy", "test_accuracy"))
    return text + "\n" + "  ".join(f"{k}: train acc {n['train_accuracy']:.3f}" for k, n in nets.items())
