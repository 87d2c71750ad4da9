"""Nielsen, *Neural Networks and Deep Learning*, ch. 5: in a deep sigmoid net the early layers learn slowest.

Networks ``64 → 30 × k → 10`` for k = 2, 3, 4 hidden sigmoid layers, sigmoid outputs,
weights W ~ N(0, 1/n_in) and biases b ~ N(0, 1) (Nielsen's initialisation), the
cross-entropy cost ``C = −(1/n) Σ_x Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]``, and the first
1000 of scikit-learn's 8×8 digits scaled to [0, 1] (Nielsen used 1000 MNIST images).

The **speed of learning** of hidden layer l is ``‖∂C/∂b_l‖``, the norm of the gradient of the
cost (averaged over the 1000 images) with respect to that layer's biases. Backprop multiplies
by ``σ'(z) ≤ 1/4`` and by a weight matrix for every layer it crosses, so each layer further
from the output learns several times slower. Measured at initialisation (median over seeds) and
after every epoch of mini-batch SGD (batch 10, η = 0.1).

JSON (``tinygrad-edu experiment nielsen --json``)::

    {"experiment": "nielsen", "seed": 0,
     "config": {"hidden": [2, 3, 4], "width": 30, "samples": 1000, "seeds": 5, "epochs": 30,
                "batch": 10, "lr": 0.1, "quick": false},
     "results": {
       "at_init": {"2": [0.06, 0.31], "3": [...], "4": [...]},     # median ‖∂C/∂b_l‖, layer 1 first
       "ratio_last_to_first": {"2": 5.2, "3": 24.0, "4": 134.0},  # of the medians above
       "training": {"4": {"epochs": [0, 1, ...], "speeds": [[...per layer...], ...],
                          "accuracy": [...], "cost": [...]}, ...},
       "after_training": {"2": [...], "3": [...], "4": [...]},    # speeds after the last epoch
       "epochs_to_half_accuracy": {"2": 12, "3": 26, "4": null}}}  # first epoch with ≥ 50 % train
                                                                   # accuracy (null: not reached)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, binary_cross_entropy_with_logits, nn
from ..modes import no_grad
from ..numerics import norm
from ..optim import SGD
from .common import Progress, format_table, make_result, rng, run_experiment, say
from .data import digits, one_hot

NAME = "nielsen"
TITLE = "Nielsen ch. 5: deep sigmoid nets, the first hidden layer learns slowest"
RESULT_KEYS = ("at_init", "ratio_last_to_first", "training", "after_training", "epochs_to_half_accuracy")

HIDDEN = (2, 3, 4)
WIDTH = 30
CLASSES = 10


def make_net(hidden_layers: int, seed: int) -> nn.MLP:
    """Nielsen's net: sigmoid everywhere, W ~ N(0, 1/n_in) (``lecun_normal``), b ~ N(0, 1)."""
    return nn.MLP(
        [64] + [WIDTH] * hidden_layers + [CLASSES],
        activation="sigmoid",
        init="lecun_normal",
        bias_init=nn.init.normal(std=1.0),
        rng=seed,
    )


def cost(net: nn.MLP, X: Tensor, Y: np.ndarray) -> Tensor:
    """Nielsen's cross-entropy: summed over the 10 sigmoid outputs, averaged over the images.

    ``binary_cross_entropy_with_logits`` averages over outputs too, so multiply by 10.
    """
    return binary_cross_entropy_with_logits(net(X), Y) * CLASSES


def speeds(net: nn.MLP, X: Tensor, Y: np.ndarray) -> tuple[list[float], float]:
    """‖∂C/∂b_l‖ for every hidden layer (input side first), and the cost, from one backward."""
    net.zero_grad()
    loss = cost(net, X, Y)
    loss.backward()
    hidden = [layer for layer in net.layers if isinstance(layer, nn.Linear)][:-1]
    return [norm(_bias_grad(layer)) for layer in hidden], loss.item()


def _bias_grad(layer: nn.Linear) -> np.ndarray:
    assert layer.bias is not None and layer.bias.grad is not None, "biased nets, after backward()"
    return layer.bias.grad


def accuracy(net: nn.MLP, X: Tensor, labels: np.ndarray) -> float:
    with no_grad():
        return float(np.mean(np.argmax(net(X).data, axis=1) == labels))


