"""nn: modules and their names, Linear/MLP (values, gradients, init by name), activations,
dropout, residual, state_dict round trips, and bad input that leaves the model unchanged."""

import math

import numpy as np
import pytest
from fake_data import digits_like
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, cross_entropy, no_grad, trace
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.nn import (
    GELU,
    MLP,
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    Module,
    ModuleList,
    Parameter,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
    init,
)
from tinygrad_edu.optim import SGD
from tinygrad_edu.testing import gradcheck


def snapshot(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


def assert_unchanged(model, before):
    after = snapshot(model)
    assert after.keys() == before.keys()
    for name in before:
        assert np.array_equal(after[name], before[name]), name


# --- modules and names ------------------------------------------------------------------


class Block(Module):
    def __init__(self):
        super().__init__()
        self.inner = Linear(3, 3, rng=0)
        self.scale = Parameter(np.ones(3))

    def forward(self, x):
        return self.inner(x) * self.scale


class Net(Module):
    def __init__(self):
        super().__init__(name="net")
        self.first = Block()
        self.second = Block()
        self.second.scale = self.first.scale  # shared parameter

    def forward(self, x):
        return self.second(self.first(x))


def test_named_parameters_follow_attribute_names_and_share_once():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "first.scale",
        "first.inner.weight",
        "first.inner.bias",
        "second.inner.weight",
        "second.inner.bias",
    ]
    assert len(net.parameters()) == 5
    assert net.num_parameters() == 3 + 9 + 3 + 9 + 3
    assert [n for n, _ in net.named_modules()] == ["", "first", "first.inner", "second", "second.inner"]
    assert all(isinstance(p, Tensor) and p.requires_grad for p in net.parameters())
    assert net.first.inner.weight.label == "weight"


def test_scopes_flow_into_the_graph():
    net = Net()
    out = net(Tensor(np.ones((2, 3))))
    scopes = {node.scope for node in trace(out.sum()).nodes}
    assert {"net.first", "net.first.inner", "net.second.inner"} <= scopes
    assert net.first.inner.weight.scope == "net.first.inner"


def test_mlp_scopes_name_each_layer():
    model = MLP([4, 5, 5, 2], activation="tanh", rng=0)
    loss = model(Tensor(np.ones((3, 4)))).sum()
    nodes = trace(loss).nodes
    tanh_nodes = [n for n in nodes if n.op == "tanh"]
    assert [n.scope for n in tanh_nodes] == ["mlp.layers.1", "mlp.layers.3"]
    assert model.layers[0].weight.scope == "mlp.layers.0"
    named = MLP([2, 2], name="classifier", rng=0)
    out = named(Tensor(np.ones((1, 2))))
    assert out.scope == "classifier.layers.0"


def test_forgetting_super_init_is_a_clear_error():
    class Broken(Module):
        def __init__(self):
            self.w = Parameter(np.ones(2))

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        Broken()


def test_reassigning_and_deleting_attributes_updates_registration():
    layer = Linear(2, 2, rng=0)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    del layer.weight
    assert layer.parameters() == []


def test_containers():
    seq = Sequential(Linear(2, 3, rng=0), ReLU(), Linear(3, 1, rng=1))
    assert len(seq) == 3 and isinstance(seq[1], ReLU)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    items = ModuleList([Tanh()]).append(Sigmoid())
    assert [n for n, _ in items.named_children()] == ["0", "1"]
    with pytest.raises(TypeError, match="argument 1"):
        Sequential(Linear(2, 2), "relu")
    assert "Linear(2 → 3" in repr(seq)


