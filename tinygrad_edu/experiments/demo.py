"""The main job (``tinygrad-edu demo``): deep sigmoid vs deep ReLU, and where the gradient goes.

Two MLPs of the same shape, ``2 → 16 × 8 → 2``, on the same 64 points of two moons:

* **sigmoid** with Xavier init: every layer multiplies the backward signal by σ'(z) ≤ 1/4
  (and by weights of order 1), so ‖∂L/∂W‖ shrinks geometrically from the output to the input;
* **ReLU** with He init: the derivative is 1 on active units and the init keeps the scale, so
  every layer gets a gradient of the same order.

Written into the output folder:

* ``sigmoid_mlp.svg/.png``, ``relu_mlp.svg/.png`` — the annotated graphs of one
  forward/backward pass, grouped by layer (each box is one module; each edge shows the gain of
  the gradient between layers);
* ``gradient_flow.svg/.png`` — ‖∂L/∂W‖ per layer for both nets on one log-scale chart;
* ``sigmoid_chain.svg/.png`` — six sigmoids applied to one number: every edge carries its σ',
  each ≤ 0.25, and the gradient at ``x`` is their product;
* ``worked_example.svg/.png`` — the neuron of the worked chain-rule example, with ``w``'s two
  paths to the loss highlighted and the running product ∏ on each edge.

:func:`run` returns the measured numbers; :func:`text` turns them into the terminal report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, Value, cross_entropy, nn, trace
from .common import Progress, format_table, output_dir, rng, say, small_matrices
from .data import moons

NETS = {"sigmoid": "xavier_normal", "relu": "he_normal"}  # activation → its usual init
CHAIN_LENGTH = 6


def build_net(activation: str, depth: int, width: int, seed: int) -> nn.MLP:
    return nn.MLP(
        [2] + [width] * depth + [2], activation=activation, init=NETS[activation], rng=seed, name=activation
    )


def layer_gradients(net: nn.MLP) -> dict[str, float]:
    """‖∂L/∂W‖ of every Linear layer, input side first, named L1, L2, … (read from ``weight.grad``)."""
    linears = [m for m in net.layers if isinstance(m, nn.Linear)]
    return {f"L{i + 1}": float(np.linalg.norm(m.weight.grad)) for i, m in enumerate(linears)}


def layer_gains(loss: Tensor) -> dict[str, dict[str, float]]:
    """Per layer number (L1, L2, …) the gains of the layer view: ``"activation"``, the gain of the
    activation alone (‖∂L/∂in‖ / ‖∂L/∂out‖ of ``L3 Sigmoid``: σ' ≤ 1/4 shrinks, ReLU halves the
    units), and ``"layer"``, the product over all of that number's layers (``L3 Linear`` then
    ``L3 Sigmoid``) — ‖∂L/∂h₂‖ / ‖∂L/∂h₃‖ between the outputs of L2 and L3.

    These are the numbers on the arrows of the grouped picture.
    """
    found: dict[str, dict[str, float]] = {}
    for layer in trace(loss).layers():
        if not layer.is_layer:
            continue
        entry = found.setdefault(f"L{layer.number}", {"layer": 1.0})
        if layer.gain is None:  # no gradient reaches its input (L1 reads the data): no layer gain
            entry["layer"] = math.nan
        else:
            entry["layer"] *= layer.gain
            if not layer.params:
                entry["activation"] = layer.gain
    return {name: {k: v for k, v in entry.items() if not math.isnan(v)} for name, entry in found.items()}


def worked_neuron() -> tuple[Value, dict[str, Value]]:
    """The worked example: ``L = tanh(h·h)``, ``h = σ(w·x + b)`` at x=0.5, w=−1.5, b=0.8, after backward.

    ``h`` is used twice, so each leaf has two paths to ``L`` and its gradient is their sum.
    """
    x = Value(0.5, label="x")
    w = Value(-1.5, label="w")
    b = Value(0.8, label="b")
    h = (w * x + b).sigmoid()
    h.label = "h"
    L = (h * h).tanh()
    L.label = "L"
    L.backward()
    return L, {"w": w, "x": x, "b": b}


def sigmoid_chain(x: float = 0.5, length: int = CHAIN_LENGTH) -> tuple[Value, Value]:
    """``h_k = σ(h_{k−1})`` from ``h_0 = x``, after backward: returns ``(x, h_length)``."""
    leaf = Value(x, label="x")
    h = leaf
    for k in range(1, length + 1):
        h = h.sigmoid()
        h.label = f"h{k}"
    h.backward()
    return leaf, h


def run(
    seed: int = 0,
    quick: bool = False,
    out: Any = None,
    progress: Progress | None = None,
    formats: tuple[str, ...] = ("svg", "png"),
) -> dict[str, Any]:
    """Build, backpropagate and draw both nets and the sigmoid chain; return the numbers and files.

    ``quick`` uses 4 layers of 8 units and writes SVG only (for tests).
    """
    depth, width = (4, 8) if quick else (8, 16)
    if quick:
        formats = ("svg",)
    X, labels = moons(64, 0.1, rng(seed))
    roots, gradients, gains = {}, {}, {}
    with small_matrices():
        for activation in NETS:
            net = build_net(activation, depth, width, seed)
            loss = cross_entropy(net(Tensor(X, label="x")), labels)
            loss.label = "loss"
            loss.backward()
            roots[activation] = loss
            gradients[activation] = layer_gradients(net)
            gains[activation] = layer_gains(loss)
            say(progress, f"{activation}: forward and backward through {depth} hidden layers")
    x, h = sigmoid_chain()
    graph = trace(h)
    report = {
        "config": {"depth": depth, "width": width, "points": len(X), "inits": NETS, "seed": seed},
        "gradients": gradients,
        "gains": gains,
        "chain": {
            "locals": [edge.local for edge in reversed(graph.edges)],  # from x up to the output
            "gradient": x.grad,
            "text": graph.chain_rule_text(x),
        },
        "files": [],
    }
    folder = output_dir(out)
    if folder is not None:
        neuron, _ = worked_neuron()
        report["files"] = pictures(roots, gradients, h, neuron, folder, formats, progress)
    return report


def pictures(
    roots: dict,
    gradients: dict,
    chain: Value,
    neuron: Value,
    folder: Path,
    formats: tuple[str, ...],
    progress: Progress | None,
) -> list[str]:
    import viz

    written: list[Path] = []
    for suffix in formats:
        for activation, loss in roots.items():
            say(progress, f"drawing the {activation} graph ({suffix})")
            written.append(
                viz.render(
                    loss,
                    folder / f"{activation}_mlp.{suffix}",
                    group="layers",
                    title=f"{activation} MLP, one box per layer: each arrow's gain is that layer's factor",
                )
            )
        written.append(
            viz.gradient_flow_chart(
                gradients, folder / f"gradient_flow.{suffix}", title="‖∂L/∂W‖ per layer: sigmoid vs ReLU"
            )
        )
        written.append(
            viz.render(
                chain,
                folder / f"sigmoid_chain.{suffix}",
                title=f"{CHAIN_LENGTH} sigmoids: every edge multiplies the gradient by σ' ≤ 0.25",
            )
        )
        written.append(
            viz.render(
                neuron,
                folder / f"worked_example.{suffix}",
                highlight="w",
                title="the worked example: dL/dw is the sum over w's two paths of the products ∏",
            )
        )
    return [str(path) for path in written]


def text(report: dict) -> str:
    """The terminal report: the per-layer table, the σ' chain and the files written."""
    config = report["config"]
    sigmoid, relu = report["gradients"]["sigmoid"], report["gradients"]["relu"]
    gains = report["gains"]

    def gain(net: str, name: str, which: str) -> Any:
        return gains[net].get(name, {}).get(which, "—")

    rows = [
        [
            name,
            sigmoid[name],
            gain("sigmoid", name, "activation"),
            gain("sigmoid", name, "layer"),
            relu[name],
            gain("relu", name, "activation"),
            gain("relu", name, "layer"),
            relu[name] / sigmoid[name],
        ]
        for name in sigmoid
    ]
    first, last = next(iter(sigmoid)), list(sigmoid)[-1]
    table = format_table(
        [
            "layer",
            "sigmoid ‖∂L/∂W‖",
            "gain σ",
            "gain layer",
            "relu ‖∂L/∂W‖",
            "gain ReLU",
            "gain layer",
            "relu / sigmoid",
        ],
        rows,
        title=f"MLP 2-{config['width']}×{config['depth']}-2 on {config['points']} points of two moons, "
        "one backward (L1 = input side)",
    )
    notes = (
        "gain σ / ReLU: ‖∂L/∂in‖ / ‖∂L/∂out‖ of the layer's activation; gain layer: the same for the whole "
        "layer (Linear, then activation) — the arrows of the grouped pictures"
    )
    chain = report["chain"]
    lines = [
        table,
        notes,
        "",
        f"‖∂L/∂W‖ of the first layer / the last layer: sigmoid {sigmoid[first] / sigmoid[last]:.2g}, "
        f"relu {relu[first] / relu[last]:.2g}",
        "",
        f"{CHAIN_LENGTH} stacked sigmoids of x = 0.5 (each σ' ≤ 0.25):",
        chain["text"],
    ]
    if report["files"]:
        lines += ["", "wrote:"] + [f"  {path}" for path in report["files"]]
    return "\n".join(lines)
