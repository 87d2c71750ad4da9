"""Pascanu, Mikolov & Bengio (2013) through time: how fast a tanh RNN forgets, against its bound.

**Part 1 — ‖∂h_T/∂h_0‖ against T.** A tanh RNN ``h_t = tanh(x_t W_ihᵀ + h_{t−1} W_hhᵀ)`` with
``W_hh = ρ·Q`` (Q orthogonal, so every singular value of W_hh is ρ) for ρ below, at and above 1.
By the chain rule ``∂h_T/∂h_0 = Π_t diag(1 − h_t²)·W_hh``, and since ‖diag(1 − h²)‖ ≤ γ = 1
(tanh' ≤ 1; γ = 1/4 for sigmoid) and ‖W_hh‖ = λ₁ = ρ,

    ‖∂h_T/∂h_0‖ ≤ (γ·λ₁)^T = ρ^T.

We *measure* the Jacobian with one backward pass of our engine (a batch of H copies of the same
input sequence, seeded with the identity, so ``h_0.grad`` is the whole matrix) and fit its
rate: ``exp(slope of log‖∂h_T/∂h_0‖ against T)``. The measured rate sits below the bound's
γλ₁ = ρ by the average tanh' of the trajectory: for ρ > 1 the bound grows, but the state
saturates and the measured norm need not — the bound is only a necessary condition for
exploding, as the paper says.

**Part 2 — ‖∂L/∂h_t‖ at initialisation** for an RNN, an LSTM and a GRU (PyTorch's default init,
same hidden size, same seed), and an LSTM whose forget gate starts at σ(3) ≈ 0.95, on the same
adding-problem inputs (see :mod:`.sequences`), with the loss at the last step: how much gradient
each model sends back to step t before any training.

JSON (``tinygrad-edu experiment rnn --json``)::

    {"experiment": "rnn", "seed": 0, "config": {"hidden": 16, "rhos": [0.9, 1.0, 1.1], ...},
     "results": {
       "jacobian": [{"rho": 0.9, "T": 10, "measured": 0.12, "bound": 0.349,
                     "measured_over_bound": 0.34}, ...],
       "fitted_rate": {"0.9": 0.81, ...},  "bound_rate": {"0.9": 0.9, ...},
       "over_time": {"rnn": [‖∂L/∂h_1‖, …, ‖∂L/∂h_T‖], "lstm": [...], "gru": [...]},
       "ratio_at_init": {"rnn": 1e-9, "lstm": ..., "gru": ...}}}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, nn
from .common import Progress, format_table, make_result, number, rng, run_experiment, say
from .sequences import SequenceRegressor, adding_problem, gradient_profile

NAME = "rnn"
TITLE = "Pascanu et al. 2013 through time: ‖∂h_T/∂h_0‖ of a tanh RNN against (γλ₁)^T; RNN/LSTM/GRU"
RESULT_KEYS = ("jacobian", "fitted_rate", "bound_rate", "over_time", "ratio_at_init")

RHOS = (0.9, 1.0, 1.1)
#: γ = max |nonlinearity'|: 1 for tanh (and relu), 1/4 for sigmoid.
GAMMA = {"tanh": 1.0, "sigmoid": 0.25}
#: Part 2's models: name → (kind, options), and how the table and chart call them.
MODELS = {
    "rnn": ("RNN", {}),
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
    "lstm_forget3": ("LSTM", {"forget_bias": 3.0}),
}
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "lstm_forget3": "LSTM, forget_bias=3"}


def setup(seed: int, hidden: int, inputs: int, T: int, input_std: float) -> tuple[np.ndarray, ...]:
    """``(Q, W_ih, x)``: an orthogonal H×H matrix, input weights U(±1/√H) and one input sequence
    ``(T, inputs)`` ~ N(0, input_std²), all from ``seed``."""
    generator = rng(seed)
    Q = nn.init.orthogonal(np.zeros((hidden, hidden)), rng=generator)
    bound = 1.0 / math.sqrt(hidden)
    W_ih = generator.uniform(-bound, bound, size=(hidden, inputs))
    x = generator.normal(0.0, input_std, size=(T, inputs))
    return Q, W_ih, x


def jacobian(W_hh: np.ndarray, W_ih: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``∂h_T/∂h_0`` (H×H) of the tanh RNN on ``x`` from h_0 = 0, measured by one backward pass.

    The batch holds H copies of the sequence, so every sample follows the same trajectory; the
    seed ``I`` asks sample k for ∂h_T[k]/∂h_0, so row k of ``h_0.grad`` is row k of the Jacobian.
    """
    H = W_hh.shape[0]
    model = nn.RNN(W_ih.shape[1], H, bias=False)
    model.load_state_dict({"weight_ih_l0": W_ih, "weight_hh_l0": W_hh})
    h0 = Tensor(np.zeros((1, H, H)), requires_grad=True, label="h_0")
    batch = np.repeat(x[:, None, :], H, axis=1)  # (T, H copies, inputs)
    _, h_n = model(Tensor(batch), h0)
    h_n.backward(np.eye(H)[None])
    assert h0.grad is not None, "backward() reached h_0"
    return h0.grad[0]


