"""Yang et al. (2019): BatchNorm makes gradients *explode* at initialisation, ×√(π/(π−1)) per ReLU layer.

Deep MLPs on the digits, every hidden layer ``Linear → [norm] → activation``, He init (PyTorch's
``kaiming_normal_``: std = gain/√fan_in, gain √2 for ReLU and 5/3 for tanh), one full batch of
digits through each, cross-entropy loss, one backward pass. For every layer l we read
‖∂L/∂h_l‖, h_l the output of its Linear (what the norm normalises), and ‖∂L/∂W_l‖ from the
nodes' ``.grad``. The nets: ``relu``, ``relu_bn``, ``relu_ln``, ``tanh``, ``tanh_bn``, ``tanh_ln``.

``growth_per_layer`` = (‖∂L/∂h_2‖ / ‖∂L/∂h_L‖)^(1/(L−2)): the geometric mean of the factor by
which the gradient grows per layer on its way toward the input (> 1 explodes, < 1 vanishes).
It starts at layer 2, the first layer whose input is a previous layer's activation (the setting
of the theory): layer 1 sees the raw pixels, whose small per-pixel spread makes BatchNorm's
factor there several times larger (≈ 2.9 measured) — a one-off, not a rate.

**Why BatchNorm explodes (ReLU).** BatchNorm divides each unit by its batch std σ in the forward
pass, so the backward pass divides the gradient by the same σ. Under He init the input to layer
l is ReLU(z) with z ≈ N(0, 1); its variance is ½ − 1/(2π), and W doubles it, so h_l has
σ² ≈ (π − 1)/π, σ ≈ 0.82. ReLU halves the squared gradient and Wᵀ doubles it, so what is left
per layer is 1/σ ≈ √(π/(π−1)) ≈ 1.211 — Yang et al.'s large-batch rate (π/(π−1) for the squared
norm). ``bn_std`` reports the σ the nets actually had. LayerNorm normalises each sample over its
features instead: there the mean of W·ReLU(z) over features is ≈ 0, σ ≈ 1, no explosion.

Then **one SGD step** (each ``lr`` of the config) on the same batch, and the same measurement:
Yang et al. report that the first step already shrinks the spread of the gradients.

JSON (``tinygrad-edu experiment batchnorm --json``)::

    {"experiment": "batchnorm", "seed": 0,
     "config": {"depth": 40, "width": 256, "batch": 512, "lrs": [0.1, 1.0], ...},
     "results": {
       "prediction": {"relu_bn": 1.2112},                  # √(π/(π−1))
       "nets": {"relu_bn": {"grad_norms": [...],           # ‖∂L/∂h_l‖, l = 1..L (input side first)
                            "weight_grad_norms": [...],    # ‖∂L/∂W_l‖
                            "growth_per_layer": 1.21, "weight_growth_per_layer": 1.20,
                            "bn_std": 0.82,                # mean batch σ of h_l, layers 2..L (BN nets)
                            "loss": 2.5,
                            "after_step": {"0.1": {"grad_norms": [...], "growth_per_layer": 1.17,
                                                   "loss": 2.47}, ...}}, ...}}}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, nn
from ..graph import norm
from ..losses import cross_entropy
from ..optim import SGD
from .common import Progress, format_table, make_result, rng, run_experiment, say
from .data import digits

NAME = "batchnorm"
TITLE = "Yang et al. 2019: BatchNorm explodes gradients at init, ≈ ×1.21 per ReLU layer"
RESULT_KEYS = ("prediction", "nets")

#: net name → (activation, norm)
NETS = {
    "relu": ("relu", None),
    "relu_bn": ("relu", "batch"),
    "relu_ln": ("relu", "layer"),
    "tanh": ("tanh", None),
    "tanh_bn": ("tanh", "batch"),
    "tanh_ln": ("tanh", "layer"),
}

#: √(π/(π−1)): Yang et al.'s per-layer growth of ‖∂L/∂h‖ for ReLU with BatchNorm (large batch).
RELU_BN_GROWTH = math.sqrt(math.pi / (math.pi - 1))


def settings(quick: bool) -> dict[str, Any]:
    return {
        "depth": 15 if quick else 40,
        "width": 128 if quick else 256,
        "batch": 256 if quick else 512,
        "init": "he",
        "lrs": [0.1, 1.0],
        "quick": quick,
    }


class DeepNet(nn.Module):
    """``depth`` hidden layers ``Linear → [BatchNorm1d | LayerNorm] → activation``, then a Linear."""

    def __init__(self, activation: str, norm_kind: str | None, depth: int, width: int, seed: int):
        super().__init__(name="deepnet")
        generator = rng(seed)
        gain = nn.init.calculate_gain(activation)
        modules: list[nn.Module] = []
        self.linears: list[nn.Linear] = []
        self.norms: list[nn.Module] = []
        fan_in = 64
        for _ in range(depth):
            linear = nn.Linear(fan_in, width, init="he_normal", gain=gain, rng=generator)
            modules.append(linear)
            self.linears.append(linear)
            if norm_kind is not None:
                norm_layer = nn.BatchNorm1d(width) if norm_kind == "batch" else nn.LayerNorm(width)
                modules.append(norm_layer)
                self.norms.append(norm_layer)
            modules.append(nn.ReLU() if activation == "relu" else nn.Tanh())
            fan_in = width
        modules.append(nn.Linear(width, 10, init="he_normal", gain=1.0, rng=generator))
        self.layers = nn.Sequential(*modules)

    def forward(self, x: Any) -> Tensor:
        return self.layers(x)


def growth(norms: list[float]) -> float | None:
    """(‖g_first‖ / ‖g_last‖)^(1/(count − 1)): the geometric mean per-layer factor toward the input."""
    first, last = norms[0], norms[-1]
    if not (first > 0 and last > 0 and math.isfinite(first) and math.isfinite(last)):
        return None
    return (first / last) ** (1.0 / (len(norms) - 1))


def measure_net(model: DeepNet, X: np.ndarray, y: np.ndarray, batch_norm: bool) -> dict[str, Any]:
    """One forward/backward: the per-layer gradient norms, read from the nodes' ``.grad``."""
    model.zero_grad()
    loss = cross_entropy(model(Tensor(X)), y)
    loss.backward()
    grads = [norm(linear.last_output.grad) for linear in model.linears]
    weights = [norm(linear.weight.grad) for linear in model.linears]
    out = {
        "grad_norms": grads,
        "weight_grad_norms": weights,
        "growth_per_layer": growth(grads[1:]),
        "weight_growth_per_layer": growth(weights[1:]),
        "loss": loss.item(),
    }
    if batch_norm:  # the σ BatchNorm divides by: the batch std of each unit of h_l, layers 2..L
        stds = [float(np.mean(linear.last_output.data.std(axis=0))) for linear in model.linears[1:]]
        out["bn_std"] = float(np.mean(stds))
    return out


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    config = settings(quick)
    X, y = digits(config["batch"])
    nets = {}
    for name, (activation, kind) in NETS.items():
        say(progress, f"{name}: {config['depth']} layers of {config['width']}, one batch of {len(X)} digits")
        model = DeepNet(activation, kind, config["depth"], config["width"], seed)
        record = measure_net(model, X, y, kind == "batch")
        record["after_step"] = {}
        for lr in config["lrs"]:
            stepped = DeepNet(activation, kind, config["depth"], config["width"], seed)
            loss = cross_entropy(stepped(Tensor(X)), y)
            loss.backward()
            SGD(stepped.parameters(), lr=lr).step()
            after = measure_net(stepped, X, y, False)
            record["after_step"][str(lr)] = {
                key: after[key] for key in ("grad_norms", "growth_per_layer", "loss")
            }
        nets[name] = record
    return make_result(NAME, seed, config, {"prediction": {"relu_bn": RELU_BN_GROWTH}, "nets": nets})