def test_train_eval_and_zero_grad():
    model = MLP([3, 4, 2], dropout=0.5, rng=0)
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.eval()
    model(Tensor(np.ones((2, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# --- Linear ---------------------------------------------------------------------------


def test_linear_computes_x_w_plus_b():
    layer = Linear(3, 2, rng=0, bias_init=init.normal(std=1.0))
    x = np.arange(6.0).reshape(2, 3)
    out = layer(x)  # numpy input is accepted
    np.testing.assert_allclose(out.data, x @ layer.weight.data + layer.bias.data)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    no_bias = Linear(3, 2, bias=False, rng=0)
    np.testing.assert_allclose(no_bias(x).data, x @ no_bias.weight.data)


def test_linear_float32():
    layer = Linear(3, 2, rng=0, dtype=np.float32)
    out = layer(Tensor(np.ones((4, 3), dtype=np.float32)))
    assert layer.weight.data.dtype == np.float32 and out.data.dtype == np.float32


def test_linear_shape_error_names_the_layer():
    model = MLP([4, 3, 2], rng=0)
    with pytest.raises(ShapeError, match=r"'0'.*\(5, 7\).*expected 4"):
        model(Tensor(np.ones((5, 7))))
    with pytest.raises(TypeError, match="Tensor or numpy array"):
        Linear(2, 2)([1.0, 2.0])


@given(seed=st.integers(0, 10_000), batch=st.integers(1, 4))
def test_linear_gradients_match_finite_differences(seed, batch):
    rng = np.random.default_rng(seed)
    layer = Linear(3, 2, rng=rng, bias_init=init.normal(std=1.0))
    x = Tensor(rng.normal(size=(batch, 3)), requires_grad=True)
    target = rng.normal(size=(batch, 2))
    gradcheck(lambda x, w, b: ((layer(x) - target) ** 2).sum(), x, layer.weight, layer.bias)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "gelu", "identity"])
def test_mlp_gradients_match_finite_differences(activation):
    rng = np.random.default_rng(1)
    model = MLP([3, 4, 4, 3], activation=activation, init="xavier_normal", rng=rng, bias_init="normal")
    x = Tensor(rng.normal(size=(5, 3)), requires_grad=True)
    y = np.array([0, 1, 2, 1, 0])
    gradcheck(lambda x, *params: cross_entropy(model(x), y), x, *model.parameters())


# --- MLP construction ----------------------------------------------------------------------


def test_mlp_structure():
    model = MLP([64, 30, 30, 30, 10], activation="sigmoid", init="normal", rng=0)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]
    assert model.num_parameters() == 64 * 30 + 30 + 2 * (30 * 30 + 30) + 30 * 10 + 10
    out = model(Tensor(np.zeros((7, 64))))
    assert out.shape == (7, 10)


@pytest.mark.parametrize(
    "kwargs, expected_std",
    [
        (dict(init="normal"), lambda fi, fo: init.DEFAULT_STD),
        (dict(init="normal", init_std=0.5), lambda fi, fo: 0.5),
        (dict(init="uniform", init_std=0.5), lambda fi, fo: 0.5),
        (dict(init=init.normal(std=0.2)), lambda fi, fo: 0.2),
        (dict(init="he", activation="relu"), lambda fi, fo: math.sqrt(2 / fi)),
        (dict(init="he_uniform", activation="tanh"), lambda fi, fo: 5 / 3 / math.sqrt(fi)),
        (dict(init="kaiming_normal", activation="sigmoid"), lambda fi, fo: 1 / math.sqrt(fi)),
        (dict(init="xavier_normal", activation="tanh"), lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (dict(init="glorot_uniform", activation="relu"), lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (dict(init="standard"), lambda fi, fo: 1 / math.sqrt(3 * fi)),
    ],
)
def test_mlp_init_by_name_has_the_documented_scale(kwargs, expected_std):
    model = MLP([300, 200, 100], rng=0, **kwargs)
    for layer in (model.layers[0], model.layers[2]):
        fan_in, fan_out = layer.weight.shape
        assert layer.weight.data.std() == pytest.approx(expected_std(fan_in, fan_out), rel=0.05)
        assert np.all(layer.bias.data == 0.0)


def test_mlp_orthogonal_and_bias_init():
    model = MLP([20, 20, 5], init="orthogonal", activation="relu", bias_init=init.normal(std=1.0), rng=0)
    w = model.layers[0].weight.data
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(20), atol=1e-10)  # gain √2 for ReLU
    biases = np.concatenate([model.layers[0].bias.data, model.layers[2].bias.data])
    assert 0.5 < biases.std() < 1.5
    standard_bias = MLP([16, 4], bias_init="standard", rng=0).layers[0].bias.data
    assert np.all(np.abs(standard_bias) <= 0.25) and np.any(standard_bias != 0)


def test_mlp_accepts_callables():
    def fill_with_halves(weight):
        weight.data[...] = 0.5

    model = MLP([3, 2, 1], activation=lambda x: x.tanh(), init=fill_with_halves, rng=0)
    assert np.all(model.layers[0].weight.data == 0.5)
    out = model(Tensor(np.ones((1, 3))))
    expected = np.tanh(np.full((1, 2), 1.5)) @ np.full((2, 1), 0.5)
    np.testing.assert_allclose(out.data, expected)
    with_module = MLP([2, 2, 2, 1], activation=LeakyReLU(0.2), rng=0)
    assert with_module.layers[1] is not with_module.layers[3]  # one module per layer
    assert with_module.layers[1].negative_slope == 0.2


def test_mlp_accepts_a_plain_module_as_activation():
    # regression (found by mypy): check_activation admits any Module, but MLP read `.kind`,
    # which only Activation subclasses have, and raised AttributeError
    class Square(Module):
        def forward(self, x):
            return x * x

    model = MLP([2, 3, 1], activation=Square(), rng=0)
    assert model.activation == "linear"  # no kind: treated like Lambda (init gain 1)
    assert isinstance(model.layers[1], Square)
    x = np.array([[0.5, -2.0]])
    out = model(Tensor(x))
    w1, b1 = model.layers[0].weight.data, model.layers[0].bias.data
    w2, b2 = model.layers[2].weight.data, model.layers[2].bias.data
    np.testing.assert_allclose(out.data, ((x @ w1 + b1) ** 2) @ w2 + b2)


def test_same_seed_same_network():
    a = MLP([5, 4, 3], init="he", rng=3)
    b = MLP([5, 4, 3], init="he", rng=np.random.default_rng(3))
    c = MLP([5, 4, 3], init="he", rng=4)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))
    assert not np.array_equal(a.layers[0].weight.data, c.layers[0].weight.data)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(activation="swish"),
            ValueError,
            "unknown activation 'swish'; valid names: sigmoid, tanh, relu",
        ),
        (dict(init="gaussian"), ValueError, "unknown init 'gaussian'; valid names: normal, uniform"),
        (dict(bias_init="xavier_normal"), ValueError, "unknown bias_init"),
        (dict(init="he", init_std=0.1), ValueError, "init_std applies to 'normal'"),
        (dict(output_activation="softmaxx"), ValueError, "unknown activation"),
        (dict(dropout=1.5), ValueError, "probability"),
        (dict(activation=3), TypeError, "activation must be"),
        (dict(dtype=np.int32), ValueError, "float32 or float64"),
    ],
)
def test_mlp_rejects_bad_settings_before_building(kwargs, error, match):
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(error, match=match):
        MLP([4, 3, 2], rng=rng, **kwargs)
    assert rng.bit_generator.state == state  # nothing was drawn: nothing was built


