"""He, Zhang, Ren & Sun (2015): a 30-layer ReLU net trains with He init and stalls with Xavier init.

A plain ReLU net ``64 → 64 × 30 → 10`` (no skip connections, biases 0) on the 8×8 digits
(1500 for training, the other 297 for testing), softmax cross-entropy, SGD with momentum:

* **Xavier** ``W ~ N(0, 2/(n_in + n_out))`` = N(0, 1/64) here. ReLU zeroes half of its inputs,
  so each layer *halves* the variance of the signal: after 30 layers the activations are
  2^15 ≈ 30 000 times smaller in std, the logits are ≈ 0, and the backward pass shrinks the
  same way. The loss stays at ln 10 ≈ 2.303: the net stalls.
* **He** ``W ~ N(0, 2/n_in)``: the factor 2 exactly undoes ReLU's halving, the signal keeps its
  scale through all 30 layers, and the net trains.

Measured: the std of every layer's activations at initialisation, then the training loss per
epoch and the test accuracy.

JSON (``tinygrad-edu experiment he --json``)::

    {"experiment": "he", "seed": 0,
     "config": {"depth": 30, "width": 64, "train": 1500, "test": 297, "epochs": 30, "batch": 32,
                "lr": 0.001, "momentum": 0.9, "quick": false},
     "results": {
       "activation_std": {"xavier": [0.29, ..., 1e-05], "he": [0.40, ..., 0.35]},  # layer 1 first
       "activation_shrink": {"xavier": 2.7e4, "he": 1.2},   # std layer 1 / std layer 30
       "weight_grad_norm": {"xavier": [...], "he": [...]},  # ‖∂L/∂W_l‖ at init, layer 1 first
       "train_loss": {"xavier": [2.30, ...], "he": [2.2, ...]},   # per epoch (mean over batches)
       "test_accuracy": {"xavier": [...], "he": [...]},           # per epoch
       "final": {"xavier": {"train_loss": 2.30, "test_accuracy": 0.10},
                 "he": {"train_loss": 0.11, "test_accuracy": 0.85}}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, cross_entropy, nn
from ..modes import no_grad
from ..numerics import norm
from ..optim import SGD
from .common import Progress, format_table, make_result, rng, run_experiment, say
from .data import digits_split

NAME = "he"
TITLE = "He et al. 2015: a 30-layer ReLU net trains with He init and stalls with Xavier"
RESULT_KEYS = (
    "activation_std",
    "activation_shrink",
    "weight_grad_norm",
    "train_loss",
    "test_accuracy",
    "final",
)

#: our init name for each scheme
INITS = {"xavier": "xavier_normal", "he": "he_normal"}


def make_net(depth: int, width: int, init: str, seed: int) -> nn.MLP:
    return nn.MLP([64] + [width] * depth + [10], activation="relu", init=init, rng=seed)


def at_init(net: nn.MLP, X: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float]]:
    """Per hidden layer, the std of the ReLU outputs; per Linear layer, ‖∂L/∂W‖ (one backward)."""
    h = Tensor(X)
    stds = []
    for module in net.layers:
        h = module(h)
        if isinstance(module, nn.ReLU):
            stds.append(float(h.data.std()))
    net.zero_grad()
    cross_entropy(h, labels).backward()
    norms = [norm(m.weight.grad) for m in net.layers if isinstance(m, nn.Linear)]
    return stds, norms


def train(
    net: nn.MLP, data: tuple, *, epochs: int, batch: int, lr: float, momentum: float, seed: int
) -> tuple[list[float], list[float]]:
    """Mini-batch SGD with momentum; per epoch, the mean training loss and the test accuracy."""
    X, labels, X_test, labels_test = data
    generator = rng(seed)
    optimizer = SGD(net.parameters(), lr=lr, momentum=momentum)
    losses, accuracies = [], []
    for _ in range(epochs):
        order = generator.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), batch):
            rows = order[start : start + batch]
            optimizer.zero_grad()
            loss = cross_entropy(net(Tensor(X[rows])), labels[rows])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        losses.append(total / len(X))
        with no_grad():
            accuracies.append(float(np.mean(np.argmax(net(Tensor(X_test)).data, axis=1) == labels_test)))
    return losses, accuracies


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    config: dict[str, Any] = {  # settings of mixed types, recorded in the result
        "depth": 30,
        "width": 64,
        "train": 1000 if quick else 1500,
        "test": 297,
        "epochs": 3 if quick else 30,
        "batch": 32,
        "lr": 0.001,
        "momentum": 0.9,
        "inits": INITS,
        "quick": quick,
    }
    data = digits_split(config["train"], config["test"])
    results: dict[str, dict] = {key: {} for key in RESULT_KEYS}
    for scheme, init in INITS.items():
        net = make_net(config["depth"], config["width"], init, seed)
        stds, norms = at_init(net, data[0][:500], data[1][:500])
        results["activation_std"][scheme] = stds
        results["activation_shrink"][scheme] = stds[0] / stds[-1]
        results["weight_grad_norm"][scheme] = norms
        say(progress, f"{scheme} init: activation std {stds[0]:.3g} (layer 1) → {stds[-1]:.3g} (layer 30)")
        say(progress, f"{scheme} init: training {config['epochs']} epochs")
        losses, accuracies = train(
            net,
            data,
            epochs=config["epochs"],
            batch=config["batch"],
            lr=config["lr"],
            momentum=config["momentum"],
            seed=seed,
        )
        results["train_loss"][scheme] = losses
        results["test_accuracy"][scheme] = accuracies
        results["final"][scheme] = {"train_loss": losses[-1], "test_accuracy": accuracies[-1]}
        say(progress, f"{scheme} init: final loss {losses[-1]:.3g}, test accuracy {accuracies[-1]:.3f}")
    return make_result(NAME, seed, config, results)


def pictures(result: dict, folder: Path) -> list[Path]:
    """``he_activations.svg``, ``he_gradients.svg`` (‖∂L/∂W‖ per layer) and ``he_training.svg``."""
    import viz

    from .pictures import line_chart

    res = result["results"]
    return [
        line_chart(
            {s: dict(enumerate(v, start=1)) for s, v in res["activation_std"].items()},
            folder / "he_activations.svg",
            title="std of the activations of each ReLU layer at init",
            xlabel="layer",
            ylabel="std",
        ),
        viz.gradient_flow_chart(
            {
                s: {f"L{i + 1}": v for i, v in enumerate(norms)}
                for s, norms in res["weight_grad_norm"].items()
            },
            folder / "he_gradients.svg",
            title="‖∂L/∂W‖ per layer at init (30 ReLU layers)",
        ),
        line_chart(
            {s: dict(enumerate(v, start=1)) for s, v in res["train_loss"].items()},
            folder / "he_training.svg",
            title="training loss",
            xlabel="epoch",
            ylabel="cross-entropy",
        ),
    ]


def table(result: dict) -> str:
    res = result["results"]
    config = result["config"]
    depth = config["depth"]
    shown = sorted({1, 2, 5, 10, 20, depth})
    init_table = format_table(
        ["init"] + [f"layer {i}" for i in shown] + ["shrink 1→30"],
        [
            [s] + [res["activation_std"][s][i - 1] for i in shown] + [res["activation_shrink"][s]]
            for s in INITS
        ],
        title=f"std of the activations at init, ReLU net 64-{config['width']}×{depth}-10",
    )
    epochs = config["epochs"]
    marks = sorted({1, max(1, epochs // 3), max(1, 2 * epochs // 3), epochs})
    train_table = format_table(
        ["init"] + [f"loss ep {e}" for e in marks] + ["test acc"],
        [
            [s] + [res["train_loss"][s][e - 1] for e in marks] + [res["final"][s]["test_accuracy"]]
            for s in INITS
        ],
        title=f"SGD lr={config['lr']} momentum={config['momentum']}, batch {config['batch']}, "
        f"{config['train']} training / {config['test']} test digits",
    )
    return f"{init_table}\n\n{train_table}"
