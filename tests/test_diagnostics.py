"""diagnostics: verdicts for vanishing / exploding / healthy nets across seeds, the monitor's
measurements (checked by hand), the gradient-flow mapping for viz, and bad input."""

import json
import math

import numpy as np
import pytest
from fake_data import digits_like

from tinygrad_edu import Tensor, cross_entropy, diagnostics
from tinygrad_edu.diagnostics import (
    EXPLODING_RATIO,
    SATURATION_DERIVATIVE,
    VANISHING_RATIO,
    Diagnosis,
    GradientMonitor,
    diagnose,
)
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.nn import MLP, Linear, Module, Sigmoid, init
from tinygrad_edu.optim import SGD

SEEDS = [0, 1, 2]


def vanishing_net(seed):
    """Deep sigmoid net with small N(0, 0.01²) weights: σ' ≤ 1/4 times tiny weights per layer."""
    return MLP([64, 30, 30, 30, 10], activation="sigmoid", init="normal", rng=seed)


def exploding_net(seed):
    """Deep ReLU net with large N(0, 0.5²) weights: each layer scales the gradient by ≈ 0.5·√(64/2) ≈ 2.8."""
    return MLP([64] + [64] * 8 + [10], activation="relu", init="normal", init_std=0.5, rng=seed)


def healthy_net(seed):
    """The same depth with ReLU and He init: the gradient keeps its scale across layers."""
    return MLP([64] + [64] * 8 + [10], activation="relu", init="he", rng=seed)


def train(model, x, y, steps, lr=0.1):
    monitor = GradientMonitor(model)
    opt = SGD(model.parameters(), lr=lr)
    with np.errstate(all="ignore"):  # the exploding net overflows on purpose
        for _ in range(steps):
            opt.zero_grad()
            loss = cross_entropy(model(Tensor(x)), y)
            loss.backward()
            monitor.record(loss)
            opt.step()
            monitor.after_step()
    return monitor


