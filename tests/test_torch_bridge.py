"""The PyTorch bridge: from_torch's graph holds torch's own gradients, scopes name modules, pictures render.

Every gradient of the graph is compared with one obtained *without* the bridge: ``retain_grad()``
on the forward's intermediate tensors, the parameters' ``.grad``, or a hand derivation of the
op's vector-Jacobian product (``δ·W`` for a linear layer, ``1[x>0]⊙δ`` for ReLU).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from viz_helpers import ON_CI, needs_renderer

try:
    import torch
    from torch import nn
except ImportError:  # CI installs the torch extra: there a missing torch must fail, not skip
    if ON_CI:
        raise
    pytest.skip('torch is not installed (pip install "tinygrad_edu[torch]")', allow_module_level=True)

import viz
from tinygrad_edu import TinygradEduError, from_torch, torch_scopes
from tinygrad_edu.errors import TorchGraphError, TorchUnavailable
from tinygrad_edu.graph import norm
from tinygrad_edu.torch_bridge import RecordedLocal, op_name, require_torch

CLOSE = {"rtol": 1e-5, "atol": 1e-7}


class ResidualNet(nn.Module):
    """Linear → BatchNorm → ReLU → Linear (+ skip) → tanh → Linear, keeping every intermediate."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 6)
        self.fc3 = nn.Linear(6, 3)
        self.kept: dict = {}

    def keep(self, name, t):
        t.retain_grad()
        self.kept[name] = t
        return t

    def forward(self, x):
        h = self.keep("h", self.fc1(x))
        b = self.keep("b", self.bn(h))
        r = self.keep("r", torch.relu(b))
        z = self.keep("z", self.fc2(r))
        s = self.keep("s", z + r)  # r is used twice: by fc2 and by the skip
        t = self.keep("t", torch.tanh(s))
        return self.keep("out", self.fc3(t))


def residual_case(scoped: bool = True):
    torch.manual_seed(0)
    model = ResidualNet()
    x = torch.randn(8, 4)
    y = torch.randint(0, 3, (8,))
    if scoped:
        with torch_scopes(model):
            out = model(x)
    else:
        out = model(x)
    log_p = model.keep("log_p", nn.functional.log_softmax(out, dim=1))
    loss = model.keep("loss", nn.functional.nll_loss(log_p, y))
    return model, loss


def by_sequence(graph) -> dict:
    return {n.sequence_nr: n for n in graph.nodes if n.sequence_nr >= 0}


def test_node_gradients_are_torchs_own():
    model, loss = residual_case()
    graph = from_torch(loss, model)
    nodes = by_sequence(graph)
    for name, tensor in model.kept.items():
        node = nodes[tensor.grad_fn._sequence_nr()]
        assert node.grad is not None, name
        np.testing.assert_allclose(node.grad, tensor.grad.numpy(), **CLOSE, err_msg=name)
    params = dict(model.named_parameters())
    leaves = [n for n in graph.nodes if n.kind == "parameter"]
    assert sorted(n.name for n in leaves) == sorted(params)
    assert all(n.label == n.name.rsplit(".", 1)[-1] for n in leaves)  # "weight", as our modules say
    for leaf in leaves:
        np.testing.assert_allclose(leaf.grad, params[leaf.name].grad.numpy(), **CLOSE)


