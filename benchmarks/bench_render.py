"""Rendering benchmark: how long a large scalar graph takes to draw and render, grouped.

Run: ``python benchmarks/bench_render.py [--nodes 5000] [--repeat 3]``. Prints a table of the
best of ``repeat`` wall-clock times in seconds and, because absolute times on a shared machine
are noise, the ratio against building the same graph and running backward on it, measured in
the same run.

Workloads (both about ``--nodes`` nodes):

* ``mlp``: a scalar MLP whose layers are name scopes (``layer0`` ...), forward + backward;
  above the node cap the drawing collapses to one box per layer;
* ``chain``: one deep chain of tanh / multiply links without scopes; it collapses into bands of
  depth.

Steps timed: ``trace`` (the engine's graph walk), ``draw`` (scene + DOT text, grouping
included), and ``render svg/png`` through each renderer found (system ``dot``, pygraphviz).
A last row renders an *ungrouped* graph at the default node cap, the largest layout viz ever
hands Graphviz unless a user raises ``max_nodes``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

import viz
from tinygrad_edu import Value, name_scope, trace
from viz import backends
from viz.scene import DrawOptions, build_scene


def build_mlp(target_nodes: int, seed: int = 0):
    """A scalar tanh MLP (4 inputs, 3 hidden layers of one width) of at least ``target_nodes`` nodes.

    Returns a function that builds it (forward + backward) and returns the loss.
    """
    width = 2
    while len(trace(_mlp(width, seed))) < target_nodes:
        width += 1
    return lambda: _mlp(width, seed)


def _mlp(width: int, seed: int) -> Value:
    rng = random.Random(seed)
    h = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(4)]
    for k in range(3):
        with name_scope(f"layer{k}"):
            out = []
            for _ in range(width):
                s = Value(0.0)
                for v in h:
                    s = s + Value(rng.gauss(0, 1 / len(h) ** 0.5)) * v
                out.append(s.tanh())
            h = out
    loss = sum((v * v for v in h), Value(0.0))
    loss.label = "loss"
    loss.backward()
    return loss


def build_chain(target_nodes: int):
    """One chain of alternating tanh and ×0.99 links (1.5 nodes per link: × brings its constant).

    Returns a function that builds it (forward + backward) and returns the root.
    """
    return lambda: _chain(target_nodes * 2 // 3)


def _chain(links: int) -> Value:
    x = Value(0.5, label="x")
    h = x
    for i in range(links):
        h = h.tanh() if i % 2 else h * 0.99
    h.label = "y"
    h.backward()
    return h


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    renderers = backends.available()
    print(f"renderers found: {', '.join(renderers) or 'none (only DOT timings)'}")
    print(f"{'workload':<10}{'nodes':>7}{'groups':>8}  {'step':<22}{'seconds':>9}{'× build+backward':>18}")
    out = tempfile.mkdtemp(prefix="bench_render_")
    builders = {"mlp": build_mlp, "chain": build_chain}
    for name, build in builders.items():
        make = build(args.nodes)
        base = best_of(args.repeat, make)
        root = make()
        graph = trace(root)
        groups = len(build_scene(graph).nodes)
        rows = [("build + backward", base)]
        rows.append(("trace", best_of(args.repeat, lambda r=root: trace(r))))
        rows.append(("draw (DOT, grouped)", best_of(args.repeat, lambda g=graph: viz.draw(g).source)))
        for renderer in renderers:
            for fmt in ("svg", "png"):
                path = os.path.join(out, f"{name}.{fmt}")
                seconds = best_of(
                    args.repeat, lambda g=graph, p=path, r=renderer: viz.render(g, p, renderer=r)
                )
                rows.append((f"render {fmt} ({renderer})", seconds))
        for step, seconds in rows:
            print(f"{name:<10}{len(graph):>7}{groups:>8}  {step:<22}{seconds:>9.3f}{seconds / base:>18.2f}")
    cap = DrawOptions().max_nodes
    width = 2
    while len(trace(_mlp(width + 1, 0))) <= cap:  # the largest MLP still drawn node by node
        width += 1
    small = _mlp(width, 0)
    base = best_of(args.repeat, lambda: _mlp(width, 0))
    for renderer in renderers:
        path = os.path.join(out, "ungrouped.svg")
        seconds = best_of(args.repeat, lambda r=renderer, p=path: viz.render(small, p, renderer=r))
        step = f"render svg ({renderer})"
        print(
            f"{'ungrouped':<10}{len(trace(small)):>7}{0:>8}  {step:<22}{seconds:>9.3f}{seconds / base:>18.2f}"
        )
    print(f"pictures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
