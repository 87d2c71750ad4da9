"""Graph.layers(): every number is a chain-rule quantity, checked against the nodes' own .grad.

The layer view is what every grouped picture is drawn from, so its numbers are compared with
gradients read directly off the modules' outputs (``last_output.grad``), with hand derivations
(a residual block, a two-route recurrent step), and with the grouped DOT.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import viz
from tinygrad_edu import Tensor, Value, name_scope, nn, trace
from tinygrad_edu.nn.scalar import MLP as ScalarMLP
from viz.scene import build_scene


def fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


def norm(x) -> float:
    return float(np.linalg.norm(np.asarray(x, dtype=np.float64)))


def _mlp_loss(activation: str, sizes: list[int], batch: int, seed: int):
    init = "he_normal" if activation == "relu" else "xavier_normal"
    net = nn.MLP(sizes, activation=activation, init=init, rng=seed)
    rng = np.random.default_rng(seed + 1)
    x = Tensor(rng.standard_normal((batch, sizes[0])), label="x")
    readout = Tensor(rng.standard_normal((batch, sizes[-1])))  # a random upstream, not ones
    loss = (net(x) * readout).sum()
    loss.backward()
    return net, loss


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    activation=st.sampled_from(["sigmoid", "tanh", "relu"]),
    widths=st.lists(st.integers(1, 32), min_size=2, max_size=12),
    batch=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_layer_gains_are_ratios_of_the_nodes_own_gradient_norms(activation, widths, batch, seed):
    sizes = [widths[0]] + widths[1:] + [widths[-1]]
    net, loss = _mlp_loss(activation, sizes, batch, seed)
    modules = list(net.layers)  # Linear, activation, Linear, ..., Linear: one layer each
    outputs = [m.last_output for m in modules]
    grads = [norm(h.grad) for h in outputs]
    assume(all(g > 0 for g in grads))  # a dead ReLU net has no gain to speak of
    layers = [layer for layer in trace(loss).layers() if layer.is_layer]
    assert len(layers) == len(modules)
    assert trace(loss).layers()[0].name == "input" and trace(loss).layers()[-1].name == "loss"
    number = 0
    for j, (layer, module) in enumerate(zip(layers, modules)):
        assert layer.output is outputs[j]
        assert layer.grad_norm == pytest.approx(grads[j], rel=1e-12)
        if isinstance(module, nn.Linear):
            number += 1
            assert layer.name == f"L{number} Linear {module.in_features}→{module.out_features}"
            assert layer.param_grad_norms["weight"] == pytest.approx(norm(module.weight.grad), rel=1e-12)
            assert layer.param_grad_norms["bias"] == pytest.approx(norm(module.bias.grad), rel=1e-12)
        else:
            assert layer.name == f"L{number} {type(module).__name__}" and not layer.params
        if j == 0:
            assert layer.gain is None  # the data x needs no gradient: nothing flows below L1
        else:
            assert layer.gain == pytest.approx(grads[j - 1] / grads[j], rel=1e-12)
    # the gains from the top down to any layer multiply to the ratio of the gradient norms
    for k in range(len(layers)):
        product = math.prod(layer.gain for layer in layers[k + 1 :])
        assert product == pytest.approx(grads[k] / grads[-1], rel=1e-9)
    # the grouped picture shows exactly these numbers
    scene = build_scene(loss, group="layers")
    boxes = {view.title: view for view in scene.nodes}
    for j, layer in enumerate(layers):
        box = boxes[layer.name]
        assert ("‖∂L/∂out‖", fmt(grads[j])) in box.rows
        if layer.params:
            assert ("‖∂L/∂W‖", fmt(norm(modules[j].weight.grad))) in box.rows
    arrows = {(e.tail, e.head): e for e in scene.edges}
    index = {view.title: view.id for view in scene.nodes}
    for j in range(1, len(layers)):
        arrow = arrows[(index[layers[j - 1].name], index[layers[j].name])]
        assert arrow.gain == pytest.approx(grads[j - 1] / grads[j], rel=1e-12)
        assert ("gain", "×" + fmt(grads[j - 1] / grads[j])) in arrow.rows
        assert ("grad", fmt(grads[j - 1])) in arrow.rows


def test_a_sigmoid_layer_shrinks_the_gradient_by_its_mean_derivative():
    net, loss = _mlp_loss("sigmoid", [4, 16, 16, 2], 32, 0)
    sigmoid = next(layer for layer in trace(loss).layers() if layer.kind == "Sigmoid")
    s = sigmoid.output.data
    assert sigmoid.gain < 0.25  # σ' ≤ 1/4 elementwise, so no more in norm
    upstream = sigmoid.output.grad
    assert sigmoid.gain == pytest.approx(norm(s * (1 - s) * upstream) / norm(upstream), rel=1e-12)


def test_a_residual_block_shows_its_skip_and_branch_and_where_they_add_up():
    rng = np.random.default_rng(3)
    pre = nn.Linear(3, 4, rng=1, name="pre")
    block = nn.Residual(nn.Sequential(nn.Linear(4, 4, rng=2), nn.Tanh()), name="res")
    x = Tensor(rng.standard_normal((5, 3)), label="x")
    h = pre(x)
    y = block(h)
    R = rng.standard_normal((5, 4))
    loss = (y * Tensor(R)).sum()
    loss.backward()
    # by hand: y = h + tanh(h W + b), g = ∂L/∂y = R
    W, b = block.block[0].weight.data, block.block[0].bias.data
    t = np.tanh(h.data @ W + b)
    branch = ((1 - t**2) * R) @ W.T  # Jᵀg through the branch
    assert np.allclose(h.grad, R + branch)  # the two routes add up at the block's input
    layers = trace(loss).layers()
    by_name = {layer.name: layer for layer in layers}
    join = by_name["L2 Residual"]
    assert join.grad_norm == pytest.approx(norm(R), rel=1e-12)
    skip = next(r for r in join.routes if r.source is by_name["L1 Linear 3→4"])
    assert skip.gain == pytest.approx(1.0, rel=1e-12)  # the skip passes g unchanged
    assert skip.flow_norm == pytest.approx(norm(R), rel=1e-12)
    linear, tanh = by_name["L2 Linear 4→4"], by_name["L2 Tanh"]
    assert join.below is tanh  # the join passes its gradient down the branch first
    branch_gain = linear.gain * tanh.gain
    assert branch_gain == pytest.approx(norm(branch) / norm(R), rel=1e-9)
    assert by_name["L1 Linear 3→4"].grad_norm == pytest.approx(norm(R + branch), rel=1e-12)
    scene = build_scene(loss, group="layers")
    skips = [e for e in scene.edges if ("", "skip") in e.rows]
    assert len(skips) == 1 and skips[0].gain == pytest.approx(1.0)


def test_two_routes_between_steps_each_have_their_gain():
    """A recurrent-style step reads two tensors of the step before (h and c): two routes, and the
    step's gain is that of the state (h, c) as one vector."""
    rng = np.random.default_rng(0)
    f = Tensor(rng.uniform(0.5, 1.0, 4), label="f")
    W = Tensor(rng.standard_normal((4, 4)) * 0.5, requires_grad=True, label="W")
    h = Tensor(rng.standard_normal(4), requires_grad=True, label="h0")
    c = Tensor(rng.standard_normal(4), requires_grad=True, label="c0")
    states = []
    for t in range(1, 4):
        with name_scope(f"t={t}"):
            c = c * f + (h @ W).tanh()
            h = c.tanh()
        states.append((h, c))
    loss = (h * Tensor(rng.standard_normal(4))).sum()
    loss.backward()
    steps = [layer for layer in trace(loss).layers() if layer.is_layer]
    assert [s.name for s in steps] == ["L1 t=1", "L2 t=2", "L3 t=3"]
    for k in (1, 2):
        step = steps[k]
        (h_prev, c_prev), (h_now, c_now) = states[k - 1], states[k]
        handed_on = [h_now, c_now] if k < 2 else [h_now]  # the last step hands on h only
        assert {id(n) for n in step.outputs} == {id(n) for n in handed_on}
        assert step.grad_norm == pytest.approx(math.hypot(*(norm(s.grad) for s in handed_on)), rel=1e-12)
        # what step t passes down: all of ∂L/∂h_{t−1} (step t is h's only reader), and f ⊙ ∂L/∂c_t to
        # c_{t−1} (whose .grad also holds what flowed back through h_{t−1} = tanh(c_{t−1}))
        passed_c = f.data * c_now.grad
        assert step.input_grad_norm == pytest.approx(math.hypot(norm(h_prev.grad), norm(passed_c)), rel=1e-12)
        below = [r for r in step.routes if r.source is steps[k - 1]]
        assert {id(r.node) for r in below} == {id(h_prev), id(c_prev)}  # f is read from the input
        cell = next(r for r in step.routes if r.node is c_prev)
        assert len(cell.edges) == 1 and cell.edges[0].child.op == "mul"  # the cell path: local f
        assert cell.flow_norm == pytest.approx(norm(passed_c), rel=1e-12)
        assert step.param_grad_norms["W"] > 0  # this step's share of ∂L/∂W, not the whole W.grad
    shares = []  # each step's share of ∂L/∂W: Σ local × upstream over its edges from W
    for step in steps:
        edges = [e for e in trace(loss).edges if e.parent is W and e.child in step.nodes]
        shares.append(sum(e.local * e.child.grad for e in edges))
    assert np.allclose(sum(shares), W.grad)
    for step, share in zip(steps, shares):
        assert step.param_grad_norms["W"] == pytest.approx(norm(share), rel=1e-12)
    scene = build_scene(loss, group="layers")
    between = [e for e in scene.edges if e.tail == "g2" and e.head == "g3"]
    assert len(between) == 2  # h and c drawn apart