def test_every_edge_carries_the_gradient_that_flowed():
    """Per parent, the contributions of its edges add up to its gradient (retain_grad / .grad);
    a parent with one edge therefore has that edge's norm equal to its gradient's norm."""
    model, loss = residual_case()
    graph = from_torch(loss, model)
    out_edges: dict = {}
    for edge in graph.edges:
        out_edges.setdefault(edge.parent, []).append(edge)
    reference = {}
    nodes = by_sequence(graph)
    for tensor in model.kept.values():
        reference[nodes[tensor.grad_fn._sequence_nr()]] = tensor.grad.numpy()
    params = dict(model.named_parameters())
    for node in graph.nodes:
        if node.kind == "parameter":
            reference[node] = params[node.name].grad.numpy()
        elif node.op == "t":  # weight.t(): ∂L/∂Wᵀ = (∂L/∂W)ᵀ
            (weight,) = node.parents
            reference[node] = params[weight.name].grad.numpy().T
    checked = 0
    for parent, edges in out_edges.items():
        if parent.kind == "constant":
            assert all(e.contribution is None and e.gain is None for e in edges)
            continue
        total = sum(e.contribution for e in edges)
        np.testing.assert_allclose(total, reference[parent], **CLOSE)
        if len(edges) == 1:
            assert math.isclose(norm(edges[0].contribution), norm(reference[parent]), rel_tol=1e-5)
        for e in edges:  # the gain is ‖flowed‖ / ‖∂L/∂child‖ with the child's own gradient
            child_grad = reference.get(e.child, e.child.grad)
            assert math.isclose(e.gain, norm(e.contribution) / norm(child_grad), rel_tol=1e-5)
        checked += len(edges)
    assert checked == len([e for e in graph.edges if e.parent.kind != "constant"])


def test_edges_of_a_twice_used_tensor_by_hand():
    """r feeds fc2 and the skip add: the skip edge passes ∂L/∂s unchanged (local 1), the fc2
    edge sends ∂L/∂z · W₂ (z = r W₂ᵀ + b₂); the ReLU edge sends 1[b>0] ⊙ ∂L/∂r."""
    model, loss = residual_case()
    graph = from_torch(loss, model)
    k = model.kept
    nodes = by_sequence(graph)
    r = nodes[k["r"].grad_fn._sequence_nr()]
    into = {e.child.op: e for e in graph.edges if e.parent is r}
    assert set(into) == {"add", "addmm"}
    np.testing.assert_allclose(into["add"].contribution, k["s"].grad.numpy(), **CLOSE)
    by_hand = k["z"].grad.numpy() @ model.fc2.weight.detach().numpy()
    np.testing.assert_allclose(into["addmm"].contribution, by_hand, **CLOSE)
    relu_edge = next(e for e in graph.edges if e.child is r)
    by_hand = (k["b"].detach().numpy() > 0) * k["r"].grad.numpy()
    np.testing.assert_allclose(relu_edge.contribution, by_hand, **CLOSE)
    # the recovered elementwise local is 1[b>0] where the upstream is nonzero
    local = relu_edge.local.elementwise
    known = k["r"].grad.numpy() != 0
    np.testing.assert_array_equal(local[known], (k["b"].detach().numpy() > 0)[known].astype(local.dtype))
    assert np.isnan(local[~known]).all()


def test_edges_follow_next_functions_order_and_ops_are_readable():
    model, loss = residual_case()
    graph = from_torch(loss, model)
    nodes = by_sequence(graph)
    for tensor in model.kept.values():
        fn = tensor.grad_fn
        node = nodes[fn._sequence_nr()]
        assert node.torch_name == type(fn).__name__
        expected = [type(c).__name__ if c is not None else "" for c, _ in fn.next_functions]
        assert [p.torch_name for p in node.parents] == expected
    assert {n.op for n in graph.nodes} >= {"addmm", "native_batch_norm", "relu", "tanh", "add", "nll_loss"}
    assert op_name("AddmmBackward0") == "addmm"
    assert op_name("NativeBatchNormBackward0") == "native_batch_norm"
    assert op_name("CopySlices") == "copy_slices"
    no_grad = [n for n in graph.nodes if n.kind == "constant"]
    assert [n.label for n in no_grad] == ["no grad"]  # the batch x, into fc1's addmm
    assert graph.root.label == "loss" and float(graph.root.data) == pytest.approx(loss.item())