@pytest.mark.parametrize("sizes", [[4], [], [4, 0], [4, 2.5], "44", [4, True]])
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        MLP(sizes)


# --- activations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, reference",
    [
        (Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (Tanh(), np.tanh),
        (ReLU(), lambda x: np.maximum(x, 0)),
        (LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
        (Identity(), lambda x: x),
    ],
)
def test_activation_values(module, reference):
    x = np.linspace(-4, 4, 17).reshape(1, -1)
    np.testing.assert_allclose(module(Tensor(x)).data, reference(x), rtol=1e-12)


def test_gelu_is_close_to_x_times_normal_cdf_and_has_correct_gradients():
    x = np.linspace(-5, 5, 41)
    phi = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(GELU()(Tensor(x)).data, x * phi, atol=1e-3)
    gradcheck(lambda t: GELU()(t), Tensor(np.linspace(-3, 3, 9), requires_grad=True))


def test_activations_work_on_scalar_values():
    from tinygrad_edu import Value

    v = Value(0.3)
    assert Sigmoid()(v).data == pytest.approx(1 / (1 + math.exp(-0.3)))
    assert GELU()(v).data == pytest.approx(0.3 * 0.5 * (1 + math.erf(0.3 / math.sqrt(2))), abs=1e-3)


# --- dropout and residual ----------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_mean_and_scales_survivors(p):
    drop = Dropout(p, rng=0)
    x = Tensor(np.full((200, 500), 2.0))
    out = drop(x).data
    kept = out != 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.01)
    np.testing.assert_allclose(out[kept], 2.0 / (1 - p))
    assert out.mean() == pytest.approx(2.0, rel=0.03)


def test_dropout_is_exactly_the_identity_in_eval_and_at_p0():
    x = Tensor(np.arange(6.0))
    assert Dropout(0.5, rng=0).eval()(x) is x
    assert Dropout(0.0, rng=0)(x) is x


def test_dropout_p1_zeros_and_gradient_is_the_mask():
    x = Tensor(np.ones(5), requires_grad=True)
    assert np.all(Dropout(1.0, rng=0)(x).data == 0)
    drop = Dropout(0.5, rng=1)
    out = drop(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, out.data)  # ∂(x·mask)/∂x = mask, and here x = 1


def test_dropout_is_deterministic_with_a_seed():
    x = Tensor(np.ones((10, 10)))
    a, b = Dropout(0.5, rng=7)(x).data, Dropout(0.5, rng=7)(x).data
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="probability"):
        Dropout(-0.1)


def test_residual_adds_the_identity_path():
    block = Linear(3, 3, init="zeros", bias_init="zeros")
    res = Residual(block)
    x = Tensor(np.arange(3.0).reshape(1, 3), requires_grad=True)
    out = res(x)
    np.testing.assert_allclose(out.data, x.data)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((1, 3)))  # the skip's local derivative is 1
    deep = MLP([4, 4, 4, 4, 2], residual=True, rng=0)
    assert sum(isinstance(m, Residual) for m in deep.layers) == 3
    gradcheck(lambda x, *ps: deep(x).sum(), Tensor(np.ones((2, 4)), requires_grad=True), *deep.parameters())


