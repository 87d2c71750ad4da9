"""What the recurrent experiments share: the adding problem, a read-out model and its training loop.

**The adding problem** (Hochreiter & Schmidhuber 1997, experiment 4): every sequence has T steps
of two channels — a value drawn from U(−1, 1) and a marker that is 1 at exactly two steps (one in
the first half, one in the second) and 0 elsewhere; the target is the sum of the two marked
values. Nothing but the marked values matters, so a model must carry the first one across at
least T/2 steps. A constant prediction scores the variance of the target, 2 · (1/3) = 2/3
(:func:`baseline_mse` measures it on the test set); a model that learns nothing long-range stays
there, one that solves the task goes far below it.

**The model**: a recurrent module (``nn.RNN``/``LSTM``/``GRU``) and a Linear read-out of its last
hidden state, ``ŷ = h_T Wᵀ + b``. Its loss is the mean squared error at the last step only, so
every gradient that reaches an earlier step came back through time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import Tensor, mse_loss, nn, no_grad
from ..diagnostics import gradient_over_time, through_time_ratio
from ..optim import Adam, clip_grad_norm_


def adding_problem(n: int, T: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of length ``T``: inputs ``(T, n, 2)`` (value, marker) and targets ``(n, 1)``."""
    values = generator.uniform(-1.0, 1.0, size=(T, n))
    markers = np.zeros((T, n))
    half = T // 2
    samples = np.arange(n)
    markers[generator.integers(0, half, size=n), samples] = 1.0
    markers[generator.integers(half, T, size=n), samples] = 1.0
    targets = np.sum(values * markers, axis=0)[:, None]
    return np.stack([values, markers], axis=2), targets


def baseline_mse(targets: np.ndarray) -> float:
    """The best constant predictor's MSE on ``targets`` (predicting their mean): their variance."""
    return float(np.mean((targets - np.mean(targets)) ** 2))


class SequenceRegressor(nn.Module):
    """A recurrent module and a Linear read-out of its last hidden state: ``ŷ = Linear(h_T)``.

    Args:
        kind: "RNN", "LSTM" or "GRU".
        input_size, hidden_size: sizes of the recurrent module.
        rng: seed or Generator (the recurrent module and the read-out draw from it in turn).
        name: the root scope (default the kind in lower case), so step nodes are ``lstm.rnn.t=k``.
        **options: passed to the recurrent module (``nonlinearity``, ``weight_hh_init``,
            ``bias_init``, ``forget_bias``).
    """

    def __init__(
        self, kind: str, input_size: int, hidden_size: int, *, rng: Any = None, name=None, **options
    ):
        if kind not in nn.recurrent.GATES:
            raise ValueError(
                f"SequenceRegressor: kind must be one of {list(nn.recurrent.GATES)}, got {kind!r}"
            )
        generator = nn.init.as_generator(rng)
        super().__init__(name or kind.lower())
        self.rnn = getattr(nn, kind)(input_size, hidden_size, rng=generator, **options)
        self.head = nn.Linear(hidden_size, 1, rng=generator)

    def forward(self, x: Any) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[-1])


def gradient_profile(model: SequenceRegressor, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """One forward/backward of the MSE on ``(x, y)``: ‖∂L/∂h_t‖ for t = 1 … T and the ratio
    ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖. The gradients are cleared afterwards (the weights are not touched)."""
    model.zero_grad()
    loss = mse_loss(model(Tensor(x)), Tensor(y))
    loss.backward()
    norms = gradient_over_time(model.rnn)
    model.zero_grad()
    return {"norms": [float(v) for v in norms], "ratio": through_time_ratio(norms)}


def held_out_mse(model: SequenceRegressor, x: np.ndarray, y: np.ndarray) -> float:
    """MSE on a held-out set, without recording a graph."""
    with no_grad():
        return float(np.mean((model(Tensor(x)).data - y) ** 2))


def train(
    model: SequenceRegressor,
    *,
    T: int,
    batch: int,
    steps: int,
    lr: float,
    max_norm: float,
    seed: int,
    test: tuple[np.ndarray, np.ndarray],
    every: int,
) -> dict[str, Any]:
    """Adam on fresh adding-problem batches with ``clip_grad_norm_(max_norm)``; the test MSE
    every ``every`` steps and at the end. The batches come from ``seed`` alone, so every model
    sees the same sequences in the same order."""
    generator = np.random.default_rng(seed)
    optimizer = Adam(model.parameters(), lr=lr)
    curve: dict[int, float] = {}
    losses: list[float] = []
    for step in range(steps):
        x, y = adding_problem(batch, T, generator)
        optimizer.zero_grad()
        loss = mse_loss(model(Tensor(x)), Tensor(y))
        loss.backward()
        clip_grad_norm_(model.parameters(), max_norm=max_norm)
        optimizer.step()
        losses.append(loss.item())
        if step % every == 0:
            curve[step] = held_out_mse(model, *test)
    curve[steps] = held_out_mse(model, *test)
    finite = [v for v in losses if math.isfinite(v)]
    return {"test_curve": curve, "final_train_loss": finite[-1] if finite else None, "test_mse": curve[steps]}
