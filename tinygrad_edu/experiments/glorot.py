"""Glorot & Bengio (2010): the "standard" init shrinks signals both ways; the normalised init does not.

A tanh net ``64 → 500 × 5 → 10`` on 500 of the 8×8 digits, biases 0, softmax cross-entropy, with
two weight initialisations:

* **standard** ``W ~ U(−1/√n_in, 1/√n_in)``: variance ``1/(3 n_in)``, so ``n · Var(W) = 1/3``
  and, with tanh ≈ identity near 0, every layer multiplies the variance of the activations
  (forward) and of the back-propagated gradients (backward) by about 1/3;
* **normalised** ``W ~ U(−√6/√(n_in + n_out), +√6/√(n_in + n_out))``: variance
  ``2/(n_in + n_out)``, the compromise that keeps both variances about constant.

We measure, at initialisation, per hidden layer: the std of the activations ``h_l`` (forward),
the std of the back-propagated gradients ``∂C/∂h_l`` (our engine's backward), and the std of the
weight gradients ``∂C/∂W_l`` (Glorot's observation: about the same in every layer either way).
Median over seeds.

JSON (``tinygrad-edu experiment glorot --json``)::

    {"experiment": "glorot", "seed": 0,
     "config": {"sizes": [64, 500, 500, 500, 500, 500, 10], "samples": 500, "seeds": 3, "quick": false},
     "results": {
       "activation_std": {"standard": [0.26, 0.15, ...], "normalised": [...]},   # layer 1 first
       "gradient_std": {"standard": [...], "normalised": [...]},                 # std of ∂C/∂h_l
       "weight_gradient_std": {"standard": [...], "normalised": [...]},          # std of ∂C/∂W_l
       "activation_shrink": {"standard": 9.2, "normalised": 1.2},  # std layer 1 / std layer 5
       "gradient_shrink": {"standard": 8.9, "normalised": 1.1}}}   # std layer 5 / std layer 1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, cross_entropy, nn
from .common import Progress, format_table, make_result, run_experiment, say
from .data import digits

NAME = "glorot"
TITLE = "Glorot & Bengio 2010: standard vs normalised init in a 5-layer tanh net"
RESULT_KEYS = (
    "activation_std",
    "gradient_std",
    "weight_gradient_std",
    "activation_shrink",
    "gradient_shrink",
)

#: our init name for each of the paper's two schemes
INITS = {"standard": "standard", "normalised": "xavier_uniform"}


def _grad(t: Tensor) -> np.ndarray:
    assert t.grad is not None, "backward() reached this tensor"
    return t.grad


def measure_once(sizes: list[int], init: str, seed: int, X: np.ndarray, labels: np.ndarray) -> dict:
    """One network at initialisation: per hidden layer, std of h, of ∂C/∂h and of ∂C/∂W."""
    net = nn.MLP(sizes, activation="tanh", init=init, rng=seed)
    h = Tensor(X)
    activations: list[Tensor] = []
    for module in net.layers:  # layer by layer, to keep each hidden activation h_l
        h = module(h)
        if isinstance(module, nn.Tanh):
            activations.append(h)
    loss = cross_entropy(h, labels)
    loss.backward()
    linears = [m for m in net.layers if isinstance(m, nn.Linear)][:-1]
    return {
        "activation_std": [float(a.data.std()) for a in activations],
        "gradient_std": [float(_grad(a).std()) for a in activations],  # ∂C/∂h_l, kept after backward
        "weight_gradient_std": [float(_grad(m.weight).std()) for m in linears],
    }


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    width = 200 if quick else 500
    config: dict[str, Any] = {  # settings of mixed types, recorded in the result
        "sizes": [64] + [width] * 5 + [10],
        "samples": 200 if quick else 500,
        "seeds": 2 if quick else 3,
        "inits": INITS,
        "quick": quick,
    }
    X, labels = digits(config["samples"])
    results: dict[str, dict] = {key: {} for key in RESULT_KEYS}
    for scheme, init in INITS.items():
        runs = [measure_once(config["sizes"], init, seed + s, X, labels) for s in range(config["seeds"])]
        for key in ("activation_std", "gradient_std", "weight_gradient_std"):
            results[key][scheme] = np.median([r[key] for r in runs], axis=0).tolist()
        acts, grads = results["activation_std"][scheme], results["gradient_std"][scheme]
        results["activation_shrink"][scheme] = acts[0] / acts[-1]
        results["gradient_shrink"][scheme] = grads[-1] / grads[0]
        say(progress, f"{scheme} init ({init}): activation std " + ", ".join(f"{v:.3g}" for v in acts))
    return make_result(NAME, seed, config, results)


def pictures(result: dict, folder: Path) -> list[Path]:
    """``glorot_activations.svg`` and ``glorot_gradients.svg``: std per layer, one line per init."""
    import viz

    from .pictures import line_chart

    res = result["results"]

    def per_layer(values: list) -> dict:
        return {f"layer {i + 1}": v for i, v in enumerate(values)}

    return [
        line_chart(
            {scheme: per_layer(v) for scheme, v in res["activation_std"].items()},
            folder / "glorot_activations.svg",
            title="std of the activations h_l (forward)",
            xlabel="hidden layer",
            ylabel="std",
        ),
        viz.gradient_flow_chart(
            {scheme: per_layer(v) for scheme, v in res["gradient_std"].items()},
            folder / "glorot_gradients.svg",
            title="std of the back-propagated gradients ∂C/∂h_l",
        ),
    ]


def table(result: dict) -> str:
    res = result["results"]
    config = result["config"]
    layers = len(res["activation_std"]["standard"])
    rows = []
    for scheme in INITS:
        for label, key in (("activation std", "activation_std"), ("∂C/∂h std", "gradient_std")):
            rows.append([scheme, label] + res[key][scheme])
        rows.append([scheme, "∂C/∂W std"] + res["weight_gradient_std"][scheme])
    sizes = config["sizes"]
    main = format_table(
        ["init", "quantity"] + [f"layer {i + 1}" for i in range(layers)],
        rows,
        title=f"tanh net {sizes[0]}-{sizes[1]}×{len(sizes) - 2}-{sizes[-1]} at init, {config['samples']} "
        f"digits (median of {config['seeds']} seeds)",
    )
    summary = format_table(
        ["init", "activation std layer 1 / layer 5", "∂C/∂h std layer 5 / layer 1"],
        [[s, res["activation_shrink"][s], res["gradient_shrink"][s]] for s in INITS],
    )
    return f"{main}\n\n{summary}"
