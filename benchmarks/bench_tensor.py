"""Tensor-engine benchmark: an MLP training step and a 1000-op chain, against hand-written numpy.

Run: ``python benchmarks/bench_tensor.py`` (options: ``--repeats N``, ``--threads N``,
``--keep-freed-memory``). Prints a table of median times and the ratio ``ours / numpy``: the
median over rounds of the two times measured side by side in one round (the runs alternate),
because absolute times on a shared machine are noise.

Workloads:

* ``mlp``: one training step of a 784-256-256-10 ReLU MLP on a batch of 128 — forward,
  softmax cross-entropy, backward, plain SGD update — in float32 and float64. The baseline is
  the same step written by hand in numpy (forward keeps what backward needs; backward is the
  textbook matrix calculus). Three rows for the engine: the batch already a ``Tensor`` (as a
  data loader would hand it over), ``Tensor(batch)`` inside the step (which copies the batch),
  and ``from_numpy(batch)`` inside the step (which shares it, as ``torch.from_numpy``).
  Target: ≤ 1.15× numpy.
* ``chain``: 1000 elementwise ops on a shape-(4,) float64 tensor, in rotation ``* a``, ``+ b``
  and ``tanh`` (``a`` and ``b`` constant tensors of shape (4,)), then ``sum().backward()``: the
  peer benchmark's W4 (``../shared/bench/peers.py``), so the two report the same figure. It
  measures per-op overhead, since the arrays are tiny. The baseline stores each tanh output
  and multiplies the local derivatives on the way back. Target: ≤ 2.5× numpy.

BLAS runs single-threaded by default (``--threads`` to change it): on a small shared machine,
thread contention makes multi-threaded matmul timings swing by 2× from run to run.

Memory note: the engine keeps the whole graph (every activation, local derivative and
gradient) so that it can be drawn; the hand-written step frees its temporaries as it goes.
With glibc's default malloc the larger footprint is returned to the OS after each step and
page-faulted back in the next one, which costs time on top of the Python overhead.
``--keep-freed-memory`` re-runs with ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``
raised so that freed memory is reused instead, which isolates the engine's own overhead. The
last lines count the page faults of a step (``ru_minflt``), ours beside numpy's: the cost this
note describes, counted rather than inferred.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import time


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds (medians kept)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: stable timings)")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="re-run with glibc malloc trimming off (isolates the engine's own overhead)",
    )
    args = parser.parse_args()
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")
    return args


ARGS = _arguments() if __name__ == "__main__" else argparse.Namespace(repeats=5, threads=1)
if __name__ == "__main__" and ARGS.keep_freed_memory and "MALLOC_TRIM_THRESHOLD_" not in os.environ:
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_=str(2**30), MALLOC_MMAP_THRESHOLD_=str(2**30))
    sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, str(ARGS.threads))  # before numpy is imported

import numpy as np  # noqa: E402

from tinygrad_edu import Tensor, cross_entropy, from_numpy  # noqa: E402

SIZES = (784, 256, 256, 10)
BATCH = 128
LR = 0.01
CHAIN_OPS = 1000
CHAIN_A = np.full(4, 0.9)  # the factor and the shift of the chain's * and + (constant tensors)
CHAIN_B = np.full(4, 0.1)


# --- the MLP step ---------------------------------------------------------------------------------


def make_problem(dtype: np.dtype, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    weights = [
        (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        for n_in, n_out in zip(SIZES, SIZES[1:])
    ]
    biases = [np.zeros(n_out, dtype) for n_out in SIZES[1:]]
    x = rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
    y = rng.integers(0, SIZES[-1], BATCH)
    return weights, biases, x, y


class EngineMLP:
    """The step with tinygrad_edu tensors: the graph is built, walked back, and kept."""

    def __init__(self, weights: list, biases: list):
        self.params = []
        for w, b in zip(weights, biases):
            self.params += [Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)]

    def step(self, x: Tensor, y: np.ndarray) -> float:
        h = x
        last = len(self.params) // 2 - 1
        for i in range(last + 1):
            h = h @ self.params[2 * i] + self.params[2 * i + 1]
            if i < last:
                h = h.relu()
        loss = cross_entropy(h, y)
        loss.backward()
        for p in self.params:
            p.data -= LR * p.grad
            p.grad = None
        return loss.item()


class NumpyMLP:
    """The same step written by hand in numpy, the baseline."""

    def __init__(self, weights: list, biases: list):
        self.weights = [w.copy() for w in weights]
        self.biases = [b.copy() for b in biases]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        inputs, pre = [], []
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(h)
            z = h @ w + b
            pre.append(z)
            h = np.maximum(z, 0) if i < last else z
        rows = np.arange(len(y))
        shifted = h - h.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - shifted[rows, y])
        g = e / s
        g[rows, y] -= 1
        g *= 1.0 / len(y)
        for i in range(last, -1, -1):
            dw = inputs[i].T @ g
            db = g.sum(axis=0)
            if i > 0:
                g = (g @ self.weights[i].T) * (pre[i - 1] > 0)
            self.weights[i] -= LR * dw
            self.biases[i] -= LR * db
        return float(loss)


def check_mlp_agrees(dtype: np.dtype) -> None:
    weights, biases, x, y = make_problem(dtype)
    ours, hand = EngineMLP(weights, biases), NumpyMLP(weights, biases)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for _ in range(2):
        a, b = ours.step(Tensor(x), y), hand.step(x, y)
        assert abs(a - b) <= tol * max(1.0, abs(b)), (a, b)
    for p, w in zip(ours.params[::2], hand.weights):
        np.testing.assert_allclose(p.data, w, rtol=tol, atol=tol)
        assert p.data.dtype == dtype


def bench_mlp(dtype: np.dtype, repeats: int) -> dict:
    weights, biases, x, y = make_problem(dtype)
    ours, hand = EngineMLP(weights, biases), NumpyMLP(weights, biases)
    wrapped = Tensor(x)
    runs = {
        "numpy": lambda: hand.step(x, y),
        "ours": lambda: ours.step(wrapped, y),
        "ours+wrap": lambda: ours.step(Tensor(x), y),
        "ours+share": lambda: ours.step(from_numpy(x), y),
    }
    return interleaved(runs, repeats)


# --- the elementwise chain --------------------------------------------------------------------------


def engine_chain(x0: np.ndarray) -> np.ndarray:
    a, b = Tensor(CHAIN_A), Tensor(CHAIN_B)
    x = Tensor(x0, requires_grad=True)
    h = x
    for i in range(CHAIN_OPS):
        k = i % 3
        h = h * a if k == 0 else (h + b if k == 1 else h.tanh())
    h.sum().backward()
    return x.grad


def numpy_chain(x0: np.ndarray) -> np.ndarray:
    h, saved = x0, []  # what backward needs: the tanh outputs (for 1 − y²)
    for i in range(CHAIN_OPS):
        k = i % 3
        if k == 0:
            h = h * CHAIN_A
        elif k == 1:
            h = h + CHAIN_B
        else:
            h = np.tanh(h)
            saved.append(h)
    g = np.ones_like(h)  # ∂sum/∂h
    for i in reversed(range(CHAIN_OPS)):
        k = i % 3
        if k == 0:
            g = g * CHAIN_A
        elif k == 2:
            y = saved.pop()
            g = g * (1.0 - y * y)
    return g


def bench_chain(repeats: int) -> dict:
    x0 = np.linspace(-1.0, 1.0, 4)
    np.testing.assert_allclose(engine_chain(x0), numpy_chain(x0), rtol=1e-12)
    return interleaved({"numpy": lambda: numpy_chain(x0), "ours": lambda: engine_chain(x0)}, repeats)


# --- timing ---------------------------------------------------------------------------------------------


def minor_faults() -> int:
    """Page faults this process has had that the kernel served from memory (``ru_minflt``): one
    per 4 KiB page that malloc took from the OS and a write touched for the first time."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def interleaved(runs: dict, repeats: int) -> dict:
    """Seconds of every repeat of every run; the runs alternate (the first one rotating) so that
    a load change on the shared machine hits all of them alike. A collection runs before each
    sample, as in the peer benchmark, so no run pays for another's garbage. Each run's page
    faults per repeat are kept too, under ``(name, "faults")``."""
    names = list(runs)
    for run in runs.values():  # warm-up: caches, allocator, lazy imports
        run()
        run()
    samples: dict = {name: [] for name in names}
    samples.update({(name, "faults"): [] for name in names})
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            faults = minor_faults()
            start = time.perf_counter()
            runs[name]()
            samples[name].append(time.perf_counter() - start)
            samples[name, "faults"].append(minor_faults() - faults)
    return samples


