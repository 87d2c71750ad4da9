"""BatchNorm1d and LayerNorm: gradients against finite differences, statistics by hand with numpy,
buffers in the state dict, errors before any state changes, and PyTorch's numbers when torch is there."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn, trace
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.testing import gradcheck

HAS_TORCH = importlib.util.find_spec("torch") is not None
ON_CI = bool(os.environ.get("CI"))
# Off CI a missing torch skips; on CI (which is to install the torch extra) it fails loudly.
needs_torch = pytest.mark.skipif(not HAS_TORCH and not ON_CI, reason="torch is not installed (extra 'torch')")


def _random(shape, seed=0):
    return np.random.default_rng(seed).normal(1.5, 2.0, shape)


def _affine(module, seed=1):
    rng = np.random.default_rng(seed)
    module.weight.data = rng.normal(1.0, 0.5, module.weight.shape)
    module.bias.data = rng.normal(0.0, 0.5, module.bias.shape)
    return module


# --- gradients against finite differences ----------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm_training_gradcheck(shape):
    bn = _affine(nn.BatchNorm1d(3))
    x = Tensor(_random(shape), requires_grad=True)

    def fn(x, w, b):
        bn.weight, bn.bias = w, b  # gradcheck perturbs copies: route them through the module
        return bn(x)

    w = nn.Parameter(bn.weight.data)
    b = nn.Parameter(bn.bias.data)
    gradcheck(fn, x, w, b, mode="full")


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm_eval_gradcheck_uses_running_statistics(shape):
    bn = _affine(nn.BatchNorm1d(3))
    bn.running_mean = np.array([0.5, -1.0, 2.0])
    bn.running_var = np.array([0.25, 4.0, 1.5])
    bn.eval()
    x = Tensor(_random(shape), requires_grad=True)
    gradcheck(lambda x: bn(x), x, mode="full")
    # In eval the map is elementwise affine: ∂y/∂x = γ/√(running_var + ε), by hand.
    bn(x).backward(np.ones(shape))
    column = (1, 3) if len(shape) == 2 else (1, 3, 1)
    expected = np.broadcast_to(
        (bn.weight.data / np.sqrt(bn.running_var.data + bn.eps)).reshape(column), shape
    )
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_layernorm_gradcheck():
    ln = _affine(nn.LayerNorm((3, 4)))
    x = Tensor(_random((2, 3, 4)), requires_grad=True)

    def fn(x, w, b):
        ln.weight, ln.bias = w, b
        return ln(x)

    gradcheck(fn, x, nn.Parameter(ln.weight.data), nn.Parameter(ln.bias.data), mode="full")


# --- statistics by hand --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 3), (5, 3, 4)])
def test_batchnorm_running_statistics_by_hand(shape):
    bn = nn.BatchNorm1d(3, momentum=0.3)
    axes = (0,) if len(shape) == 2 else (0, 2)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = _random(shape, seed=step)
        y = bn(Tensor(x)).data
        n = x.size // 3
        batch_mean = x.sum(axis=axes) / n
        deviations = x - np.expand_dims(batch_mean, axes)
        biased = (deviations**2).sum(axis=axes) / n
        unbiased = (deviations**2).sum(axis=axes) / (n - 1)
        mean = 0.7 * mean + 0.3 * batch_mean
        var = 0.7 * var + 0.3 * unbiased
        # training output: the batch's own biased statistics
        np.testing.assert_allclose(y, deviations / np.sqrt(np.expand_dims(biased, axes) + 1e-5), atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, var, rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 3 and bn.num_batches_tracked.data.dtype == np.int64
    # eval: the running estimates, not the batch
    bn.eval()
    x = _random(shape, seed=9)
    expected = (x - np.expand_dims(mean, axes)) / np.sqrt(np.expand_dims(var, axes) + 1e-5)
    np.testing.assert_allclose(bn(Tensor(x)).data, expected, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-12)  # eval changes nothing


def test_batchnorm_momentum_none_is_the_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [_random((4, 2), seed=s) for s in range(4)]
    for x in batches:
        bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in batches], axis=0))
    np.testing.assert_allclose(bn.running_var.data, np.mean([x.var(0, ddof=1) for x in batches], axis=0))


def test_batchnorm_without_running_statistics_uses_the_batch_in_eval():
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    x = _random((5, 2))
    np.testing.assert_allclose(bn(Tensor(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    assert bn.state_dict() == {} and bn.running_mean is None


def test_layernorm_by_hand_and_same_in_eval():
    ln = _affine(nn.LayerNorm(4))
    x = _random((3, 2, 4))
    mu = x.mean(-1, keepdims=True)
    expected = (x - mu) / np.sqrt(
        ((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5
    ) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(Tensor(x)).data, expected, atol=1e-12)
    np.testing.assert_allclose(ln.eval()(Tensor(x)).data, expected, atol=1e-12)
    assert nn.LayerNorm(4, bias=False).bias is None
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []


# --- state dict and the graph ----------------------------------------------------------------


def test_buffers_are_saved_and_loaded_with_pytorch_names(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model(Tensor(_random((4, 2))))
    state = model.state_dict()
    assert list(state) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    other = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model.save(tmp_path / "m.npz")
    other.load(tmp_path / "m.npz")
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
    assert other[1].num_batches_tracked.data.dtype == np.int64
    bad = dict(state, **{"1.running_var": np.ones(4)})
    with pytest.raises(ShapeError, match="running_var"):
        other.load_state_dict(bad)
    with pytest.raises(KeyError, match="running_mean"):
        other.load_state_dict({k: v for k, v in state.items() if k != "1.running_mean"})


def test_the_statistics_are_graph_nodes_inside_the_module_scope():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), name="net")
    x = Tensor(_random((5, 3)), requires_grad=True)
    graph = trace(model(x).sum())
    ops = [node.op for node in graph.nodes if node.scope == "net.1"]
    assert ops.count("mean") == 2 and "sqrt" in ops and "div" in ops  # μ, σ², √, ÷ are visible


# --- bad input: typed, specific, before state changes ------------------------------------------


def test_batchnorm_refuses_bad_input_before_touching_the_running_statistics():
    bn = nn.BatchNorm1d(3)
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    with pytest.raises(
        ShapeError, match=r"Expected more than 1 value per channel when training, got input size \(1, 3\)"
    ):
        bn(Tensor(np.ones((1, 3))))
    with pytest.raises(ShapeError, match="has 4 channels"):
        bn(Tensor(np.ones((5, 4))))
    with pytest.raises(ShapeError, match="empty"):
        bn(Tensor(np.ones((0, 3))))
    with pytest.raises(ShapeError, match="2-D"):
        bn(Tensor(np.ones(3)))
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    bn.eval()
    assert bn(Tensor(np.ones((1, 3)))).shape == (1, 3)  # one sample is fine in eval, as in PyTorch
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2.0)


def test_layernorm_refuses_bad_input():
    ln = nn.LayerNorm((2, 3))
    with pytest.raises(ShapeError, match=r"does not end in normalized_shape \(2, 3\)"):
        ln(Tensor(np.ones((4, 3, 2))))
    with pytest.raises(ShapeError, match="empty"):
        ln(Tensor(np.ones((0, 2, 3))))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)


# --- PyTorch ------------------------------------------------------------------------------------


def _step_agrees(ours, theirs, x, seed):
    """One forward and backward with upstream ``seed`` through both layers: outputs and input
    gradients agree (parameter gradients accumulate, and the caller compares them)."""
    import torch

    xs, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    ys.backward(seed)
    yt.backward(torch.tensor(seed))
    np.testing.assert_allclose(ys.data, yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), atol=1e-10)


@needs_torch
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batchnorm_agrees_with_pytorch(shape):
    import torch

    ours = _affine(nn.BatchNorm1d(3, momentum=0.2))
    theirs = torch.nn.BatchNorm1d(3, momentum=0.2).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    for step in range(3):
        _step_agrees(ours, theirs, _random(shape, seed=step), _random(shape, seed=10 + step))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), atol=1e-10)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), atol=1e-12)
    ours.eval(), theirs.eval()
    x = _random(shape, seed=7)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)
    # And a PyTorch state dict loads into ours as numpy arrays.
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(fresh.eval()(Tensor(x)).data, ours(Tensor(x)).data, atol=1e-12)


@needs_torch
def test_layernorm_agrees_with_pytorch():
    import torch

    ours = _affine(nn.LayerNorm((3, 4)))
    theirs = torch.nn.LayerNorm((3, 4)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    _step_agrees(ours, theirs, _random((2, 3, 4)), _random((2, 3, 4), seed=5))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-10)


def test_eval_mode_draws_the_running_statistics_inside_the_layer():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), name="net").eval()
    graph = trace(model(Tensor(_random((4, 3)), requires_grad=True)).sum())
    leaves = {node.label: node.scope for node in graph.nodes if not node.parents and node.label}
    assert leaves["running_mean"] == leaves["√(running_var + ε)"] == "net.1"


def test_register_buffer_like_pytorch():
    module = nn.Module()
    module.register_buffer("steps", np.array(3, dtype=np.int64))
    module.register_buffer("scratch", np.zeros(2), persistent=False)
    assert list(module.state_dict()) == ["steps"] and module.steps.data.dtype == np.int64
    assert [name for name, _ in module.named_buffers()] == ["steps", "scratch"]
    assert module.parameters() == [] and not module.steps.requires_grad
    module.steps = np.array(4)  # assigning replaces the buffer's value, it stays a buffer
    assert int(module.state_dict()["steps"]) == 4
    with pytest.raises(TypeError, match="Parameter"):
        module.register_buffer("w", nn.Parameter(np.ones(2)))
    with pytest.raises(ValueError, match="without dots"):
        module.register_buffer("a.b", np.ones(2))


@pytest.mark.parametrize("training", [True, False])
def test_each_norm_is_one_layer_of_the_layer_view(training):
    bn, ln = nn.BatchNorm1d(4), nn.LayerNorm(4)
    model = nn.Sequential(nn.Linear(3, 4), bn, nn.ReLU(), nn.Linear(4, 4), ln, nn.Linear(4, 2), name="net")
    model.train(training)
    loss = (model(Tensor(_random((6, 3)), requires_grad=True)) ** 2).sum()
    loss.backward()
    layers = trace(loss).layers()
    for module, kind in ((bn, "BatchNorm1d"), (ln, "LayerNorm")):
        (layer,) = [layer for layer in layers if layer.name.endswith(kind)]
        assert set(layer.param_grad_norms) == {"weight", "bias"}
        assert layer.grad_norm == pytest.approx(np.linalg.norm(module.last_output.grad))
        assert layer.param_grad_norms["weight"] == pytest.approx(np.linalg.norm(module.weight.grad))
