"""Diagnostics of torch models: the same verdicts as for our models, from independently checked numbers.

The per-layer numbers are compared with a forward pass run by hand, layer by layer, with
``retain_grad()`` on every output and ``torch.autograd.grad`` for the weights (no hooks of the
bridge involved), and with the same MLP built from our ``nn`` with the same weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from viz_helpers import ON_CI

try:
    import torch
    from torch import nn
except ImportError:  # CI installs the torch extra: there a missing torch must fail, not skip
    if ON_CI:
        raise
    pytest.skip('torch is not installed (pip install "tinygrad_edu[torch]")', allow_module_level=True)

from tinygrad_edu import Tensor, cross_entropy
from tinygrad_edu import nn as ours
from tinygrad_edu.diagnostics import SATURATION_DERIVATIVE, GradientMonitor, diagnose
from tinygrad_edu.graph import norm


def torch_mlp(activation, init, depth=6, width=32, seed=0):
    torch.manual_seed(seed)
    sizes = [16] + [width] * depth + [4]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        linear = nn.Linear(a, b)
        init(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    return nn.Sequential(*layers[:-1])


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(64, 16, generator=g), torch.randint(0, 4, (64,), generator=g)


def small_normal(w):
    return nn.init.normal_(w, 0.0, 0.1)


def he(w):
    return nn.init.kaiming_normal_(w, nonlinearity="relu")


def huge(w):
    return nn.init.normal_(w, 0.0, 1.0)


@pytest.mark.parametrize(
    "activation, init, verdict",
    [(nn.Sigmoid, small_normal, "vanishing"), (nn.ReLU, he, "healthy"), (nn.ReLU, huge, "exploding")],
)
def test_verdicts(activation, init, verdict):
    model = torch_mlp(activation, init)
    x, y = batch()
    diagnosis = diagnose(model, x, y)
    assert diagnosis.verdict == verdict, str(diagnosis)
    assert list(diagnosis.layers) == [f"sequential.{k}" for k in range(0, 13, 2)]
    if verdict == "vanishing":  # sigmoid' ≤ 1/4 and small weights: δ shrinks by orders of magnitude
        assert diagnosis.ratios["output_grad"] < 1e-3
    if verdict == "exploding":
        assert diagnosis.ratios["output_grad"] > 1e3
        assert any("torch.nn.utils.clip_grad_norm_(model.parameters()" in s for s in diagnosis.suggestions)
    if verdict != "healthy":  # the fixes in torch's words, not ours
        text = " ".join(diagnosis.suggestions)
        assert "init='" not in text and "nn.Residual" not in text and "optim.clip" not in text
        assert "nn.init." in text


def test_per_layer_numbers_match_a_hand_run_forward():
    model = torch_mlp(nn.Sigmoid, small_normal, depth=3)
    x, y = batch()
    diagnosis = diagnose(model, x, y)
    outputs, h = {}, x
    for k, module in enumerate(model):  # the same forward, by hand, keeping every output
        h = module(h)
        h.retain_grad()
        outputs[k] = h
    nn.functional.cross_entropy(h, y).backward()  # fills the retained outputs' .grad
    linears = [k for k, m in enumerate(model) if isinstance(m, nn.Linear)]
    again = nn.functional.cross_entropy(model(x), y)  # a separate pass for the weights
    weight_grads = torch.autograd.grad(again, [model[k].weight for k in linears])
    for k, weight_grad in zip(linears, weight_grads):
        stats = diagnosis.layers[f"sequential.{k}"]
        assert stats["weight_grad_norm"] == pytest.approx(weight_grad.norm().item(), rel=1e-5)
        assert stats["weight_norm"] == pytest.approx(model[k].weight.norm().item(), rel=1e-6)
        assert stats["output_grad_norm"] == pytest.approx(outputs[k].grad.norm().item(), rel=1e-5)
        if k + 1 in outputs and isinstance(model[k + 1], nn.Sigmoid):
            a = outputs[k + 1]
            assert stats["activation"] == f"sequential.{k + 1}"
            assert stats["activation_grad_norm"] == pytest.approx(a.grad.norm().item(), rel=1e-5)
            saturated = (a * (1 - a) < SATURATION_DERIVATIVE * 0.25).float().mean().item()
            assert stats["saturated_fraction"] == pytest.approx(saturated)


def test_dead_relus_are_counted_by_hand():
    model = torch_mlp(nn.ReLU, he, depth=2)
    with torch.no_grad():
        model[2].bias[:10] = -100.0  # ten units of the second layer never fire
    x, y = batch()
    diagnosis = diagnose(model, x, y)
    relu_out = model[3](model[2](model[1](model[0](x))))
    dead = (relu_out <= 0).all(dim=0).float().mean().item()
    assert dead >= 10 / 32
    assert diagnosis.layers["sequential.2"]["dead_fraction"] == pytest.approx(dead)


def test_same_numbers_and_verdict_as_our_mlp_with_the_same_weights():
    model = torch_mlp(nn.Sigmoid, small_normal, depth=4, width=16)
    x, y = batch()
    theirs = diagnose(model, x, y)
    mlp = ours.MLP([16] + [16] * 4 + [4], activation="sigmoid")
    state = {
        f"layers.{k}.{name}": (p.detach().numpy().T if name == "weight" else p.detach().numpy())
        for k, module in enumerate(model)
        for name, p in module.named_parameters()
    }
    mlp.load_state_dict({k: v.astype(np.float64) for k, v in state.items()})
    loss = cross_entropy(mlp(Tensor(x.numpy().astype(np.float64))), y.numpy())
    loss.backward()
    mine = diagnose(mlp, loss=loss)
    assert mine.verdict == theirs.verdict == "vanishing"
    for (a, sa), (b, sb) in zip(theirs.layers.items(), mine.layers.items()):
        for key in ("weight_grad_norm", "output_grad_norm", "activation_grad_norm", "saturated_fraction"):
            if sa[key] is None:
                assert sb[key] is None, (a, key)
            else:
                assert sa[key] == pytest.approx(sb[key], rel=1e-3, abs=1e-12), (a, b, key)
    assert [f.quantity for f in mine.findings] == [f.quantity for f in theirs.findings]


def test_monitor_in_a_torch_training_loop():
    model = torch_mlp(nn.Tanh, nn.init.xavier_normal_, depth=3)
    x, y = batch()
    with GradientMonitor(model) as monitor:
        assert type(monitor).__name__ == "TorchGradientMonitor"
        for _ in range(3):
            model.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            monitor.record(loss)
            before = model[0].weight.detach().clone()
            with torch.no_grad():  # one plain SGD step, lr = 0.1
                for p in model.parameters():
                    p -= 0.1 * p.grad
            monitor.after_step()
    assert all(not m._forward_hooks for m in model.modules())  # close() removed them
    step = monitor.history[-1].layers["sequential.0"]
    by_hand = (model[0].weight.detach() - before).norm().item() / before.norm().item()
    assert step.update_ratio == pytest.approx(by_hand, rel=1e-5)
    assert monitor.losses == pytest.approx([r.loss for r in monitor.history])
    assert monitor.report().verdict == "healthy"
    assert monitor.report(upto=1).verdict == "healthy" and monitor.report().theory is None
    with pytest.raises(ValueError, match="upto must be an int from 1 to 3"):
        monitor.report(upto=4)
    assert len(monitor.gradient_flow()["sequential.0"]) == 3


def test_nonfinite_weights_are_exploding():
    model = torch_mlp(nn.ReLU, he, depth=2)
    with torch.no_grad():
        model[2].weight[0, 0] = math.inf
    x, y = batch()
    diagnosis = diagnose(model, x, y)
    assert diagnosis.verdict == "exploding"
    assert diagnosis.findings[0].quantity == "nonfinite"


def test_bad_input():
    with pytest.raises(ValueError, match="no layer with a 'weight'"):
        diagnose(nn.ReLU(), torch.randn(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="no layer with a 'weight'"):
        GradientMonitor(nn.Sequential(nn.ReLU()))
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="no gradients yet"):
        diagnose(model)
    with pytest.raises(ValueError, match="without targets"):
        diagnose(model, torch.randn(2, 3))
    with pytest.raises(RuntimeError):  # torch's own shape message, before any gradient exists
        diagnose(model, torch.randn(2, 5), torch.zeros(2, dtype=torch.long))
    assert model.weight.grad is None
    assert not model._forward_hooks
    assert norm(model.weight.detach().numpy()) > 0


def test_a_torch_activations_local_is_our_ops_local_at_the_input_torch_saw():
    """σ′, tanh′ and LeakyReLU′ (its own slope) of the recorded input, against torch's own
    derivative (autograd of the torch activation) — the saturated count reads these."""
    from tinygrad_edu.torch_bridge.diagnose import Watcher, activation_local, torch_layers

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 4), nn.LeakyReLU(0.2)
    )
    layers = torch_layers(model)
    modules = [layer.activation_module for layer in layers if layer.activation is not None]
    watcher = Watcher(modules, keep_inputs=modules)
    model(torch.randn(6, 3) * 3)
    watcher.remove()
    for layer in layers[:3]:
        z = torch.tensor(watcher.inputs[layer.activation_module], dtype=torch.float64, requires_grad=True)
        (expected,) = torch.autograd.grad(layer.activation_module(z).sum(), z)
        local = activation_local(layer.activation, watcher.inputs[layer.activation_module])
        np.testing.assert_allclose(local, expected.numpy(), rtol=1e-5, atol=1e-7)  # float32 input
    assert activation_local(layers[0].activation, None) is None