def train(
    net: nn.MLP, X: np.ndarray, labels: np.ndarray, *, epochs: int, batch: int, lr: float, seed: int
) -> dict[str, list]:
    """Mini-batch SGD; after every epoch, the speeds of learning on the whole training set."""
    Y = one_hot(labels, CLASSES)
    full = Tensor(X)
    generator = rng(seed)
    optimizer = SGD(net.parameters(), lr=lr)
    history: dict[str, list] = {"epochs": [], "speeds": [], "accuracy": [], "cost": []}

    def record(epoch: int) -> None:
        layer_speeds, value = speeds(net, full, Y)
        history["epochs"].append(epoch)
        history["speeds"].append(layer_speeds)
        history["cost"].append(value)
        history["accuracy"].append(accuracy(net, full, labels))

    record(0)
    for epoch in range(1, epochs + 1):
        order = generator.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start : start + batch]
            optimizer.zero_grad()
            cost(net, Tensor(X[rows]), Y[rows]).backward()
            optimizer.step()
        record(epoch)
    return history


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    """Speeds of learning at initialisation (median over seeds) and during training."""
    config: dict[str, Any] = {  # settings of mixed types, recorded in the result
        "hidden": list(HIDDEN),
        "width": WIDTH,
        "samples": 1000,
        "seeds": 3 if quick else 5,
        "epochs": 2 if quick else 30,
        "batch": 10,
        "lr": 0.1,
        "quick": quick,
    }
    X, labels = digits(config["samples"])
    full, Y = Tensor(X), one_hot(labels, CLASSES)
    at_init, ratios, training, after, half = {}, {}, {}, {}, {}
    for k in HIDDEN:
        per_seed = np.array([speeds(make_net(k, seed + s), full, Y)[0] for s in range(config["seeds"])])
        medians = np.median(per_seed, axis=0)
        at_init[str(k)] = medians.tolist()
        ratios[str(k)] = float(medians[-1] / medians[0])
        say(progress, f"{k} hidden layers at init: " + ", ".join(f"{v:.3g}" for v in medians))
        say(progress, f"{k} hidden layers: training {config['epochs']} epochs")
        history = train(
            make_net(k, seed),
            X,
            labels,
            epochs=config["epochs"],
            batch=config["batch"],
            lr=config["lr"],
            seed=seed,
        )
        training[str(k)] = history
        after[str(k)] = history["speeds"][-1]
        half[str(k)] = next((e for e, a in zip(history["epochs"], history["accuracy"]) if a >= 0.5), None)
    result = make_result(
        NAME,
        seed,
        config,
        {
            "at_init": at_init,
            "ratio_last_to_first": ratios,
            "training": training,
            "after_training": after,
            "epochs_to_half_accuracy": half,
        },
    )
    return result


def pictures(result: dict, folder: Path) -> list[Path]:
    """``nielsen_init.svg`` (speed per layer at init, one line per depth) and ``nielsen_training.svg``."""
    import viz

    from .pictures import line_chart

    res = result["results"]
    series = {
        f"{k} hidden": {f"hidden {i + 1}": v for i, v in enumerate(res["at_init"][k])} for k in res["at_init"]
    }
    deepest = max(res["training"], key=int)
    history = res["training"][deepest]
    per_layer = {
        f"hidden layer {i + 1}": dict(zip(history["epochs"], (s[i] for s in history["speeds"])))
        for i in range(len(history["speeds"][0]))
    }
    return [
        viz.gradient_flow_chart(
            series, folder / "nielsen_init.svg", title="Speed of learning ‖∂C/∂b‖ per hidden layer at init"
        ),
        line_chart(
            per_layer,
            folder / "nielsen_training.svg",
            title=f"Speed of learning during training ({deepest} hidden layers)",
            xlabel="epoch",
            ylabel="‖∂C/∂b‖",
        ),
    ]


def table(result: dict) -> str:
    res = result["results"]
    config = result["config"]
    rows = []
    for k, values in res["at_init"].items():
        after = res["after_training"][k]
        history = res["training"][k]
        for i, value in enumerate(values):
            rows.append(
                [
                    k if i == 0 else "",
                    f"hidden {i + 1}",
                    value,
                    after[i],
                    "" if i else f"{history['accuracy'][-1]:.3f}",
                    "" if i else _epoch(res["epochs_to_half_accuracy"][k]),
                ]
            )
        rows.append(["", "last / first", res["ratio_last_to_first"][k], _ratio(after), "", ""])
    return format_table(
        [
            "hidden layers",
            "layer",
            "‖∂C/∂b‖ at init",
            f"after {config['epochs']} epochs",
            "train acc",
            "epochs to 50 %",
        ],
        rows,
        title=f"Speed of learning, sigmoid nets 64-30…-10 on {config['samples']} digits "
        f"(init: median of {config['seeds']} seeds; SGD batch {config['batch']}, η = {config['lr']})",
    )


def _epoch(epoch: int | None) -> str:
    return "never" if epoch is None else str(epoch)


def _ratio(values: list) -> float:
    first, last = values[0], values[-1]
    return last / first if first and math.isfinite(first) else math.nan