def test_layers_equal_those_of_our_mlp_with_the_same_weights():
    """Graph.layers() of a torch MLP and of our nn MLP given its weights: same layers, same
    ‖∂L/∂out‖, the same gradient passed down, gains and parameter gradients (float32 vs float64)."""
    from tinygrad_edu import Tensor, cross_entropy, trace
    from tinygrad_edu import nn as ours

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(6, 4), torch.arange(6) % 3
    with torch_scopes(model):
        loss = nn.functional.cross_entropy(model(x), y)
    theirs = from_torch(loss, model).layers()
    mlp = ours.Sequential(
        ours.Linear(4, 8), ours.Sigmoid(), ours.Linear(8, 8), ours.Tanh(), ours.Linear(8, 3)
    )
    state = {  # our Linear keeps W as (in, out): x @ W; torch's as (out, in): x @ Wᵀ
        f"{k}.{name}": (p.detach().numpy().T if name == "weight" else p.detach().numpy()).astype(np.float64)
        for k, module in enumerate(model)
        for name, p in module.named_parameters()
    }
    mlp.load_state_dict(state)
    mine_loss = cross_entropy(mlp(Tensor(x.numpy().astype(np.float64))), y.numpy())
    mine_loss.backward()
    mine = trace(mine_loss).layers()
    assert [L.name for L in theirs] == [L.name for L in mine]
    assert [L.name for L in theirs][1:3] == ["L1 Linear 4→8", "L1 Sigmoid"]
    for a, b in zip(theirs, mine):
        for key in ("grad_norm", "input_grad_norm", "gain"):
            if getattr(b, key) is None:
                assert getattr(a, key) is None, (a.name, key)
            else:
                assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-4), (a.name, key)
        assert a.param_grad_norms.keys() == b.param_grad_norms.keys()
        for key, value in b.param_grad_norms.items():
            assert a.param_grad_norms[key] == pytest.approx(value, rel=1e-4), (a.name, key)


def test_scopes_name_the_module_call_that_made_each_node():
    model, loss = residual_case()
    graph = from_torch(loss, model)
    nodes = by_sequence(graph)
    scope = {name: nodes[t.grad_fn._sequence_nr()].scope for name, t in model.kept.items()}
    assert scope == {
        "h": "residualnet.fc1",
        "b": "residualnet.bn",
        "r": "residualnet",  # torch.relu in ResidualNet.forward itself
        "z": "residualnet.fc2",
        "s": "residualnet",
        "t": "residualnet",
        "out": "residualnet.fc3",
        "log_p": "",  # the loss ran outside the model
        "loss": "",
    }
    for node in graph.nodes:
        if node.op == "t":  # weight.t() inside F.linear belongs to the layer too
            assert node.scope == node.parents[0].scope
        if node.kind == "parameter":
            assert node.scope == "residualnet." + node.name.split(".")[0]
    # module outputs carry the value they had then; inner nodes say nothing
    np.testing.assert_allclose(nodes[model.kept["h"].grad_fn._sequence_nr()].data, model.kept["h"].detach())


def test_own_ops_between_child_calls_are_layers_of_their_own():
    """ResidualNet.forward applies relu between bn and fc2, and add + tanh after fc2: two
    segments of its own, each a layer between its neighbours, and the skip is a route."""
    model, loss = residual_case()
    layers = from_torch(loss, model).layers()
    assert [L.name for L in layers] == [
        "input",
        "L1 Linear 4→6",
        "L2 BatchNorm1d",
        "L2 ResidualNet relu",
        "L3 Linear 6→6",
        "L3 ResidualNet add+tanh",
        "L4 Linear 6→3",
        "loss",
    ]
    block = layers[5]
    assert [r.source.name for r in block.routes] == ["L3 Linear 6→6", "L2 ResidualNet relu"]
    skip = block.routes[1]  # the skip passes ∂L/∂s on unchanged: ‖flow‖ = ‖∂L/∂s‖
    assert skip.flow_norm == pytest.approx(model.kept["s"].grad.norm().item(), rel=1e-5)


def test_without_torch_scopes_parameters_place_their_ops():
    model, loss = residual_case(scoped=False)
    graph = from_torch(loss, model)
    nodes = by_sequence(graph)
    scope = {name: nodes[t.grad_fn._sequence_nr()].scope for name, t in model.kept.items()}
    assert scope["h"] == "residualnet.fc1" and scope["z"] == "residualnet.fc2"
    assert scope["b"] == "residualnet.bn"
    assert scope["r"] == scope["s"] == scope["t"] == ""  # no parameter says where these ran
    assert all(n.data is None for n in graph.nodes if n.kind == "op" and n is not graph.root)


