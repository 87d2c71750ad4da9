"""The ``batchnorm`` experiment in quick mode: Yang et al.'s rate with margins, numbers recomputed
from a second graph cut at the layer (an independent backward) and with numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor
from tinygrad_edu.experiments import batchnorm, common
from tinygrad_edu.experiments.data import digits
from tinygrad_edu.losses import cross_entropy


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batchnorm")
    return batchnorm.run(seed=0, quick=True, out=folder), folder


def test_schema_pictures_and_table(quick):
    result, folder = quick
    common.validate(result, batchnorm.RESULT_KEYS)
    assert set(result["results"]["nets"]) == set(batchnorm.NETS)
    for name in ("batchnorm_gradients.svg", "batchnorm_after_step.svg"):
        assert (folder / name).stat().st_size > 1000
    assert "relu_bn" in batchnorm.table(result)


def test_batchnorm_explodes_at_the_predicted_rate_and_layernorm_does_not(quick):
    nets = quick[0]["results"]["nets"]
    assert batchnorm.RELU_BN_GROWTH == pytest.approx(1.2112, abs=1e-4)
    # measured 1.224 (quick: 15 layers of 128, batch 256); 1.206 at full size
    assert nets["relu_bn"]["growth_per_layer"] == pytest.approx(batchnorm.RELU_BN_GROWTH, abs=0.05)
    # BatchNorm divides by σ ≈ √((π−1)/π) = 0.826 (measured 0.829)
    assert nets["relu_bn"]["bn_std"] == pytest.approx(math.sqrt((math.pi - 1) / math.pi), abs=0.03)
    for name in ("relu", "relu_ln"):  # He init alone, or LayerNorm: about 1 per layer
        assert 0.95 < nets[name]["growth_per_layer"] < 1.05
    assert nets["tanh_bn"]["growth_per_layer"] > 1.05  # tanh explodes too (measured 1.11)
    # one SGD step with lr 1 shrinks BatchNorm's explosion (measured 1.22 → 1.14)
    assert (
        nets["relu_bn"]["after_step"]["1.0"]["growth_per_layer"] < nets["relu_bn"]["growth_per_layer"] - 0.05
    )


def _cut_at(model, X, y, layer):
    """Run the net again with h_layer (the Linear's output) made a leaf: ∂L/∂h from a second graph."""
    modules = list(model.layers)
    start = modules.index(model.linears[layer])
    h = Tensor(X)
    for module in modules[:start]:
        h = module(h)
    x_in = h.data
    leaf = Tensor(modules[start](h).data, requires_grad=True)
    out = leaf
    for module in modules[start + 1 :]:
        out = module(out)
    cross_entropy(out, y).backward()
    return leaf.grad, x_in


@pytest.mark.parametrize("name", ["relu_bn", "relu_ln", "tanh"])
def test_per_layer_norms_against_a_second_graph(quick, name):
    result = quick[0]
    config, record = result["config"], result["results"]["nets"][name]
    X, y = digits(config["batch"])
    activation, kind = batchnorm.NETS[name]
    model = batchnorm.DeepNet(activation, kind, config["depth"], config["width"], 0)
    for layer in (1, config["depth"] - 1):
        grad, x_in = _cut_at(model, X, y, layer)
        assert np.linalg.norm(grad) == pytest.approx(record["grad_norms"][layer], rel=1e-10)
        # ∂L/∂W = x_inᵀ·∂L/∂h (the Linear's local derivative "xᵀ·"), by numpy
        assert np.linalg.norm(x_in.T @ grad) == pytest.approx(record["weight_grad_norms"][layer], rel=1e-10)
    ratios = np.array(record["grad_norms"][1:-1]) / np.array(record["grad_norms"][2:])
    assert record["growth_per_layer"] == pytest.approx(float(np.exp(np.mean(np.log(ratios)))), rel=1e-10)


def test_bn_std_and_one_step_by_hand(quick):
    result = quick[0]
    config, record = result["config"], result["results"]["nets"]["relu_bn"]
    X, y = digits(config["batch"])
    model = batchnorm.DeepNet("relu", "batch", config["depth"], config["width"], 0)
    loss = cross_entropy(model(Tensor(X)), y)
    stds = [linear.last_output.data.std(axis=0).mean() for linear in model.linears[1:]]
    assert record["bn_std"] == pytest.approx(float(np.mean(stds)), rel=1e-12)
    assert record["loss"] == pytest.approx(loss.item(), rel=1e-12)
    loss.backward()
    for p in model.parameters():  # one SGD step written out: W ← W − lr·∂L/∂W
        p.data = p.data - 1.0 * p.grad
    assert record["after_step"]["1.0"]["loss"] == pytest.approx(
        cross_entropy(model(Tensor(X)), y).item(), rel=1e-10
    )