def test_scalar_mlp_layers_follow_the_neurons_gradients():
    net = ScalarMLP(2, [3, 3, 1], activation="tanh", rng=0)
    x = [Value(1.0, label="x1"), Value(-2.0, label="x2")]
    y = net(x)
    loss = (y - 1.0) ** 2
    loss.backward()
    layers = trace(loss).layers()
    assert [layer.name for layer in layers] == [
        "input",
        "L1 Layer 2→3 tanh",
        "L2 Layer 3→3 tanh",
        "L3 Layer 3→1 linear",
        "loss",
    ]
    acts = [[n.last_output for n in layer.neurons] for layer in net.layers]
    grads = [math.sqrt(sum(a.grad**2 for a in layer)) for layer in acts]
    for layer, g in zip(layers[1:4], grads):
        assert layer.grad_norm == pytest.approx(g, rel=1e-12)
    assert layers[2].gain == pytest.approx(grads[0] / grads[1], rel=1e-12)
    assert layers[1].input_grad_norm == pytest.approx(math.hypot(x[0].grad, x[1].grad), rel=1e-12)
    w1 = [w for neuron in net.layers[0].neurons for w in neuron.w]
    assert layers[1].param_grad_norms["w1"] == pytest.approx(math.sqrt(sum(w.grad**2 for w in w1)), rel=1e-12)
    assert {w.label for w in w1} == {f"w1[{j},{i}]" for j in range(3) for i in range(2)}