# --- state_dict -------------------------------------------------------------------------


def test_state_dict_round_trip_in_memory_and_npz(tmp_path):
    source = MLP([6, 5, 3], activation="tanh", rng=1)
    state = source.state_dict()
    assert list(state) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    state["layers.0.weight"][0, 0] = 123.0  # a copy: the model is not affected
    assert source.layers[0].weight.data[0, 0] != 123.0

    target = MLP([6, 5, 3], activation="tanh", rng=2)
    target.load_state_dict(source.state_dict())
    assert_unchanged(target, snapshot(source))

    path = tmp_path / "model.npz"
    source.save(path)
    with np.load(path, allow_pickle=False) as archive:  # plain arrays, no pickled objects
        assert sorted(archive.files) == sorted(source.state_dict())
    fresh = MLP([6, 5, 3], activation="tanh", rng=3)
    fresh.load(path)
    assert_unchanged(fresh, snapshot(source))
    x = Tensor(np.ones((2, 6)))
    np.testing.assert_array_equal(fresh(x).data, source(x).data)


def test_load_keeps_float32():
    model = MLP([3, 2], rng=0, dtype=np.float32)
    model.load_state_dict({k: v.astype(np.float64) for k, v in model.state_dict().items()})
    assert model.layers[0].weight.data.dtype == np.float32


def test_load_state_dict_mismatched_keys_names_them_and_changes_nothing():
    model = MLP([4, 3, 2], rng=0)
    before = snapshot(model)
    state = model.state_dict()
    state["layers.0.weight"] = state["layers.0.weight"] + 1.0
    del state["layers.2.bias"]
    state["layers.9.weight"] = np.zeros((1, 1))
    with pytest.raises(
        KeyError, match=r"missing keys \['layers.2.bias'\].*unexpected keys \['layers.9.weight'\]"
    ):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_load_state_dict_mismatched_shapes_names_them_and_changes_nothing():
    model = MLP([4, 3, 2], rng=0)
    before = snapshot(model)
    state = {k: v + 1.0 for k, v in model.state_dict().items()}  # all valid but one
    state["layers.2.weight"] = np.zeros((2, 3))
    with pytest.raises(ShapeError, match=r"'layers.2.weight': model \(3, 2\) vs state \(2, 3\)"):
        model.load_state_dict(state)
    assert_unchanged(model, before)
    state["layers.2.weight"] = np.array([["a", "b"]] * 3)
    with pytest.raises(TypeError, match="non-numeric"):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_load_state_dict_non_strict_loads_the_subset():
    model = MLP([4, 3, 2], rng=0)
    before = snapshot(model)
    model.load_state_dict({"layers.0.bias": np.ones(3), "other": np.zeros(2)}, strict=False)
    assert np.all(model.layers[0].bias.data == 1.0)
    assert np.array_equal(model.layers[0].weight.data, before["layers.0.weight"])


def test_load_from_a_file_with_the_wrong_architecture_changes_nothing(tmp_path):
    path = tmp_path / "small.npz"
    MLP([4, 3, 2], rng=0).save(path)
    other = MLP([4, 5, 2], rng=1)
    before = snapshot(other)
    with pytest.raises(
        ShapeError,
        match=r"shape mismatch for 'layers.0.weight': model \(4, 5\) vs state \(4, 3\);.*nothing was loaded",
    ):
        other.load(path)
    assert_unchanged(other, before)


# --- training ----------------------------------------------------------------------------


def test_training_reduces_the_loss_and_steps_create_no_nodes():
    x, y = digits_like(64)
    model = MLP([64, 32, 10], activation="relu", init="he", rng=0)
    opt = SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = cross_entropy(model(Tensor(x)), y)
        loss.backward()
        grad_before = model.layers[0].weight.grad.copy()
        nodes_before = len(trace(loss).nodes)
        opt.step()
        losses.append(loss.item())
        assert model.layers[0].weight.parents == ()  # the update is outside the graph
        assert len(trace(loss).nodes) == nodes_before
        # the old graph's local derivatives keep the weights they were computed with, so
        # replaying its backward pass gives the same gradient as before the step
        model.zero_grad()
        loss.backward()
        np.testing.assert_array_equal(model.layers[0].weight.grad, grad_before)
    assert losses[-1] < 0.5 * losses[0]
    with no_grad():
        accuracy = np.mean(model(Tensor(x)).data.argmax(axis=1) == y)
    assert accuracy > 0.8