def settings(quick: bool) -> dict[str, Any]:
    return {
        "hidden": 16,
        "inputs": 2,
        "input_std": 1.0,
        "rhos": list(RHOS),
        "lengths": [1, 5, 10, 20, 40] if quick else [1, 5, 10, 20, 40, 80, 160],
        "nonlinearity": "tanh",
        "over_time": {"T": 30 if quick else 100, "batch": 64},
        "quick": quick,
    }


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    config = settings(quick)
    lengths = config["lengths"]
    Q, W_ih, x = setup(seed, config["hidden"], config["inputs"], max(lengths), config["input_std"])
    rows, fitted, bound_rate = [], {}, {}
    gamma = GAMMA[config["nonlinearity"]]
    for rho in config["rhos"]:
        logs = []
        lam = float(np.linalg.norm(rho * Q, 2))  # λ₁, the largest singular value of W_hh (= ρ)
        for T in lengths:
            measured = float(np.linalg.norm(jacobian(rho * Q, W_ih, x[:T]), 2))
            bound = (gamma * lam) ** T
            rows.append(
                {
                    "rho": rho,
                    "T": T,
                    "measured": measured,
                    "bound": bound,
                    "measured_over_bound": measured / bound,
                }
            )
            logs.append(math.log(measured) if measured > 0 else -math.inf)
        finite = [(T, v) for T, v in zip(lengths, logs) if math.isfinite(v)]
        slope = (
            np.polyfit([T for T, _ in finite], [v for _, v in finite], 1)[0] if len(finite) > 1 else math.nan
        )
        fitted[str(rho)] = float(math.exp(slope))
        bound_rate[str(rho)] = gamma * lam
        say(progress, f"ρ = {rho}: fitted rate {fitted[str(rho)]:.3g} against γλ₁ = {gamma * lam:.3g}")
    spec = config["over_time"]
    inputs, targets = adding_problem(spec["batch"], spec["T"], rng(seed + 1))
    over_time, ratios = {}, {}
    for name, (kind, options) in MODELS.items():
        model = SequenceRegressor(kind, 2, config["hidden"], rng=seed, name=name, **options)
        profile = gradient_profile(model, inputs, targets)
        over_time[name], ratios[name] = profile["norms"], profile["ratio"]
        say(progress, f"{NAMES[name]} at init: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ = {number(ratios[name])}")
    results = {
        "jacobian": rows,
        "fitted_rate": fitted,
        "bound_rate": bound_rate,
        "over_time": over_time,
        "ratio_at_init": ratios,
    }
    return make_result(NAME, seed, config, results)