def pictures(result: dict, folder: Path) -> list[Path]:
    """``batchnorm_gradients.svg`` (‖∂L/∂h_l‖ per layer at init) and ``batchnorm_after_step.svg``."""
    from .pictures import line_chart

    nets = result["results"]["nets"]
    lr = str(result["config"]["lrs"][-1])
    at_init = {
        f"{name} (×{nets[name]['growth_per_layer']:.3f}/layer)": dict(
            enumerate(nets[name]["grad_norms"], start=1)
        )
        for name in nets
    }
    stepped = {
        f"{name} (×{nets[name]['after_step'][lr]['growth_per_layer']:.3f}/layer)": dict(
            enumerate(nets[name]["after_step"][lr]["grad_norms"], start=1)
        )
        for name in nets
    }
    return [
        line_chart(
            at_init,
            folder / "batchnorm_gradients.svg",
            title=f"‖∂L/∂h_l‖ at init, He init (Yang et al.: relu_bn ×{RELU_BN_GROWTH:.3f}/layer)",
            xlabel="layer l (1 = input side)",
            ylabel="‖∂L/∂h_l‖",
        ),
        line_chart(
            stepped,
            folder / "batchnorm_after_step.svg",
            title=f"‖∂L/∂h_l‖ after one SGD step (lr {lr})",
            xlabel="layer l",
            ylabel="‖∂L/∂h_l‖",
        ),
    ]


def table(result: dict) -> str:
    config, res = result["config"], result["results"]
    lrs = [str(lr) for lr in config["lrs"]]
    rows = []
    for name, r in res["nets"].items():
        rows.append(
            [
                name,
                r["growth_per_layer"],
                r["weight_growth_per_layer"],
                res["prediction"].get(name, "—"),
                r.get("bn_std", "—"),
                r["grad_norms"][0] / r["grad_norms"][-1],  # the whole spread, layer 1 included
            ]
            + [r["after_step"][lr]["growth_per_layer"] for lr in lrs]
        )
    growth_table = format_table(
        ["net", "growth/layer ‖∂L/∂h‖", "growth/layer ‖∂L/∂W‖", "predicted", "BN σ", "first/last"]
        + [f"after 1 step, lr {lr}" for lr in lrs],
        rows,
        title=f"{config['depth']}-layer MLPs of width {config['width']} at init (He), one batch of "
        f"{config['batch']} digits; growth = geometric mean per layer toward the input (layers L → 2)",
    )
    losses = format_table(
        ["net", "loss at init"] + [f"loss after 1 step, lr {lr}" for lr in lrs],
        [[name, r["loss"]] + [r["after_step"][lr]["loss"] for lr in lrs] for name, r in res["nets"].items()],
        title="The loss on the same batch (chance: ln 10 = 2.30)",
    )
    return f"{growth_table}\n\n{losses}"