def test_in_place_relu_and_views_keep_the_values_they_had():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(inplace=True), nn.Flatten(0), nn.Linear(20, 2))
    x = torch.randn(4, 3)
    with torch_scopes(model):
        pre = model[0](x)
        kept = pre.detach().clone()
        fn = pre.grad_fn
        out = model[3](model[2](model[1](pre)))  # relu_ rewrites pre in place
    loss = out.pow(2).sum()
    graph = from_torch(loss, model)
    addmm = by_sequence(graph)[fn._sequence_nr()]
    np.testing.assert_array_equal(addmm.data, kept.numpy())  # negatives: the value before relu_
    assert (addmm.data < 0).any()
    assert {"relu", "view"} <= {n.op for n in graph.nodes}
    for leaf in (n for n in graph.nodes if n.kind == "parameter"):
        np.testing.assert_allclose(leaf.grad, dict(model.named_parameters())[leaf.name].grad.numpy())


def test_lstm_several_outputs_are_one_gradient_vector():
    torch.manual_seed(2)
    lstm = nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with torch_scopes(lstm):
        out, (h, c) = lstm(x)
    loss = out.sum() + (h**2).sum()
    graph = from_torch(loss, lstm)
    multi = [n for n in graph.nodes if sum(g is not None for g in n.output_grads) > 1]
    assert multi, "the LSTM layer node has several outputs with gradients"
    for node in multi:
        parts = [g for g in node.output_grads if g is not None]
        assert norm(node.grad) == pytest.approx(math.sqrt(sum(norm(g) ** 2 for g in parts)), rel=1e-6)
    params = dict(lstm.named_parameters())
    for leaf in (n for n in graph.nodes if n.kind == "parameter"):
        flowed = sum(e.contribution for e in graph.edges if e.parent is leaf)
        np.testing.assert_allclose(flowed, params[leaf.name].grad.numpy(), **CLOSE)


def test_the_graph_keeps_its_gradients_when_torch_tensors_change_later():
    model, loss = residual_case()
    graph = from_torch(loss, model)
    saved = {n: n.grad.copy() for n in graph.nodes if n.grad is not None}
    flowed = {e: e.contribution.copy() for e in graph.edges if e.contribution is not None}
    for p in model.parameters():
        p.grad.zero_()  # optimizer.zero_grad(set_to_none=False) zeroes in place
    for t in model.kept.values():
        t.grad.mul_(100.0)  # a user scribbling on retained gradients
    for node, grad in saved.items():
        np.testing.assert_array_equal(node.grad, grad)
    for edge, contribution in flowed.items():
        np.testing.assert_array_equal(edge.contribution, contribution)


def test_the_hooks_are_removed_and_retain_graph_allows_a_second_look():
    model, loss = residual_case()
    first = from_torch(loss, model, retain_graph=True)
    second = from_torch(loss, model)  # hooks of the first call are gone: one record each
    for a, b in zip(first.nodes, second.nodes):
        if a.grad is not None:
            np.testing.assert_allclose(a.grad, b.grad)
    with pytest.raises(TorchGraphError, match="already freed"):
        from_torch(loss, model)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda m, x: m(x), TorchGraphError, r"single number, got shape \(2, 1\)"),
        (lambda m, x: torch.ones(()), TorchGraphError, "no backward graph"),
        (lambda m, x: torch.ones((), requires_grad=True), TorchGraphError, "leaf tensor"),
        (lambda m, x: 3.0, TypeError, "expected a torch.Tensor loss, got float"),
    ],
)
def test_bad_losses_are_refused_before_anything_runs(make, error, match):
    model = nn.Linear(3, 1)
    with pytest.raises(error, match=match):
        from_torch(make(model, torch.randn(2, 3)), model)
    assert model.weight.grad is None
    assert issubclass(TorchGraphError, TinygradEduError) and issubclass(TorchGraphError, ValueError)


def test_bad_models_are_refused():
    x = torch.randn(2, 3)
    net = nn.Linear(3, 1)
    loss = net(x).sum()
    with pytest.raises(TorchGraphError, match="ReLU has no parameters"):
        from_torch(loss, nn.ReLU())
    with pytest.raises(TorchGraphError, match="does not depend on any parameter of Linear"):
        from_torch(loss, nn.Linear(3, 1))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        from_torch(loss, "model")
    assert net.weight.grad is None  # nothing ran
    with pytest.raises(TypeError, match="torch.nn.Module"):
        with torch_scopes(object()):
            pass


