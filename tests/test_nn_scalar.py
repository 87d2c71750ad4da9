"""nn.scalar: Neuron/Layer/MLP over Values — values, labels and scopes per neuron, gradients, training."""

import math

import numpy as np
import pytest

from tinygrad_edu import Value, trace
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.nn import Module, init
from tinygrad_edu.nn.scalar import MLP, Layer, Neuron
from tinygrad_edu.optim import SGD
from tinygrad_edu.testing import gradcheck


def test_neuron_computes_act_of_b_plus_w_dot_x():
    n = Neuron(3, activation="tanh", weights=[0.5, -1.0, 2.0], bias=0.1)
    out = n([1.0, 2.0, Value(-0.5)])
    assert out.data == pytest.approx(math.tanh(0.1 + 0.5 - 2.0 - 1.0))
    assert out.label == "a" and out.op == "tanh"
    assert [p.label for p in n.parameters()] == ["w0", "w1", "w2", "b"]
    linear = Neuron(2, activation="linear", weights=[1.0, 1.0])
    assert linear([2.0, 3.0]).data == 5.0


def test_2_3_3_1_net_has_named_parameters_and_per_neuron_scopes():
    net = MLP(2, [3, 3, 1], rng=0)
    assert len(net.parameters()) == (2 * 3 + 3) + (3 * 3 + 3) + (3 + 1)
    names = [name for name, _ in net.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w0", "layers.0.neurons.0.w1", "layers.0.neurons.0.b"]
    y = net([1.0, -2.0])
    assert isinstance(y, Value)  # a one-neuron layer returns the Value itself
    graph = trace(y)
    scopes = {node.scope for node in graph.nodes if node.op}
    assert scopes == {
        f"mlp.layers.{i}.neurons.{j}" for i, width in enumerate([3, 3, 1]) for j in range(width)
    }
    w = net.layers[1].neurons[2].w[0]
    # layer 2 (numbered from 1), neuron 2, input 0; its parameter name stays w0
    assert (w.label, w.scope) == ("w2[2,0]", "mlp.layers.1.neurons.2")
    # every parameter of the net is a leaf of the graph
    leaves = set(map(id, graph.leaves))
    assert all(id(p) in leaves for p in net.parameters())


def test_scalar_gradients_match_finite_differences():
    net = MLP(2, [3, 3, 1], activation="tanh", rng=1)
    x = [0.7, -1.2]
    gradcheck(lambda *params: net(x), *net.parameters())
    relu_net = MLP(3, [4, 2], activation="sigmoid", output_activation="tanh", rng=2)
    gradcheck(lambda *params: sum(relu_net([0.1, 0.2, -0.3]), Value(0.0)), *relu_net.parameters())


def test_layer_draws_its_matrix_with_fan_in_and_fan_out():
    layer = Layer(200, 100, init="xavier_normal", rng=0)
    weights = np.array([[w.data for w in n.w] for n in layer.neurons])
    assert weights.shape == (100, 200)
    assert weights.std() == pytest.approx(math.sqrt(2 / 300), rel=0.05)
    default = Layer(50, 40, rng=0)
    values = np.array([[w.data for w in n.w] for n in default.neurons])
    assert np.abs(values).max() <= 1.0 and values.std() > 0.5  # micrograd's U(−1, 1)
    assert Layer(3, 2, init=init.zeros(), rng=0)([1.0, 2.0, 3.0])[0].data == 0.0


def test_training_a_tiny_net_with_sgd():
    net = MLP(3, [4, 4, 1], rng=0)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    opt = SGD(net.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = sum(((net(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))
        loss.backward()
        opt.step()
        losses.append(loss.data)
    assert losses[-1] < 0.05 * losses[0]
    assert all(isinstance(p.data, float) for p in net.parameters())


def test_scalar_state_dict_round_trip(tmp_path):
    a, b = MLP(2, [3, 1], rng=0), MLP(2, [3, 1], rng=1)
    a.save(tmp_path / "tiny.npz")
    b.load(tmp_path / "tiny.npz")
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert a([0.3, 0.4]).data == b([0.3, 0.4]).data


def test_scalar_errors():
    net = MLP(2, [3, 1], rng=0)
    with pytest.raises(ShapeError, match="expected 2 inputs, got 3"):
        net([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="input 1 is a str"):
        net([1.0, "2"])
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [3, 1], activation="softsign")
    with pytest.raises(ValueError, match="nouts"):
        MLP(2, [])
    with pytest.raises(ValueError, match="nin"):
        Neuron(0)
    with pytest.raises(ShapeError, match="Neuron weights: expected 2 inputs, got 1"):
        Neuron(2, weights=[1.0])


def test_plain_module_activation_has_a_repr_and_a_layer_kind():
    # regression (found by mypy): check_activation admits any Module, but repr and layer_kind
    # read `.act.kind`, which only Activation subclasses have, and raised AttributeError
    class Square(Module):
        def forward(self, x):
            return x * x

    neuron = Neuron(2, activation=Square(), weights=[0.5, -1.0], bias=0.25)
    assert "2 inputs, linear" in repr(neuron)
    assert neuron([2.0, 3.0]).data == (0.25 + 0.5 * 2.0 - 1.0 * 3.0) ** 2  # act is still used
    assert Layer(2, 3, activation=Square(), rng=0).layer_kind() == "Layer 2→3 linear"
