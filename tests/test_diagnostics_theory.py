"""The diagnosis of a plain MLP says what mean-field theory predicts, and the chart can draw it.

Independent computations: the init formulas (He: σ_w² = 2, Xavier: 2·n_in/(n_in + n_out)),
ReLU's closed form √(σ_w²/2) per layer, tanh without bias (q* = 0, so χ₁ = σ_w² exactly), and
the measured ‖∂L/∂out‖ of every layer from the nodes' ``.grad``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from viz_helpers import HAS_MATPLOTLIB, needs

import viz
from tinygrad_edu import Tensor, nn, trace
from tinygrad_edu.diagnostics import diagnose
from tinygrad_edu.diagnostics import predict as prediction

needs_matplotlib = needs(HAS_MATPLOTLIB, "matplotlib is not installed")
WIDTH = 256


def batch(rows: int = 32, width: int = WIDTH, seed: int = 1):
    generator = np.random.default_rng(seed)
    return generator.normal(size=(rows, width)), generator.integers(0, 10, rows)


def readout(out, targets):
    """A random linear readout Σ R ⊙ out: a loss with no preferred direction (targets unused)."""
    return (out * Tensor(np.random.default_rng(7).normal(size=out.shape))).sum()


def test_sigma_w2_is_read_from_the_weights():
    he = prediction.predict(nn.MLP([WIDTH] * 6 + [10], activation="relu", init="he_normal", rng=0))
    assert he.activation == "relu" and len(he.layers) == 6
    assert np.allclose(he.sigma_w2[:-1], 2.0, rtol=0.03)  # He: W ~ N(0, 2/fan_in)
    assert he.sigma_w2[-1] == pytest.approx(2.0, rel=0.1) and he.sigma_b2 == (0.0,) * 6
    xavier = prediction.predict(nn.MLP([WIDTH] * 4 + [10], activation="tanh", init="xavier_normal", rng=0))
    assert np.allclose(xavier.sigma_w2[:-1], 1.0, rtol=0.03)  # 2/(n_in + n_out) · n_in = 1
    # the 256×10 readout: 2560 samples, a 2.8% standard error
    assert xavier.sigma_w2[-1] == pytest.approx(2 * WIDTH / (WIDTH + 10), rel=0.1)
    assert xavier.q0_measured is False and xavier.q[0] == pytest.approx(xavier.sigma_w2[0])  # E[x²] = 1


def test_relu_gains_are_the_closed_form_of_each_layer():
    model = nn.MLP([64, 64, 64, 64, 10], activation="relu", init="he_normal", bias_init="normal", rng=3)
    p = prediction.predict(model)
    w2 = [64 * np.mean(linear.weight.data**2) for linear in model.layers if isinstance(linear, nn.Linear)]
    np.testing.assert_allclose(p.gains, np.sqrt(np.array(w2[1:]) / 2), rtol=1e-12)  # χ_l = σ_{w,l+1}²/2


def test_tanh_without_bias_has_chi1_equal_to_sigma_w2_and_says_so():
    init = nn.init.normal(std=math.sqrt(0.5 / WIDTH))
    model = nn.MLP([WIDTH] * 8 + [10], activation="tanh", init=init, bias=False, rng=0)
    x, y = batch()
    d = diagnose(model, x, y)
    theory = d.theory
    hidden = theory["sigma_w2"][1:]
    assert theory["q_star"] == 0.0 and theory["chi1"] == pytest.approx(float(np.median(hidden)), rel=1e-9)
    gain = math.sqrt(theory["chi1"])
    text = str(d)
    assert f"χ₁ = {theory['chi1']:.3g} (ordered: vanishing)" in text
    assert f"each layer multiplies the gradient by ≈ {gain:.3g}" in text
    assert f"expect ×{gain**30:.2g} after 30 layers" in text
    assert f"(measured {d.ratios['output_grad']:.3g})" in text
    payload = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert payload["evidence"]["theory"]["chi1"] == pytest.approx(theory["chi1"])


def test_prediction_lands_on_the_measured_gradients_of_a_wide_tanh_net():
    init = nn.init.normal(std=math.sqrt(1.5 / WIDTH))
    model = nn.MLP([WIDTH] * 13, activation="tanh", init=init, bias_init=nn.init.normal(std=0.2), rng=0)
    x, _ = batch()
    d = diagnose(model, x, np.zeros((32, WIDTH)), loss_fn=readout)
    theory = d.theory
    assert theory["q0_measured"] is True
    measured = {name: stats["output_grad_norm"] for name, stats in d.layers.items()}
    first = next(iter(measured))
    assert theory["first_over_last"] == pytest.approx(d.ratios["output_grad"], rel=0.08)
    for name, predicted in theory["output_grad_norms"].items():
        assert predicted == pytest.approx(measured[name], rel=0.08), name
    assert theory["output_grad_norms"][first] == pytest.approx(
        measured[list(measured)[-1]] * theory["first_over_last"], rel=1e-12
    )


@pytest.mark.parametrize(
    "model, reason",
    [
        (nn.MLP([8, 8, 8, 2], activation="tanh", residual=True, rng=0), "skip connections"),
        (nn.MLP([8, 8, 8, 2], activation="tanh", dropout=0.5, rng=0), "Dropout is active"),
        (
            nn.Sequential(
                nn.Linear(8, 8, rng=0), nn.Tanh(), nn.Linear(8, 8, rng=1), nn.ReLU(), nn.Linear(8, 2, rng=2)
            ),
            "different activations",
        ),
        (nn.MLP([8, 8, 2], activation=lambda x: x.tanh(), rng=0), "user function"),
        (nn.Sequential(nn.Linear(8, 2, rng=0)), "fewer than two layers"),
    ],
)
def test_other_models_get_no_prediction(model, reason):
    assert reason in prediction.why_not(model)
    assert prediction.predict(model) is None
    x = np.ones((4, 8))
    d = diagnose(model, x, np.zeros((4, 2)))
    assert d.theory is None and "Theory:" not in str(d)


def test_a_net_with_a_recurrent_module_gets_no_prediction():
    model = nn.Sequential(nn.Linear(8, 8, rng=0), nn.Tanh(), nn.Linear(8, 8, rng=1), nn.Tanh(), nn.RNN(8, 2))
    assert "recurrent modules" in prediction.why_not(model) and prediction.predict(model) is None


@needs_matplotlib
def test_the_flow_chart_draws_the_predicted_line(tmp_path):
    model = nn.MLP([64] * 8 + [10], activation="tanh", init="xavier_normal", rng=0)
    d = diagnose(model, *batch(width=64))
    measured = {name: stats["output_grad_norm"] for name, stats in d.layers.items()}
    path = viz.gradient_flow_chart(
        {"tanh": measured}, tmp_path / "flow.svg", predicted={"tanh": d.theory["output_grad_norms"]}
    )
    assert "tanh (predicted)" in path.read_text()
    single = viz.gradient_flow_chart(measured, tmp_path / "one.svg", predicted=d.theory["output_grad_norms"])
    assert "predicted (mean field)" in single.read_text()


def test_the_flow_chart_checks_the_prediction(tmp_path):
    measured = {"a": 1.0, "b": 2.0}
    for predicted, error, match in (
        ({"c": 1.0}, ValueError, "predicted layer 'c' is not on the chart"),
        ({"a": -1.0}, ValueError, r"predicted norm of 'a' must be a number >= 0, got -1\.0"),
        ([1.0], TypeError, "predicted must be a non-empty mapping"),
        ({}, TypeError, "predicted must be a non-empty mapping"),
    ):
        with pytest.raises(error, match=match):
            viz.gradient_flow_chart(measured, tmp_path / "x.svg", predicted=predicted)
    assert not (tmp_path / "x.svg").exists()


# --- the layer view ------------------------------------------------------------------------------


def wide_tanh_net_loss(width=WIDTH, depth=8):
    init = nn.init.normal(std=math.sqrt(1.5 / width))
    model = nn.MLP([width] * depth, activation="tanh", init=init, bias_init=nn.init.normal(std=0.2), rng=0)
    x, _ = batch(width=width)
    loss = readout(model(Tensor(x)), None)
    loss.backward()
    return model, loss


def test_layer_gains_land_on_the_layer_view_of_graph_layers():
    model, loss = wide_tanh_net_loss()
    predicted = prediction.layer_gains(model)
    p = prediction.predict(model)
    measured = {layer.scope: layer.gain for layer in trace(loss).layers() if layer.scope in predicted}
    assert len(measured) == len(predicted) == 12  # 7 Linear layers: the 6 after the first, 6 activations
    for scope, gain in predicted.items():  # the nodes' .grad, layer by layer, against the theory
        assert measured[scope] == pytest.approx(gain, rel=0.05), scope
    # an activation's gain times the next Linear's is the theory's √χ_l between Linear outputs
    names = list(predicted)
    for l, expected in enumerate(p.gains):
        assert predicted[names[2 * l]] * predicted[names[2 * l + 1]] == pytest.approx(expected, rel=1e-12)


def test_the_grouped_drawing_shows_the_predicted_gain_beside_the_measured_one():
    model, loss = wide_tanh_net_loss(width=32, depth=4)
    predicted = prediction.layer_gains(model)
    source = viz.draw(loss, group="layers", predicted=predicted).source
    assert source.count("predicted ×") == len(predicted)
    assert "predicted = the gain given in draw(predicted=...)" in source
    first = next(iter(predicted))
    assert f"predicted ×{viz.style.fmt(predicted[first])}" in source
    assert "predicted" not in viz.draw(loss, group="layers").source
    for bad, error, match in (
        ([1.0], TypeError, "predicted must be a mapping"),
        ({1: 1.0}, TypeError, "predicted keys are layer names or scopes"),
        ({"x": -1.0}, ValueError, "predicted gain of 'x' must be a finite number >= 0"),
        ({"x": math.nan}, ValueError, "predicted gain of 'x'"),
    ):
        with pytest.raises(error, match=match):
            viz.draw(loss, group="layers", predicted=bad)