def test_missing_torch_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(TorchUnavailable, match=r'pip install "tinygrad_edu\[torch\]"'):
        require_torch()
    with pytest.raises(ImportError):
        from_torch(None)


def test_recorded_local_returns_the_recorded_contribution():
    contribution = np.array([0.5, 0.0, -2.0])
    upstream = np.array([1.0, 0.0, 4.0])
    local = RecordedLocal("mul", contribution, upstream)
    assert local * upstream is contribution and upstream * local is contribution
    np.testing.assert_array_equal(local.elementwise[[0, 2]], [0.5, -0.5])
    assert np.isnan(local.elementwise[1])  # upstream 0: the recording says nothing there
    assert "on 2/3" in local.summary()
    assert RecordedLocal("addmm", contribution, upstream).elementwise is None


# --- pictures ----------------------------------------------------------------------------------


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(3 * 3 * 3, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.bn(self.conv(x)))), 1))


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(x + self.fc2(torch.relu(self.fc1(x))))


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def picture_case(kind):
    torch.manual_seed(3)
    if kind == "mlp":
        model, x = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3)), torch.randn(6, 4)
    elif kind == "cnn":
        model, x = SmallCNN(), torch.randn(2, 1, 8, 8)
    elif kind == "residual":
        blocks = [Block(8) for _ in range(12)]
        model, x = nn.Sequential(nn.Linear(4, 8), *blocks, nn.Linear(8, 3)), torch.randn(6, 4)
    else:
        model, x = LSTMHead(), torch.randn(3, 4, 3)
    with torch_scopes(model, units=Block):  # a block is one layer: one box per block
        out = model(x)
    loss = nn.functional.cross_entropy(out, torch.arange(out.shape[0]) % out.shape[1])
    return model, from_torch(loss, model)


@needs_renderer
@pytest.mark.parametrize("kind", ["mlp", "cnn", "residual", "lstm"])
def test_pictures_render(kind, tmp_path):
    model, graph = picture_case(kind)
    group = "layers" if kind == "residual" else "auto"
    scene = viz.build_scene(graph, group=group)
    if kind == "residual":  # one box per block: input, Linear, 12 blocks, Linear, loss
        assert scene.grouped == "layers"
        titles = [n.title for n in scene.nodes]
        blocks = [f"L{k} Block" for k in range(2, 14)]
        assert titles == ["input", "L1 Linear 4→8", *blocks, "L14 Linear 8→3", "loss"]
    else:
        assert scene.grouped is None
        flowed = [e for e in scene.edges if e.magnitude is not None]
        assert flowed and all(any(name == "gain" for name, _ in e.rows) for e in flowed)
    path = viz.render(graph, tmp_path / f"{kind}.png", group=group)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gradient_flow_chart_reads_the_torch_graph(tmp_path):
    if not ON_CI:
        pytest.importorskip("matplotlib")
    model, graph = picture_case("residual")
    layers = [layer for layer in graph.layers() if layer.is_layer]
    assert len(layers) == 14  # a Linear, 12 blocks, a Linear
    for layer in layers:  # ‖∂L/∂out‖ of a block is ‖∂L/∂(the block's output tensor)‖
        (out,) = layer.outputs
        assert layer.grad_norm == pytest.approx(norm(out.grad), rel=1e-12)
    series = viz.layer_norms(graph)
    assert list(series.values()) == pytest.approx([layer.grad_norm for layer in layers])
    viz.gradient_flow_chart(graph, tmp_path / "flow.svg")


# --- the command line --------------------------------------------------------------------------