def test_large_scalar_mlp_groups_by_layer_never_by_neuron():
    net = ScalarMLP(4, [8, 8, 8, 1], activation="tanh", rng=0)
    loss = net([0.5, -1.0, 0.25, 2.0]) ** 2
    loss.backward()
    scene = build_scene(loss)  # above the default cap of 200 nodes
    assert scene.grouped == "layers"
    assert [v.title for v in scene.nodes] == [
        "L1 Layer 4→8 tanh",
        "L2 Layer 8→8 tanh",
        "L3 Layer 8→8 tanh",
        "L4 Layer 8→1 linear",
        "loss",
    ]


def test_plain_name_scope_code_has_params_inputs_and_a_loss():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 2)), label="x")
    W = Tensor(rng.standard_normal((2, 2)), requires_grad=True, label="W")
    with name_scope("hidden"):
        h = (x @ W).tanh()
    loss = h.sum()
    loss.backward()
    input_, hidden, end = trace(loss).layers()
    assert (input_.name, hidden.name, end.name) == ("input", "L1 hidden", "loss")
    assert hidden.param_grad_norms == {"W": pytest.approx(norm(W.grad), rel=1e-12)}
    assert input_.nodes == [x] and hidden.gain is None  # x needs no gradient
    assert end.gain == pytest.approx(norm(h.grad) / 1.0)


def test_layers_before_backward_have_no_numbers():
    net = nn.MLP([2, 3, 1], activation="tanh", rng=0)
    loss = net(Tensor(np.ones((1, 2)))).sum()
    layers = trace(loss).layers()
    assert all(layer.grad_norm is None and layer.gain is None for layer in layers)


def test_tensor_chain_rule_text_prints_the_path_formulas():
    x = Tensor(np.array([[1.0, -2.0, 0.5]]), label="x")
    W = Tensor(np.array([[0.5], [0.25], [-1.0]]), requires_grad=True, label="weight")
    loss = (x @ W).relu().sum()
    loss.backward()
    text = trace(loss).chain_rule_text(W)
    assert "None" not in text and "MatmulRight" not in text
    assert "xᵀ·" in text  # ∂(x @ weight)/∂weight, in the graph's names
    assert f"‖·‖ = {fmt(norm(W.grad))}" in text


@pytest.mark.parametrize("group", ["layers", "depth", None])
def test_every_view_renders(tmp_path, group):
    net = ScalarMLP(2, [3, 1], activation="tanh", rng=0)
    loss = net([Value(1.0, label="x1"), Value(-2.0, label="x2")]) ** 2
    loss.backward()
    path = viz.render(loss, tmp_path / f"view_{group}.svg", group=group)
    text = path.read_text()
    assert text.startswith("<?xml")
    # one frame (ungrouped) or box (grouped) per layer; bands say they are depths
    assert ("depth" if group == "depth" else "L1 Layer 2→3 tanh") in text
