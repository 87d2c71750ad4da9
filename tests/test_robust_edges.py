"""Edge cases of the nn side: all-zero gradients, models without layers, zero-size weights."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import Tensor, mse_loss, nn
from tinygrad_edu.diagnostics import GradientMonitor, diagnose
from tinygrad_edu.nn import init

X = np.random.default_rng(0).normal(size=(8, 3))
Y = np.array([0, 1] * 4)


def _zero_gradient_loss(model):
    """A loss of 1 that does not depend on the parameters: every weight gradient is exactly 0."""
    out = model(Tensor(X))
    loss = (out * 0.0).sum() + 1.0
    model.zero_grad()
    loss.backward()
    return loss


@pytest.mark.parametrize("sizes", [[3, 2], [3, 4, 4, 2]], ids=["one layer", "three layers"])
def test_all_zero_gradients_are_not_called_healthy(sizes):
    model = nn.MLP(sizes, activation="tanh", rng=0)
    loss = _zero_gradient_loss(model)
    assert all(np.all(p.grad == 0) for p in model.parameters())  # the premise, checked directly
    report = diagnose(model, loss=loss)
    assert report.verdict == "vanishing"
    zero = [f for f in report.findings if f.quantity == "zero gradients"]
    assert len(zero) == 1 and zero[0].decisive and "exactly 0" in zero[0].message
    assert "loss depends on the parameters" in report.suggestions[0]
    assert "Evidence: no threshold crossed" not in str(report)


def test_the_monitor_reports_zero_gradients_the_same_way():
    model = nn.MLP([3, 4, 2], activation="tanh", rng=0)
    monitor = GradientMonitor(model)
    monitor.record(_zero_gradient_loss(model))
    assert monitor.report().verdict == "vanishing"


def test_a_loss_of_exactly_zero_is_a_note_not_vanishing():
    model = nn.MLP([3, 2], activation="tanh", init="zeros", rng=0)  # outputs 0 = the targets
    loss = mse_loss(model(Tensor(X)), np.zeros((8, 2)))
    loss.backward()
    assert loss.item() == 0.0
    report = diagnose(model, loss=loss)
    assert report.verdict == "healthy"
    assert [f.quantity for f in report.findings] == ["zero gradients"]
    assert not report.findings[0].decisive and "nothing left to fit" in report.findings[0].message


def test_healthy_nets_are_unaffected():
    model = nn.MLP([3, 8, 2], activation="relu", init="he", rng=0)
    report = diagnose(model, X, Y)
    assert not any(f.quantity == "zero gradients" for f in report.findings)


class NoLayers(nn.Module):
    def forward(self, x):
        return x.tanh()


@pytest.mark.parametrize(
    "model", [NoLayers(), nn.Sequential(nn.ReLU(), nn.Tanh())], ids=["custom", "Sequential"]
)
def test_a_model_without_layers_is_the_documented_value_error_before_backward(model):
    x = Tensor(X)
    with pytest.raises(ValueError, match="has no layer with a 'weight' parameter"):
        diagnose(model, x, np.zeros_like(X))
    assert x.grad is None  # no backward ran


ZERO_SHAPES = [(0, 3), (3, 0), (0, 0), (0, 3, 2)]
FAN_SCHEMES = [
    "standard",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "orthogonal",
]
PLAIN_SCHEMES = ["normal", "uniform", "zeros", "ones"]


@pytest.mark.parametrize("shape", ZERO_SHAPES, ids=str)
@pytest.mark.parametrize("scheme", FAN_SCHEMES)
def test_fan_based_inits_on_a_zero_size_weight_warn_and_return_it(scheme, shape):
    weight = nn.Parameter(np.empty(shape))
    with pytest.warns(UserWarning, match="zero-element array .* is a no-op"):
        returned = init.get(scheme)(weight, rng=0)
    assert returned is weight and weight.data.shape == shape


@pytest.mark.parametrize("shape", ZERO_SHAPES, ids=str)
@pytest.mark.parametrize("scheme", PLAIN_SCHEMES)
def test_inits_without_a_fan_fill_a_zero_size_weight_silently(scheme, shape, recwarn):
    weight = np.empty(shape)
    assert init.get(scheme)(weight, rng=0) is weight
    assert len(recwarn) == 0


def test_zero_size_weights_still_check_their_settings():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.he_normal(np.empty((0, 3)), mode="fan_middle")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_normal(np.empty((0,)))
