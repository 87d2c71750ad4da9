"""Scalar-engine benchmark: µs per node for a micrograd-sized MLP pass and for deep chains.

Run: ``python benchmarks/bench_scalar.py`` (``make bench``). Prints a table; the figures are
ratios against a closure-based engine (the style most teaching engines use: each node keeps a
``_backward`` closure that fuses the local derivative with the upstream gradient, and a set of
children) measured in the same run, because absolute times on a shared machine are noise.

Workloads:
* ``mlp``: a 2-16-16-1 tanh MLP over 100 two-moons points, forward + hinge loss + backward
  (about 66k nodes), as in the classic micrograd demo;
* ``chain N``: N alternating tanh/multiply links, forward + backward (linearity in depth).
"""

from __future__ import annotations

import gc
import math
import random
import sys
import time

import numpy as np

from tinygrad_edu import Value, topological_order

# --- the baseline: a closure-based engine, written here only to be measured against ---------


class ClosureValue:
    """Closure style: children in a set, the local derivative fused into a ``_backward`` closure."""

    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(children)
        self._op = op

    def __add__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = ClosureValue(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = ClosureValue(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def backward(self):
        topo, visited = [], set()

        def build(v):  # recursive, as in the classic engine
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


# --- workloads -------------------------------------------------------------------------


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles (our own generator: no scikit-learn needed)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t_out, t_in = np.linspace(0, np.pi, half), np.linspace(0, np.pi, n - half)
    x = np.concatenate([np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 0.5 - np.sin(t_in)]])
    x += rng.normal(scale=noise, size=x.shape)
    y = np.concatenate([-np.ones(half), np.ones(n - half)])
    return x.tolist(), y.tolist()


def mlp_weights(sizes, seed=0):
    rnd = random.Random(seed)
    return [
        [([rnd.uniform(-1, 1) for _ in range(n_in)], rnd.uniform(-1, 1)) for _ in range(n_out)]
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    ]


def mlp_pass(make, weights, xs, ys):
    """Forward 100 points through a tanh MLP, SVM hinge loss, backward. Returns (root, nodes)."""
    params = [[([make(w) for w in ws], make(b)) for ws, b in layer] for layer in weights]
    loss = make(0.0)
    for x, y in zip(xs, ys):
        act = [make(v) for v in x]
        for i, layer in enumerate(params):
            out = []
            for ws, b in layer:
                s = b
                for w, a in zip(ws, act):
                    s = s + w * a
                out.append(s.tanh() if i < len(params) - 1 else s)
            act = out
        loss = loss + (1 + -y * act[0]).relu()
    loss = loss * (1.0 / len(xs))
    loss.backward()
    return loss


def chain(make, n):
    x = make(0.5)
    y = x
    for i in range(n):
        y = y.tanh() if i % 2 else y * 1.0001
    y.backward()
    return y


def count_nodes_ours(root):
    return len(topological_order(root))


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    xs, ys = make_moons()
    weights = mlp_weights([2, 16, 16, 1])
    root = mlp_pass(Value, weights, xs, ys)
    nodes = count_nodes_ours(root)
    rows = []
    ours = best_of(lambda: mlp_pass(Value, weights, xs, ys), 5)
    theirs = best_of(lambda: mlp_pass(ClosureValue, weights, xs, ys), 5)
    rows.append(("mlp 2-16-16-1 ×100 pts", nodes, ours, theirs))
    limit = sys.getrecursionlimit()
    for n in (300, 1_000, 10_000, 100_000):
        chain_nodes = count_nodes_ours(chain(Value, n))
        ours = best_of(lambda n=n: chain(Value, n), 3)
        if n < limit - 100:
            theirs = best_of(lambda n=n: chain(ClosureValue, n), 3)
        else:
            theirs = float("nan")  # the recursive topological sort cannot go this deep
        rows.append((f"chain {n}", chain_nodes, ours, theirs))

    print(f"{'workload':26} {'nodes':>8} {'ours µs/node':>13} {'closure µs/node':>16} {'speed-up':>9}")
    for name, n, ours, theirs in rows:
        speedup = theirs / ours if theirs == theirs else float("nan")
        theirs_txt = f"{theirs / n * 1e6:16.3f}" if theirs == theirs else f"{'RecursionError':>16}"
        print(f"{name:26} {n:8d} {ours / n * 1e6:13.3f} {theirs_txt} {speedup:8.2f}×")
    per_node = [ours / n for name, n, ours, _ in rows if name.startswith("chain")]
    print(f"linearity: µs/node at 1e5 / µs/node at 1e3 = {per_node[-1] / per_node[1]:.2f} (1.0 = linear)")
    # Split the deep chain into forward (user code, under CPython's cycle collector) and
    # backward (the engine's loop, which pauses the collector: it creates no cycles).
    print("\nchain split (µs/link)      forward   backward   forward, collector off")
    for n in (1_000, 10_000, 100_000, 300_000):
        fwd, bwd, fwd_off = split_chain(n)
        print(f"chain {n:<20d} {fwd / n * 1e6:8.3f} {bwd / n * 1e6:10.3f} {fwd_off / n * 1e6:10.3f}")


def split_chain(n):
    def forward():
        y = Value(0.5)
        for i in range(n):
            y = y.tanh() if i % 2 else y * 1.0001
        return y

    gc.collect()
    start = time.perf_counter()
    y = forward()
    fwd = time.perf_counter() - start
    start = time.perf_counter()
    y.backward()
    bwd = time.perf_counter() - start
    del y
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        forward()
        fwd_off = time.perf_counter() - start
    finally:
        gc.enable()
    return fwd, bwd, fwd_off


if __name__ == "__main__":
    main()
