"""Gradient through time: ‖∂L/∂h_t‖ per step, the ratio ‖∂L/∂h_1‖/‖∂L/∂h_T‖, diagnostics and the chart.

The independent computation: a numpy re-implementation of the tanh RNN from step t on, and
central finite differences of the loss with respect to h_t (perturbing h_t, re-running steps
t+1 … T). No engine code is involved in it.
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn, trace
from tinygrad_edu.diagnostics import GradientMonitor, diagnose, gradient_over_time, through_time_ratio

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
ON_CI = bool(os.environ.get("CI"))


def numpy_rnn_grad_norms(params: dict, x: np.ndarray) -> np.ndarray:
    """‖∂L/∂h_t‖, t = 1 … T, for L = ½‖h_T‖² by central differences on a numpy tanh RNN."""
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    b = params.get("bias_ih_l0", 0.0) + params.get("bias_hh_l0", 0.0)
    T, B, _ = x.shape
    H = W_hh.shape[0]
    hs = [np.zeros((B, H))]
    for t in range(T):
        hs.append(np.tanh(x[t] @ W_ih.T + hs[-1] @ W_hh.T + b))

    def loss_from(t: int, h: np.ndarray) -> float:  # run steps t+1 … T from h_t = h
        for k in range(t, T):
            h = np.tanh(x[k] @ W_ih.T + h @ W_hh.T + b)
        return 0.5 * float(np.sum(h * h))

    norms = []
    eps = 1e-6
    for t in range(1, T + 1):
        grad = np.zeros((B, H))
        for index in np.ndindex(B, H):
            up, down = hs[t].copy(), hs[t].copy()
            up[index] += eps
            down[index] -= eps
            grad[index] = (loss_from(t, up) - loss_from(t, down)) / (2 * eps)
        norms.append(np.sqrt(np.sum(grad**2)))
    return np.array(norms)


def numpy_bptt_norms(params: dict, x: np.ndarray) -> np.ndarray:
    """The same norms by the backward recursion derived by hand, for gradients too small for
    finite differences: from h_{t+1} = tanh(x W_ihᵀ + h_t W_hhᵀ + b),
    ∂L/∂h_t = (∂L/∂h_{t+1} ⊙ (1 − h_{t+1}²)) · W_hh, starting at ∂L/∂h_T = h_T."""
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    b = params.get("bias_ih_l0", 0.0) + params.get("bias_hh_l0", 0.0)
    hs = [np.zeros((x.shape[1], W_hh.shape[0]))]
    for x_t in x:
        hs.append(np.tanh(x_t @ W_ih.T + hs[-1] @ W_hh.T + b))
    grads = [hs[-1]]
    for t in range(len(x) - 1, 0, -1):
        grads.append((grads[-1] * (1 - hs[t + 1] ** 2)) @ W_hh)
    return np.array([np.sqrt(np.sum(g**2)) for g in grads[::-1]])


def run_rnn(gain: float, T: int, seed: int = 0, scale: float = 1.0, bias: bool = True):
    model = nn.RNN(2, 4, bias=bias, weight_hh_init=nn.init.orthogonal(gain=gain), rng=seed, name="rnn")
    x = scale * np.random.default_rng(seed).normal(size=(T, 2, 2))
    _, h_n = model(Tensor(x))
    loss = (h_n * h_n).sum() * 0.5
    loss.backward()
    return model, x, loss


def test_gradient_over_time_matches_finite_differences_of_a_numpy_rnn():
    model, x, loss = run_rnn(gain=0.8, T=8)
    measured = gradient_over_time(model)
    expected = numpy_rnn_grad_norms(model.state_dict(), x)
    np.testing.assert_allclose(measured, expected, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(numpy_bptt_norms(model.state_dict(), x), expected, rtol=1e-6, atol=1e-10)
    assert measured[0] < measured[-1]  # ‖W_hh‖ = 0.8 < 1: it shrinks backwards in time
    # the same numbers found in the traced graph, by the nodes' labels and scopes
    np.testing.assert_allclose(gradient_over_time(trace(loss)), measured, rtol=0, atol=0)
    np.testing.assert_allclose(gradient_over_time(loss, scope="rnn"), measured, rtol=0, atol=0)


def test_graph_with_several_recurrent_layers_needs_a_scope():
    model = nn.GRU(2, 3, num_layers=2, rng=0, name="gru")
    out, _ = model(Tensor(np.ones((4, 1, 2))))
    out.sum().backward()
    with pytest.raises(ValueError, match=r"several recurrent layers \['gru.l0', 'gru.l1'\]; pass scope="):
        gradient_over_time(out)
    lower = gradient_over_time(out, scope="gru.l0")
    np.testing.assert_allclose(
        lower, [np.sqrt(np.sum(h.grad**2)) for h in model.hidden_states[0]], rtol=1e-14
    )
    with pytest.raises(ValueError, match="no recurrent steps in scope 'gru'"):
        gradient_over_time(out, scope="gru")
    with pytest.raises(ValueError, match="has no hidden states yet"):
        gradient_over_time(nn.LSTM(2, 3))
    with pytest.raises(ValueError, match="the graph has no recurrent steps"):
        gradient_over_time((Tensor([1.0], requires_grad=True) * 2).sum())


def test_steps_the_loss_does_not_reach_have_zero_gradient():
    model = nn.RNN(1, 2, rng=0)
    out, _ = model(Tensor(np.ones((5, 1, 1))))
    out[2].sum().backward()  # L depends on h_1 … h_3 only
    norms = gradient_over_time(model)
    assert list(norms[3:]) == [0.0, 0.0] and np.all(norms[:3] > 0)
    assert math.isinf(through_time_ratio(norms))


def test_through_time_ratio():
    assert through_time_ratio([2.0, 1.0, 0.5]) == 4.0
    assert math.isnan(through_time_ratio([0.0, 0.0]))
    with pytest.raises(ValueError, match=r"expected norms for t = 1 … T, got shape \(0,\)"):
        through_time_ratio([])


# --- diagnostics ----------------------------------------------------------------------------------


def test_diagnose_reports_vanishing_through_time_with_the_measured_ratio():
    model, x, loss = run_rnn(gain=0.5, T=20)
    expected = numpy_bptt_norms(model.state_dict(), x)
    diagnosis = diagnose(model, loss=loss)
    summary = diagnosis.evidence["through_time"]["rnn"]
    assert summary["steps"] == 20
    assert summary["ratio"] == pytest.approx(expected[0] / expected[-1], rel=1e-9)
    assert summary["ratio"] < 1e-2  # ≤ 0.5^19 ≈ 2e-6 times the tanh factors
    assert diagnosis.verdict == "vanishing"
    (finding,) = [f for f in diagnosis.findings if f.quantity == "through_time first/last"]
    assert finding.points_to == "vanishing" and "over T = 20 steps < VANISHING_RATIO=0.01" in finding.message
    assert any("nn.LSTM or nn.GRU" in s for s in diagnosis.suggestions)
    assert "Through time (‖∂L/∂h_1‖ / ‖∂L/∂h_T‖" in str(diagnosis)


def test_diagnose_reports_exploding_through_time_and_suggests_clipping():
    # tiny inputs and no bias keep tanh in its linear range, so ‖∂h_T/∂h_t‖ ≈ 1.5^(T−t)
    model, x, loss = run_rnn(gain=1.5, T=16, seed=1, scale=1e-4, bias=False)
    expected = numpy_bptt_norms(model.state_dict(), x)
    assert expected[0] / expected[-1] > 100  # the independent measurement: it does grow backwards
    diagnosis = diagnose(model, loss=loss)
    assert diagnosis.verdict == "exploding"
    assert diagnosis.evidence["through_time"]["rnn"]["ratio"] == pytest.approx(
        expected[0] / expected[-1], rel=1e-9
    )
    assert diagnosis.suggestions[0].startswith("clip gradients")
    assert any("weight_hh_init='orthogonal'" in s for s in diagnosis.suggestions)


def test_models_without_recurrent_modules_keep_their_evidence_keys():
    model = nn.MLP([2, 3, 1], rng=0)
    diagnosis = diagnose(model, np.ones((4, 2)), np.ones((4, 1)))
    assert "through_time" not in diagnosis.evidence


def test_monitor_follows_a_recurrent_model_over_steps():
    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(2, 3, rng=0, forget_bias=1.0)
            self.head = nn.Linear(3, 1, rng=0)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[-1])

    model = Seq()
    monitor = GradientMonitor(model)
    x = Tensor(np.random.default_rng(0).normal(size=(6, 4, 2)))
    for _ in range(3):
        model.zero_grad()
        loss = ((model(x) - 1.0) ** 2).mean()
        loss.backward()
        record = monitor.record(loss)
        np.testing.assert_allclose(
            record.through_time["seq.rnn"], [np.sqrt(np.sum(h.grad**2)) for h in model.rnn.hidden_states[0]]
        )
    summary = monitor.report().evidence["through_time"]["seq.rnn"]
    ratios = [r.through_time["seq.rnn"][0] / r.through_time["seq.rnn"][-1] for r in monitor.history]
    assert summary["ratio"] == pytest.approx(float(np.median(ratios)))
    # the LSTM's parameters count in the total gradient norm
    every = np.concatenate([p.grad.ravel() for p in model.parameters()])
    assert monitor.history[-1].total_grad_norm == pytest.approx(np.sqrt(np.sum(every**2)))
    GradientMonitor(nn.GRU(2, 3))  # a bare recurrent module is watchable too


# --- the chart --------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_MATPLOTLIB and not ON_CI, reason="matplotlib is not installed")
def test_chart_draws_one_line_per_model(tmp_path):
    import viz
    from viz.through_time import time_series

    model, _, _ = run_rnn(gain=0.8, T=6)
    series = time_series({"rnn": model, "given": [1.0, 0.5, 0.0]})
    assert series["rnn"] == list(gradient_over_time(model))
    path = viz.gradient_over_time_chart({"rnn": model, "given": [1.0, 0.5, 0.0]}, tmp_path / "t.svg")
    text = path.read_text()
    assert "rnn" in text and "given" in text and "not on the scale: given: 0 at 1 step(s)" in text
    with pytest.raises(ValueError, match="series 'bad': norms cannot be negative"):
        viz.gradient_over_time_chart({"bad": [1.0, -1.0]}, tmp_path / "b.svg")
    with pytest.raises(viz.UnsupportedFormat, match="write .svg, .png or .pdf"):
        viz.gradient_over_time_chart(model, tmp_path / "t.dot")
