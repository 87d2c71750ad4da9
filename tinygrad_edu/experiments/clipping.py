"""Pascanu, Mikolov & Bengio (2013): exploding gradients in a repeated-matrix chain, and norm clipping.

**Part 1 — the ρ^T law.** Apply the same matrix ``W = ρ·Q`` (``Q`` orthogonal) ``T`` times:
``x_T = x_0 W W … W``. By the chain rule ``∂x_T/∂x_0`` is the product of ``T`` copies of
``Wᵀ``; an orthogonal matrix keeps lengths, so every singular value of that product is exactly
``ρ^T``: the gradient shrinks geometrically for ρ < 1, is preserved for ρ = 1, and explodes for
ρ > 1. We *measure* it: a batch ``x_0 = I`` (one row per input direction), one ``backward`` with
seed ``I``, and ``x_0.grad`` is the whole Jacobian; its largest and smallest singular values are
compared with ``ρ^T``.

**Part 2 — a training run.** A tied linear chain ``h_T = x W^T`` (an RNN without inputs) learns
to map ``x`` to ``x Q^T`` from ``W = 1.2·Q``. The loss surface has a cliff: ``‖∂L/∂W‖`` starts
at thousands, so one plain SGD step throws ``W`` far away, the next forward pass overflows, and
the loss becomes NaN. The same run with ``clip_grad_norm_(max_norm=1)`` takes bounded steps
down the cliff and converges.

JSON (``tinygrad-edu experiment clipping --json``)::

    {"experiment": "clipping", "seed": 0,
     "config": {"n": 16, "rhos": [0.9, 1.0, 1.1], "lengths": [1, 5, ...], "train": {...}, "quick": false},
     "results": {
       "law": [{"rho": 0.9, "T": 10, "predicted": 0.349, "largest": 0.349, "smallest": 0.349,
                "relative_error": 1e-15}, ...],
       "fitted_rho": {"0.9": 0.9, "1.0": 1.0, "1.1": 1.1},   # exp(slope of log‖J‖ against T)
       "max_relative_error": 1e-14,
       "unclipped": {"losses": [...], "grad_norms": [...], "first_nonfinite_step": 2,
                     "final_loss": null},
       "clipped": {"losses": [...], "grad_norms": [...], "first_nonfinite_step": null,
                   "final_loss": 1e-06}}}

``grad_norms`` are the norms *before* clipping (what ``clip_grad_norm_`` returns); NaN
measurements are ``null``; ``losses`` lists the loss at every step.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, mse_loss
from ..numerics import norm
from ..optim import SGD, clip_grad_norm_
from .common import Progress, format_table, make_result, number, rng, run_experiment, say

NAME = "clipping"
TITLE = "Pascanu et al. 2013: ‖∂x_T/∂x_0‖ = ρ^T, and norm clipping stops a divergence"
RESULT_KEYS = ("law", "fitted_rho", "max_relative_error", "unclipped", "clipped")

RHOS = (0.9, 1.0, 1.1)


def orthogonal(n: int, generator: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix: Q of the QR decomposition of a Gaussian matrix (signs fixed)."""
    q, r = np.linalg.qr(generator.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def chain_jacobian(W: np.ndarray, T: int) -> np.ndarray:
    """``∂x_T/∂x_0`` of ``x_T = x_0 W…W`` (T times), measured with one backward pass of our engine.

    The rows of ``x_0 = I`` are n inputs at once; seeding backward with ``I`` makes
    ``x_0.grad`` the full Jacobian (transposed, which has the same singular values).
    """
    n = W.shape[0]
    x0 = Tensor(np.eye(n), requires_grad=True, label="x0")
    weight = Tensor(W, label="W")  # one node used T times: T edges into the same matrix
    x = x0
    for _ in range(T):
        x = x @ weight
    x.backward(np.eye(n))
    assert x0.grad is not None, "backward() reached x0"
    return x0.grad


def measure_law(n: int, rhos, lengths, generator: np.random.Generator, progress: Progress | None) -> dict:
    Q = orthogonal(n, generator)
    rows = []
    fitted = {}
    for rho in rhos:
        logs = []
        for T in lengths:
            singular = np.linalg.svd(chain_jacobian(rho * Q, T), compute_uv=False)
            predicted = rho**T
            error = float(np.max(np.abs(singular - predicted)) / predicted)
            rows.append(
                {
                    "rho": rho,
                    "T": T,
                    "predicted": predicted,
                    "largest": float(singular[0]),
                    "smallest": float(singular[-1]),
                    "relative_error": error,
                }
            )
            logs.append(math.log(singular[0]))
        slope = np.polyfit(np.asarray(lengths, float), np.asarray(logs), 1)[0]
        fitted[str(rho)] = float(math.exp(slope))
        say(progress, f"ρ = {rho}: ‖∂x_T/∂x_0‖ measured for T = {', '.join(map(str, lengths))}")
    return {
        "law": rows,
        "fitted_rho": fitted,
        "max_relative_error": max(row["relative_error"] for row in rows),
    }


def train_chain(
    clip: float | None, *, n: int, T: int, batch: int, rho: float, lr: float, steps: int, seed: int
) -> dict:
    """Train the tied chain ``h_T = x W^T`` towards ``x Q^T`` from ``W = ρ·Q`` with plain SGD.

    Stops early once the loss is NaN (nothing more to learn from a NaN run).
    """
    generator = rng(seed)
    Q = orthogonal(n, generator)
    x = generator.normal(0.0, 1.0 / math.sqrt(n), (batch, n))  # E‖x‖² = 1
    target = Tensor(x @ np.linalg.matrix_power(Q, T))
    inputs = Tensor(x, label="x")
    W = Tensor(rho * Q, requires_grad=True, label="W")
    optimizer = SGD([W], lr=lr)
    losses: list[float] = []
    norms: list[float] = []
    with np.errstate(all="ignore"):  # the unclipped run overflows on purpose
        for _ in range(steps):
            h = inputs
            for _ in range(T):
                h = h @ W
            loss = mse_loss(h, target)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                break
            optimizer.zero_grad()
            loss.backward()
            if clip is None:
                norms.append(norm(W.grad))
            else:
                norms.append(float(clip_grad_norm_([W], max_norm=clip)))
            optimizer.step()
    first_bad = next((i for i, value in enumerate(losses) if not math.isfinite(value)), None)
    return {
        "losses": losses,
        "grad_norms": norms,
        "first_nonfinite_step": first_bad,
        "final_loss": losses[-1],
    }


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    """Measure the ρ^T law and train the chain with and without clipping (see the module docstring)."""
    n = 8 if quick else 16
    lengths = [1, 5, 10, 20] if quick else [1, 5, 10, 20, 40, 60]
    train: dict[str, Any] = {  # settings of mixed types, recorded in the result
        "n": 8,
        "T": 20,
        "batch": 64,
        "rho": 1.2,
        "lr": 0.1,
        "steps": 40 if quick else 150,
        "max_norm": 1.0,
    }
    law = measure_law(n, RHOS, lengths, rng(seed), progress)
    options = {key: train[key] for key in ("n", "T", "batch", "rho", "lr", "steps")}
    say(progress, f"training the tied chain (T = {train['T']}) without clipping")
    unclipped = train_chain(None, seed=seed, **options)
    say(progress, f"training it with clip_grad_norm_(max_norm={train['max_norm']})")
    clipped = train_chain(train["max_norm"], seed=seed, **options)
    config = {"n": n, "rhos": list(RHOS), "lengths": lengths, "train": train, "quick": quick}
    result = make_result(NAME, seed, config, {**law, "unclipped": unclipped, "clipped": clipped})
    return result


def pictures(result: dict, folder: Path) -> list[Path]:
    """``clipping_law.svg`` (‖∂x_T/∂x_0‖ against T, log scale) and ``clipping_training.svg``."""
    from .pictures import line_chart

    law = result["results"]["law"]
    series = {
        f"ρ = {rho}": {str(row["T"]): row["largest"] for row in law if row["rho"] == rho}
        for rho in result["config"]["rhos"]
    }
    runs = {
        label: dict(enumerate(result["results"][key]["losses"]))
        for key, label in (("unclipped", "no clipping"), ("clipped", "clip_grad_norm_(1.0)"))
    }
    return [
        line_chart(series, folder / "clipping_law.svg", title="‖∂x_T/∂x_0‖ = ρ^T", xlabel="T", ylabel="norm"),
        line_chart(
            runs, folder / "clipping_training.svg", title="training loss", xlabel="step", ylabel="loss"
        ),
    ]


def table(result: dict) -> str:
    res = result["results"]
    lengths = result["config"]["lengths"]
    rows = []
    for rho in result["config"]["rhos"]:
        measured = {row["T"]: row["largest"] for row in res["law"] if row["rho"] == rho}
        rows.append([f"ρ = {rho}"] + [measured[T] for T in lengths] + [res["fitted_rho"][str(rho)]])
    law = format_table(
        ["‖∂x_T/∂x_0‖"] + [f"T={T}" for T in lengths] + ["fitted ρ"],
        rows,
        title=f"Repeated-matrix chain W = ρ·Q (measured by backward; max |σ − ρ^T|/ρ^T = "
        f"{number(res['max_relative_error'])})",
    )
    train = result["config"]["train"]
    rows = []
    for key, label in (("unclipped", "plain SGD"), ("clipped", f"clip_grad_norm_({train['max_norm']})")):
        run_ = res[key]
        losses = run_["losses"]
        rows.append(
            [
                label,
                losses[0],
                max((v for v in run_["grad_norms"] if v is not None), default=None),
                run_["first_nonfinite_step"] if run_["first_nonfinite_step"] is not None else "never",
                run_["final_loss"],
            ]
        )
    training = format_table(
        ["run", "loss at step 0", "max ‖∂L/∂W‖", "first NaN step", "final loss"],
        rows,
        title=f"Tied chain h_T = x·W^{train['T']} from W = {train['rho']}·Q, SGD lr={train['lr']}, "
        f"{train['steps']} steps",
    )
    return f"{law}\n\n{training}"
