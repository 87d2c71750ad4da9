"""Recurrent benchmark: one LSTM training step (forward + backward through time) against numpy.

Run: ``python benchmarks/bench_recurrent.py`` (``--repeats N``). Prints min-of-repeats times and
the ratio ``ours / numpy``, measured in the same run, interleaved (absolute times on a shared
machine are noise). The workload is the `adding` experiment's: T steps, batch 64, 2 inputs, a
Linear read-out of h_T and the MSE; the baseline is the same step by hand in numpy (forward keeps
the gates, backward is the textbook BPTT). Small hidden sizes are Python-overhead bound (~27
engine ops per step, each ~20 µs), so the ratio shrinks as H grows; this is why the experiment
picks its sizes by the number of steps, not by H.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tinygrad_edu import Tensor, mse_loss  # noqa: E402
from tinygrad_edu.experiments.common import small_matrices  # noqa: E402
from tinygrad_edu.experiments.sequences import SequenceRegressor, adding_problem  # noqa: E402


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_step(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """Forward and backward of the LSTM read-out by hand: the gradients of every parameter."""
    W_ih, W_hh = p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"]
    b = p["rnn.bias_ih_l0"] + p["rnn.bias_hh_l0"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    h, c = np.zeros((B, H)), np.zeros((B, H))
    keep = []
    for t in range(T):
        g = x[t] @ W_ih.T + h @ W_hh.T + b
        i, f, gg, o = (
            sigmoid(g[:, :H]),
            sigmoid(g[:, H : 2 * H]),
            np.tanh(g[:, 2 * H : 3 * H]),
            sigmoid(g[:, 3 * H :]),
        )
        c_new = f * c + i * gg
        tc = np.tanh(c_new)
        keep.append((h, c, i, f, gg, o, tc))
        h, c = o * tc, c_new
    error = h @ p["head.weight"] + p["head.bias"] - y
    d_out = 2 * error / error.size
    grads = {"head.weight": h.T @ d_out, "head.bias": d_out.sum(0)}
    dh, dc = d_out @ p["head.weight"].T, np.zeros((B, H))
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(4 * H)
    for t in range(T - 1, -1, -1):
        h_prev, c_prev, i, f, gg, o, tc = keep[t]
        dc = dc + dh * o * (1 - tc**2)
        dg = np.concatenate(
            [dc * gg * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - gg**2), dh * tc * o * (1 - o)],
            axis=1,
        )
        dW_ih += dg.T @ x[t]
        dW_hh += dg.T @ h_prev
        db += dg.sum(0)
        dh, dc = dg @ W_hh, dc * f
    grads.update(
        {"rnn.weight_ih_l0": dW_ih, "rnn.weight_hh_l0": dW_hh, "rnn.bias_ih_l0": db, "rnn.bias_hh_l0": db}
    )
    return grads


def ours_step(model: SequenceRegressor, x: np.ndarray, y: np.ndarray) -> None:
    model.zero_grad()
    mse_loss(model(Tensor(x)), Tensor(y)).backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'T':>4} {'H':>4}  {'ours ms':>8}  {'numpy ms':>8}  {'ratio':>6}")
    with small_matrices():
        for T, H in ((30, 16), (100, 16), (100, 128)):
            x, y = adding_problem(64, T, np.random.default_rng(0))
            model = SequenceRegressor("LSTM", 2, H, rng=0)
            params = model.state_dict()
            ours_step(model, x, y)  # the gradients agree before anything is timed
            mine = dict(model.named_parameters())
            for name, grad in numpy_step(params, x, y).items():
                assert np.allclose(mine[name].grad, grad, rtol=1e-8, atol=1e-12), name
            times = {"ours": [], "numpy": []}
            for _ in range(args.repeats):
                start = time.perf_counter()
                ours_step(model, x, y)
                times["ours"].append(time.perf_counter() - start)
                start = time.perf_counter()
                numpy_step(params, x, y)
                times["numpy"].append(time.perf_counter() - start)
            a, b = min(times["ours"]), min(times["numpy"])
            print(f"{T:>4} {H:>4}  {1e3 * a:8.1f}  {1e3 * b:8.1f}  {a / b:6.2f}")


if __name__ == "__main__":
    main()