def test_cli_draws_and_diagnoses_a_script(capsys, tmp_path):
    from tinygrad_edu.cli import main

    code = main(
        ["torch", "examples/torch_model.py:make_model_and_loss", "--out", str(tmp_path), "--format", "dot"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Diagnosis: VANISHING" in out
    assert "  L1 Sigmoid " in out and "×0.24" in out  # a sigmoid layer's gain: σ' ≤ 1/4
    # 6 Linear layers (addmm + t each), 5 sigmoids, log_softmax and nll_loss: 19 autograd nodes
    assert out.startswith("Sequential: 19 autograd nodes")
    dot = (tmp_path / "torch_graph.dot").read_text()
    assert "addmm" in dot and "gain" in dot


@pytest.mark.parametrize(
    "target, message",
    [
        ("examples/torch_model.py", "expected SCRIPT.py:FUNCTION"),
        ("examples/missing.py:f", "is not a Python file"),
        ("examples/torch_model.py:nothing", "has no function 'nothing'"),
        ("{tmp}/wrong.py:f", "must return (model, loss) with a torch.nn.Module first, got int"),
    ],
)
def test_cli_bad_targets_exit_2(capsys, tmp_path, target, message):
    from tinygrad_edu.cli import main

    (tmp_path / "wrong.py").write_text("def f():\n    return 3\n")
    target = target.format(tmp=tmp_path)
    code = main(["torch", target, "--out", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and "Traceback" not in err


@needs_renderer
def test_the_example_script_runs(tmp_path, monkeypatch, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "torch_model.py"
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    assert "Diagnosis: VANISHING" in capsys.readouterr().out
    assert (tmp_path / "torch_model.svg").stat().st_size > 1000


def test_replaying_backward_is_refused_with_a_reason():
    """Graph.backward_steps() (what the viewer steps through) checks every gradient against its
    node's value shape; torch keeps no values of inner nodes, and a several-output node's
    gradients do not sum into one: both refuse with a GradError and change nothing."""
    model, loss = residual_case()
    graph = from_torch(loss, model)
    before = {n: n.grad for n in graph.nodes}
    with pytest.raises(TinygradEduError, match="torch kept no value"):
        list(graph.backward_steps())
    assert all(n.grad is before[n] for n in graph.nodes)
    torch.manual_seed(2)
    lstm = nn.LSTM(3, 4)
    out, (h, _) = lstm(torch.randn(5, 2, 3))
    graph = from_torch(out.sum() + (h**2).sum(), lstm)
    with pytest.raises(TinygradEduError, match="several outputs"):
        list(graph.backward_steps())


def test_torch_scopes_survives_a_forward_that_raised():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch_scopes(model):
        with pytest.raises(RuntimeError):
            model(torch.randn(2, 5))  # wrong width: fails inside sequential.0
        out = model(torch.randn(2, 3))
    graph = from_torch(out.sum(), model)
    scopes = {n.op: n.scope for n in graph.nodes if n.kind == "op"}
    assert scopes["relu"] == "sequential.1" and scopes["sum"] == ""
    assert sorted({n.scope for n in graph.nodes if n.op == "addmm"}) == ["sequential.0", "sequential.2"]


def test_our_formulas_are_shown_only_where_they_are_torchs():
    """A torch op may carry our op's name (and formula) only where that formula holds: torch's
    pow with a number exponent, mean (whose 1/n needs a shape we do not have), add with alpha and
    the losses (with their reduction) are "torch.<name>", which has no formula."""
    w = torch.randn(3, 4, requires_grad=True)
    y = (w.tanh().mean(0) ** 3).sum() + torch.add(w, w.exp(), alpha=2.0).sum()
    y = y + nn.functional.mse_loss(w, torch.zeros(3, 4), reduction="sum")
    graph = from_torch(y)
    ops = {e.child.op: e for e in graph.edges}
    assert {"torch.mean", "torch.pow", "torch.add", "torch.mse_loss", "tanh", "add", "exp"} <= set(ops)
    for name in ("torch.mean", "torch.pow", "torch.add", "torch.mse_loss"):
        assert ops[name].formula == ""
    assert ops["tanh"].formula == "1 − tanh²(input)"
    # the recorded elementwise local still says what torch did: 3·mean² for the power, 2 for alpha
    power = ops["torch.pow"]
    mean = w.detach().tanh().mean(0).numpy()
    np.testing.assert_allclose(power.local.elementwise, 3 * mean**2, rtol=1e-5)
    alpha = next(e for e in graph.edges if e.child.op == "torch.add" and e.index == 1)
    np.testing.assert_allclose(alpha.local.elementwise, 2.0)