def unrolled_lstm(seed: int = 0, T: int = 5) -> Any:
    """A T-step LSTM (1 input, 2 hidden units, forget_bias 1) after backward of L = ‖h_T‖²: the
    graph the README draws, with the cell-path edges ``c_{t−1} → f⊙c_t`` (local f_t)."""
    model = nn.LSTM(1, 2, rng=seed, forget_bias=1.0, name="lstm")
    x = Tensor(rng(seed).normal(size=(T, 1, 1)), label="x")
    _, (h_n, _) = model(x)
    loss = (h_n * h_n).sum()
    loss.label = "L"
    loss.backward()
    return loss


def pictures(result: dict, folder: Path) -> list[Path]:
    """``rnn_jacobian.svg``, ``rnn_gradient_over_time.svg``, and the unrolled T = 5 LSTM
    (``rnn_lstm_unrolled.svg`` ungrouped, ``rnn_lstm_steps.svg`` one box per time step)."""
    import viz

    from .pictures import bound_chart

    res = result["results"]
    measured, bounds = {}, {}
    for rho in result["config"]["rhos"]:
        rows = [r for r in res["jacobian"] if r["rho"] == rho]
        measured[f"ρ = {rho}"] = {r["T"]: r["measured"] for r in rows}
        bounds[f"ρ = {rho}"] = {r["T"]: r["bound"] for r in rows}
    loss = unrolled_lstm(result["seed"])
    T = result["config"]["over_time"]["T"]
    return [
        bound_chart(
            measured,
            bounds,
            folder / "rnn_jacobian.svg",
            title="tanh RNN, W_hh = ρ·Q: ‖∂h_T/∂h_0‖ against the bound (γλ₁)^T = ρ^T",
            xlabel="T",
            ylabel="largest singular value of ∂h_T/∂h_0",
        ),
        viz.gradient_over_time_chart(
            {NAMES[m]: v for m, v in res["over_time"].items()},
            folder / "rnn_gradient_over_time.svg",
            title=f"‖∂L/∂h_t‖ at initialisation, same inputs (T = {T})",
        ),
        viz.render(
            loss,
            folder / "rnn_lstm_unrolled.svg",
            group=None,
            title="LSTM unrolled over 5 steps: the edge c_{t−1} → f⊙c_t has local f_t",
        ),
        viz.render(loss, folder / "rnn_lstm_steps.svg", group="scope", title="LSTM, one box per time step"),
    ]


def table(result: dict) -> str:
    res, config = result["results"], result["config"]
    lengths = config["lengths"]
    rows = []
    for rho in config["rhos"]:
        by_T = {r["T"]: r for r in res["jacobian"] if r["rho"] == rho}
        rows.append(
            [f"ρ = {rho} measured"] + [by_T[T]["measured"] for T in lengths] + [res["fitted_rate"][str(rho)]]
        )
        rows.append(
            [f"ρ = {rho} bound ρ^T"] + [by_T[T]["bound"] for T in lengths] + [res["bound_rate"][str(rho)]]
        )
    law = format_table(
        ["‖∂h_T/∂h_0‖"] + [f"T={T}" for T in lengths] + ["rate"],
        rows,
        title=f"tanh RNN, H = {config['hidden']}, W_hh = ρ·Q, inputs N(0, {config['input_std']}²): "
        "measured by backward vs the bound (γλ₁)^T, γ = 1 (tanh; 1/4 for sigmoid)",
    )
    spec = config["over_time"]
    T = spec["T"]
    picks = sorted({1, max(1, T // 4), T // 2, T - 1, T})
    over = format_table(
        ["model"] + [f"t={t}" for t in picks] + ["‖∂L/∂h_1‖/‖∂L/∂h_T‖"],
        [
            [NAMES[m]] + [res["over_time"][m][t - 1] for t in picks] + [res["ratio_at_init"][m]]
            for m in MODELS
        ],
        title=f"‖∂L/∂h_t‖ at initialisation, adding-problem inputs, T = {T}, batch {spec['batch']}, "
        f"hidden {config['hidden']}",
    )
    return f"{law}\n\n{over}"