def snapshot(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


# --- verdicts, one shot -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_one_shot_vanishing(seed):
    x, y = digits_like(seed=seed)
    d = diagnose(vanishing_net(seed), x, y)
    assert d.verdict == "vanishing"
    assert d.ratios["weight_grad"] < VANISHING_RATIO
    assert d.ratios["output_grad"] < VANISHING_RATIO
    layers = list(d.layers)
    assert layers == ["mlp.layers.0", "mlp.layers.2", "mlp.layers.4", "mlp.layers.6"]
    norms = [d.layers[name]["weight_grad_norm"] for name in layers]
    assert norms == sorted(norms)  # shrinking toward the input, layer after layer
    assert any("VANISHING_RATIO" in f.message for f in d.findings)
    assert any("ReLU" in s for s in d.suggestions) and any("xavier" in s for s in d.suggestions)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_shot_exploding(seed):
    x, y = digits_like(seed=seed)
    d = diagnose(exploding_net(seed), x, y)
    assert d.verdict == "exploding"
    assert d.ratios["output_grad"] > EXPLODING_RATIO
    deltas = [d.layers[name]["output_grad_norm"] for name in d.layers]
    assert deltas == sorted(deltas, reverse=True)  # growing toward the input
    assert any("EXPLODING_RATIO" in f.message for f in d.findings)
    clip = [s for s in d.suggestions if "clip_grad_norm_" in s]
    assert clip and "max_norm=" in clip[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_one_shot_healthy(seed):
    x, y = digits_like(seed=seed)
    d = diagnose(healthy_net(seed), x, y)
    assert d.verdict == "healthy", str(d)
    assert VANISHING_RATIO < d.ratios["weight_grad"] < EXPLODING_RATIO
    assert VANISHING_RATIO < d.ratios["output_grad"] < EXPLODING_RATIO
    assert not [f for f in d.findings if f.decisive]


def test_diagnose_after_the_users_own_backward_reads_the_same_numbers():
    x, y = digits_like()
    a, b = vanishing_net(0), vanishing_net(0)
    loss = cross_entropy(a(Tensor(x)), y)
    loss.backward()
    mine = diagnose(a, loss=loss)
    theirs = diagnose(b, x, y)
    assert mine.verdict == theirs.verdict == "vanishing"
    assert mine.ratios["weight_grad"] == pytest.approx(theirs.ratios["weight_grad"])
    assert mine.evidence["loss"] == pytest.approx([loss.item()])


def test_diagnose_never_changes_the_parameters():
    x, y = digits_like()
    model = exploding_net(0)
    before = snapshot(model)
    diagnose(model, x, y)
    assert all(np.array_equal(p.data, before[n]) for n, p in model.named_parameters())


# --- verdicts after training (the "done when") ----------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_trained_sigmoid_net_with_normal_init_is_vanishing(seed):
    x, y = digits_like(seed=seed)
    monitor = train(vanishing_net(seed), x, y, steps=15)
    d = monitor.report()
    assert d.verdict == "vanishing"
    assert d.ratios["weight_grad"] < VANISHING_RATIO
    assert d.ratios["update_ratio"] < VANISHING_RATIO  # lower layers barely move
    first = d.layers["mlp.layers.0"]["update_ratio"]
    assert first < diagnostics.UPDATE_RATIO_LOW
    assert "VANISHING" in str(d) and "mlp.layers.0" in str(d)


@pytest.mark.parametrize("seed", SEEDS)
def test_trained_large_init_net_is_exploding(seed):
    x, y = digits_like(seed=seed)
    monitor = train(exploding_net(seed), x, y, steps=4)
    d = monitor.report()
    assert d.verdict == "exploding"
    quantities = {f.quantity for f in d.findings}
    assert quantities & {"nonfinite", "loss jump"}
    losses = monitor.losses
    assert losses[1] > 10 * losses[0] or not math.isfinite(losses[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_trained_relu_he_net_is_healthy(seed):
    x, y = digits_like(seed=seed)
    monitor = train(healthy_net(seed), x, y, steps=15)
    d = monitor.report()
    assert d.verdict == "healthy", str(d)
    assert monitor.losses[-1] < monitor.losses[0]


def test_thresholds_are_the_documented_constants(monkeypatch):
    x, y = digits_like()
    model = vanishing_net(0)
    ratio = diagnose(model, x, y).ratios["output_grad"]
    monkeypatch.setattr(diagnostics, "VANISHING_RATIO", ratio / 10)
    assert diagnose(model, x, y).verdict == "healthy"


# --- the monitor's measurements ------------------------------------------------------------------


def test_update_ratio_is_the_relative_change_of_the_weights():
    x, y = digits_like(32)
    model = MLP([64, 8, 10], rng=0)
    monitor = GradientMonitor(model)
    opt = SGD(model.parameters(), lr=0.3)
    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()
    monitor.record(loss)
    w, g = model.layers[0].weight.data.copy(), model.layers[0].weight.grad.copy()
    opt.step()
    monitor.after_step()
    expected = np.linalg.norm(0.3 * g) / np.linalg.norm(w)
    assert monitor.history[0].layers["mlp.layers.0"].update_ratio == pytest.approx(expected, rel=1e-12)
    # without after_step(), the next record() fills it in
    opt.zero_grad()
    cross_entropy(model(Tensor(x)), y).backward()
    monitor.record()
    w2, g2 = model.layers[2].weight.data.copy(), model.layers[2].weight.grad.copy()
    opt.step()
    monitor.record()
    expected2 = np.linalg.norm(0.3 * g2) / np.linalg.norm(w2)
    assert monitor.history[1].layers["mlp.layers.2"].update_ratio == pytest.approx(expected2, rel=1e-12)
    assert monitor.history[2].layers["mlp.layers.2"].update_ratio is None


def test_norms_are_read_from_gradients_and_activations():
    x, y = digits_like(16)
    model = MLP([64, 6, 10], activation="tanh", rng=0)
    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()
    record = GradientMonitor(model).record(loss)
    hidden = record.layers["mlp.layers.0"]
    assert hidden.weight_grad_norm == pytest.approx(np.linalg.norm(model.layers[0].weight.grad))
    assert hidden.output_grad_norm == pytest.approx(np.linalg.norm(model.layers[0].last_output.grad))
    assert hidden.activation == "mlp.layers.1" and hidden.activation_kind == "tanh"
    assert hidden.activation_grad_norm == pytest.approx(np.linalg.norm(model.layers[1].last_output.grad))
    assert record.layers["mlp.layers.2"].activation is None
    assert record.loss == pytest.approx(loss.item())
    grads = [p.grad for p in model.parameters()]
    assert record.total_grad_norm == pytest.approx(math.sqrt(sum(np.sum(g**2) for g in grads)))


def test_saturated_sigmoid_units_are_counted():
    model = MLP([4, 50, 2], activation="sigmoid", init="normal", init_std=3.0, rng=0)
    x = np.random.default_rng(0).normal(size=(20, 4))
    loss = cross_entropy(model(Tensor(x)), np.zeros(20, dtype=int))
    loss.backward()
    a = model.layers[1].last_output.data
    expected = np.mean(a * (1 - a) < SATURATION_DERIVATIVE * 0.25)
    record = GradientMonitor(model).record(loss)
    assert record.layers["mlp.layers.0"].saturated_fraction == pytest.approx(expected)
    assert 0.1 < expected < 0.9  # the check is not trivially 0 or 1


def test_dead_relus_are_the_units_off_for_the_whole_batch():
    model = MLP([3, 4, 2], activation="relu", rng=0)
    model.layers[0].bias.data[:] = [-100.0, -100.0, 0.0, 0.0]  # two units that never fire
    model.layers[0].weight.data[:, 2:] = 1.0
    x = np.abs(np.random.default_rng(0).normal(size=(8, 3)))
    loss = cross_entropy(model(Tensor(x)), np.zeros(8, dtype=int))
    loss.backward()
    record = GradientMonitor(model).record(loss)
    assert record.layers["mlp.layers.0"].dead_fraction == 0.5
    assert record.layers["mlp.layers.0"].saturated_fraction is None


def test_nan_weights_are_counted_and_mean_exploding():
    x, y = digits_like(16)
    model = healthy_net(0)
    model.layers[4].weight.data[0, 0] = np.nan
    with np.errstate(all="ignore"):
        d = diagnose(model, x, y)
    assert d.verdict == "exploding"
    assert d.layers["mlp.layers.4"]["nonfinite"] >= 1
    assert d.findings[0].quantity == "nonfinite"


def test_a_loss_jump_is_exploding():
    x, y = digits_like(16)
    model = healthy_net(0)
    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()
    monitor = GradientMonitor(model)
    for value in [2.3, 2.0, 1.8, 40.0]:
        monitor.record(value)
    d = monitor.report()
    assert d.verdict == "exploding"
    jump = [f for f in d.findings if f.quantity == "loss jump"][0]
    assert jump.value == pytest.approx(40.0 / 1.8) and "step 3" in jump.message


# --- gradient flow for viz, reports -------------------------------------------------------------


def test_gradient_flow_is_the_mapping_viz_accepts():
    x, y = digits_like(32)
    monitor = train(vanishing_net(0), x, y, steps=3)
    flow = monitor.gradient_flow()
    assert list(flow) == ["mlp.layers.0", "mlp.layers.2", "mlp.layers.4", "mlp.layers.6"]
    assert all(len(v) == 3 and all(isinstance(n, float) for n in v) for v in flow.values())
    assert flow["mlp.layers.0"][0] == monitor.history[0].layers["mlp.layers.0"].weight_grad_norm
    last = monitor.gradient_flow("update_ratio", step=-1)
    assert set(last) == set(flow) and all(isinstance(v, float) for v in last.values())
    with pytest.raises(ValueError, match="unknown quantity"):
        monitor.gradient_flow("speed")
    from viz import flow as flow_module  # part of this project: an import error must fail, not skip

    normalised = flow_module.normalise({"sigmoid": flow})
    assert list(normalised["sigmoid"]) == list(flow)


def test_missing_measurements_become_nan_for_charts():
    model = MLP([3, 2, 2], rng=0)
    monitor = GradientMonitor(model)
    monitor.record()  # before any backward
    assert all(math.isnan(v[0]) for v in monitor.gradient_flow().values())


def test_report_is_readable_and_json_ready():
    x, y = digits_like(32)
    d = diagnose(vanishing_net(0), x, y)
    text = str(d)
    assert text.startswith("Diagnosis: VANISHING")
    for name in d.layers:
        assert name in text
    assert "Evidence:" in text and "Suggestions:" in text
    payload = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert payload["verdict"] == "vanishing" and payload["evidence"]["findings"]
    assert repr(d).startswith("Diagnosis(verdict='vanishing'")
    assert isinstance(d, Diagnosis)


# --- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_rejected_and_changes_nothing():
    model = vanishing_net(0)
    before = snapshot(model)
    with pytest.raises(ValueError, match="no gradients yet"):
        diagnose(model)
    with pytest.raises(ValueError, match="without targets"):
        diagnose(model, inputs=np.zeros((2, 64)))
    with pytest.raises(TypeError, match="Module"):
        diagnose(object())
    with pytest.raises(ValueError, match="nothing recorded"):
        GradientMonitor(model).report()
    with pytest.raises(ValueError, match="no layer"):
        GradientMonitor(Sigmoid())
    assert all(np.array_equal(p.data, before[n]) for n, p in model.named_parameters())


def test_custom_modules_are_watched_by_their_weight_parameters():
    class TwoLayer(Module):
        def __init__(self):
            super().__init__(name="net")
            self.encoder = Linear(64, 16, init="he_normal", rng=0)
            self.act = Sigmoid()
            self.head = Linear(16, 10, init=init.xavier_normal(), rng=1)

        def forward(self, x):
            return self.head(self.act(self.encoder(x)))

    x, y = digits_like(32)
    d = diagnose(TwoLayer(), x, y)
    assert list(d.layers) == ["net.encoder", "net.head"]
    assert d.layers["net.encoder"]["activation"] == "net.act"
    assert d.layers["net.encoder"]["activation_kind"] == "sigmoid"
    # the numbers are those of each watched layer's own weight: an identical twin, one backward by hand
    twin = TwoLayer()
    cross_entropy(twin(Tensor(x)), y).backward()
    grad_norms = {}
    for name, layer in (("net.encoder", twin.encoder), ("net.head", twin.head)):
        grad_norms[name] = np.linalg.norm(layer.weight.grad)
        assert d.layers[name]["weight_grad_norm"] == pytest.approx(grad_norms[name], rel=1e-12)
        assert d.layers[name]["weight_norm"] == pytest.approx(np.linalg.norm(layer.weight.data), rel=1e-12)
    ratio = grad_norms["net.encoder"] / grad_norms["net.head"]  # first watched layer over the last
    assert d.ratios["weight_grad"] == pytest.approx(ratio, rel=1e-12)
    assert VANISHING_RATIO < ratio < EXPLODING_RATIO
    assert d.verdict in diagnostics.VERDICTS


def test_bad_loss_or_targets_change_nothing():
    x, y = digits_like(16)
    model = healthy_net(0)
    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()
    grads = [p.grad.copy() for p in model.parameters()]
    monitor = GradientMonitor(model)
    with pytest.raises(TypeError, match="loss must be"):
        monitor.record("low")
    with pytest.raises(ValueError, match="scalar"):
        monitor.record(np.ones(3))
    assert monitor.history == []
    with pytest.raises(ShapeError, match=r"expected 16 targets \(one per row of logits\), got shape \(3,\)"):
        diagnose(model, x, np.zeros(3, dtype=int))  # 3 targets for 16 samples
    assert all(np.array_equal(p.grad, g) for p, g in zip(model.parameters(), grads))
