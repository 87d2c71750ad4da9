"""PyTorch bridge benchmark: a ResNet-style torch model traced, hooked and rendered grouped.

Run: ``python benchmarks/bench_torch.py [--blocks 48] [--repeat 15] [--picture resnet.png]``.
Absolute times on a shared machine are noise, so every cost is also a ratio against a baseline
measured in the same run:

* ``backward with hooks / plain backward``: ``loss.backward()`` with a hook on every autograd node
  (what ``from_torch`` registers) against the same backward without hooks, same model and input;
* ``from_torch / plain backward``: all of ``from_torch`` (walk, hooks, backward, copying every
  gradient to numpy, building the graph);
* ``torch_scopes forward / plain forward``: the forward with the module-call hooks;
* ``draw`` and ``render svg``: the grouped picture (one box per block), against the plain
  forward + backward.

Two sizes: ``tiny`` tensors (per-node overhead dominates, the worst case for hooks) and
``small`` ones (8 images of 16×16 with 16 channels, where the arithmetic starts to count).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

import viz
from tinygrad_edu import from_torch, torch_scopes
from tinygrad_edu.torch_bridge.trace import backward_with_hooks, walk
from viz.scene import build_scene

#: Enough boxes for one per block (the default, 30, would merge 48 blocks into one box).
GROUPS = 64


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 convolutions with batch norm, plus the identity skip (ResNet's block)."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 2)
        self.conv1, self.bn1 = nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner)
        self.conv2, self.bn2 = nn.Conv2d(inner, inner, 3, padding=1, bias=False), nn.BatchNorm2d(inner)
        self.conv3, self.bn3 = nn.Conv2d(inner, channels, 1, bias=False), nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        return self.relu(self.bn3(self.conv3(h)) + x)


class ResNetStyle(nn.Module):
    def __init__(self, blocks: int, channels: int, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.blocks = nn.Sequential(*[Bottleneck(channels) for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(name: str, blocks: int, channels: int, batch: int, size: int, repeat: int, keep=None) -> dict:
    torch.manual_seed(0)
    model = ResNetStyle(blocks, channels)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 10, (batch,))

    def forward():
        return nn.functional.cross_entropy(model(x), y)

    def scoped_forward():
        with torch_scopes(model, units=Bottleneck):  # a block is one layer: one box per block
            return forward()

    # Costs and their baselines alternate inside each repeat and every ratio is the median of
    # the per-repeat ratios, so a drift in the machine's load hits both sides of a ratio.
    runs: dict = {
        k: []
        for k in (
            "plain forward",
            "plain backward",
            "backward with hooks",
            "torch_scopes forward",
            "from_torch",
        )
    }

    def timed(key, fn):
        model.zero_grad(set_to_none=True)  # every backward starts from empty .grad
        t = time.perf_counter()
        out = fn()
        runs[key].append(time.perf_counter() - t)
        return out

    for _ in range(repeat):
        loss = timed("plain forward", forward)
        timed("plain backward", loss.backward)
        loss = forward()
        order = walk(loss.grad_fn)
        timed("backward with hooks", lambda loss=loss, order=order: backward_with_hooks(loss, order, False))
        loss = timed("torch_scopes forward", scoped_forward)
        graph = timed("from_torch", lambda loss=loss: from_torch(loss, model))
    results = {key: statistics.median(times) for key, times in runs.items()}
    ratios = {
        "backward with hooks": ("plain backward", "plain backward"),
        "from_torch": ("plain backward", "plain backward"),
        "torch_scopes forward": ("plain forward", "plain forward"),
    }
    paired = {
        key: statistics.median(a / b for a, b in zip(runs[key], runs[base]))
        for key, (base, _) in ratios.items()
    }
    results["draw (grouped scene + DOT)"] = best(lambda: viz.draw(graph, max_groups=GROUPS), 3)
    scene = build_scene(graph, max_groups=GROUPS)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet.svg")
        results["render svg (grouped)"] = best(lambda: viz.render(graph, path, max_groups=GROUPS), 1)
        if keep:
            viz.render(graph, keep, max_groups=GROUPS)
    ops = sum(1 for n in graph.nodes if n.kind == "op")
    leaves = sum(1 for n in graph.nodes if n.kind in ("parameter", "input"))
    modules = sum(1 for _ in model.modules())
    print(
        f"\n{name}: {blocks} blocks, {modules} modules, {ops + leaves} autograd nodes "
        f"({ops} ops + {leaves} AccumulateGrad leaves), {len(graph.edges)} edges, "
        f"batch {batch}×3×{size}×{size}, {channels} channels; "
        f"drawn as {len(scene.nodes)} boxes ({scene.grouped})"
    )
    base = results["plain forward"] + results["plain backward"]
    for step, seconds in results.items():
        if step in paired:
            ratio = f"{paired[step]:6.2f}× {ratios[step][1]} (median of paired runs)"
        elif step.startswith(("draw", "render")):
            ratio = f"{seconds / base:6.2f}× plain forward+backward"
        else:
            ratio = ""
        print(f"  {step:<28} {seconds * 1000:9.1f} ms  {ratio}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--picture", default=None, help="also write the grouped picture here (svg/png)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # a shared machine: one core, comparable runs
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    measure("tiny", args.blocks, 8, 2, 4, args.repeat)
    measure("small", args.blocks, 16, 8, 16, args.repeat, keep=args.picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