def summary(samples: dict, name: str, base: str) -> tuple:
    """(median time of ``name``, median of ``base``, median over rounds of name/base)."""
    ratios = [a / b for a, b in zip(samples[name], samples[base])]
    return statistics.median(samples[name]), statistics.median(samples[base]), statistics.median(ratios)


def main() -> None:
    threads = os.environ["OPENBLAS_NUM_THREADS"]
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_") or "glibc default"
    print(f"tinygrad_edu tensor benchmark (numpy {np.__version__}, BLAS threads {threads},")
    print(f"  malloc trim threshold {trim}, medians of {ARGS.repeats} interleaved rounds)\n")
    rows = []
    faults = []
    for dtype in (np.float32, np.float64):
        check_mlp_agrees(np.dtype(dtype))
        t = bench_mlp(np.dtype(dtype), ARGS.repeats)
        name = np.dtype(dtype).name
        rows.append((f"mlp step {name}", *summary(t, "ours", "numpy"), 1.15))
        rows.append((f"mlp step {name}, Tensor(batch) in step", *summary(t, "ours+wrap", "numpy"), 1.15))
        rows.append((f"mlp step {name}, from_numpy(batch) in step", *summary(t, "ours+share", "numpy"), 1.15))
        faults.append((name, *(statistics.median(t[run, "faults"]) for run in ("ours", "numpy"))))
    t = bench_chain(ARGS.repeats)
    chain = summary(t, "ours", "numpy")
    rows.append((f"chain of {CHAIN_OPS} ops (* a, + b, tanh), shape (4,)", *chain, 2.5))
    print(f"{'workload':<46}{'ours ms':>10}{'numpy ms':>10}{'ratio':>8}{'target':>8}")
    for name, ours, numpy_time, ratio, target in rows:
        mark = "ok" if ratio <= target else "MISS"
        print(f"{name:<46}{ours * 1e3:>10.3f}{numpy_time * 1e3:>10.3f}{ratio:>7.2f}×{target:>6.2f}× {mark}")
    ours_op, numpy_op = chain[0] / CHAIN_OPS * 1e6, chain[1] / CHAIN_OPS * 1e6
    print(f"\nchain: {ours_op:.2f} µs per op, forward + backward ({numpy_op:.2f} µs in numpy)")
    print("mlp step, page faults per step (median; a fault is the first touch of a 4 KiB page")
    print("  that malloc took from the OS):")
    for name, ours_faults, numpy_faults in faults:
        print(f"  {name}: ours {ours_faults:.0f}, numpy {numpy_faults:.0f}")


if __name__ == "__main__":
    main()
