"""nn.RNNCell/LSTMCell/GRUCell and nn.RNN/LSTM/GRU: PyTorch's layout, hand-derived steps, gradcheck,
scopes per time step, long sequences, and the errors on bad input."""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, nn, trace
from tinygrad_edu.testing import gradcheck

ON_CI = bool(os.environ.get("CI"))
HAS_TORCH = importlib.util.find_spec("torch") is not None


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def load(module, **arrays):
    module.load_state_dict({k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
    return module


# --- the PyTorch layout ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_parameter_names_and_shapes_follow_pytorch(kind, gates):
    cell = getattr(nn, f"{kind}Cell")(3, 5, rng=0)
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        "weight_ih": (gates * 5, 3),
        "weight_hh": (gates * 5, 5),
        "bias_ih": (gates * 5,),
        "bias_hh": (gates * 5,),
    }
    seq = getattr(nn, kind)(3, 5, num_layers=2, rng=0)
    assert [(n, p.shape) for n, p in seq.named_parameters()] == [
        ("weight_ih_l0", (gates * 5, 3)),
        ("weight_hh_l0", (gates * 5, 5)),
        ("bias_ih_l0", (gates * 5,)),
        ("bias_hh_l0", (gates * 5,)),
        ("weight_ih_l1", (gates * 5, 5)),
        ("weight_hh_l1", (gates * 5, 5)),
        ("bias_ih_l1", (gates * 5,)),
        ("bias_hh_l1", (gates * 5,)),
    ]
    assert [n for n, _ in getattr(nn, kind)(3, 5, bias=False).named_parameters()] == [
        "weight_ih_l0",
        "weight_hh_l0",
    ]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_default_init_is_uniform_within_one_over_sqrt_hidden(kind):
    H = 16
    model = getattr(nn, kind)(4, H, num_layers=2, rng=1)
    bound = 1 / math.sqrt(H)  # 0.25
    for name, p in model.named_parameters():
        assert np.all(np.abs(p.data) <= bound), name
    pooled = np.concatenate([p.data.ravel() for p in model.parameters()])  # ≥ 1 100 draws of U(−a, a)
    assert np.max(np.abs(pooled)) > 0.99 * bound  # P(all inside 0.99a) = 0.99^1100 ≈ 2e-5
    std = bound / math.sqrt(3)  # of U(−a, a)
    assert abs(np.mean(pooled)) < 5 * std / math.sqrt(pooled.size)
    assert abs(np.std(pooled) - std) < 0.05 * std


def test_returns_output_and_final_states_of_every_layer():
    x = Tensor(np.random.default_rng(0).normal(size=(7, 2, 3)))  # (T, B, I)
    out, h_n = nn.GRU(3, 4, num_layers=3, rng=0)(x)
    assert out.shape == (7, 2, 4) and h_n.shape == (3, 2, 4)
    out, (h_n, c_n) = nn.LSTM(3, 4, num_layers=2, rng=0)(x)
    assert out.shape == (7, 2, 4) and h_n.shape == (2, 2, 4) and c_n.shape == (2, 2, 4)
    # the last layer's final state is the last row of the output
    assert np.array_equal(h_n.data[-1], out.data[-1])


def test_batch_first_and_unbatched_inputs_give_the_same_numbers():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 3, 2))  # (T, B, I)
    h0 = rng.normal(size=(2, 3, 4))
    c0 = rng.normal(size=(2, 3, 4))
    time_first = nn.LSTM(2, 4, num_layers=2, rng=5)
    batch_first = nn.LSTM(2, 4, num_layers=2, batch_first=True, rng=5)
    out, (h, c) = time_first(Tensor(x), (Tensor(h0), Tensor(c0)))
    out_b, (h_b, c_b) = batch_first(Tensor(x.transpose(1, 0, 2)), (Tensor(h0), Tensor(c0)))
    assert out_b.shape == (3, 6, 4)
    np.testing.assert_allclose(out_b.data.transpose(1, 0, 2), out.data, rtol=0, atol=1e-15)
    np.testing.assert_allclose(h_b.data, h.data, rtol=0, atol=1e-15)
    one, (h1, c1) = time_first(Tensor(x[:, 1]), (Tensor(h0[:, 1]), Tensor(c0[:, 1])))
    assert one.shape == (6, 4) and h1.shape == (2, 4) and c1.shape == (2, 4)
    np.testing.assert_allclose(one.data, out.data[:, 1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(c1.data, c.data[:, 1], rtol=0, atol=1e-15)
    cell = nn.GRUCell(2, 4, rng=0)
    np.testing.assert_allclose(cell(Tensor(x[0, 1])).data, cell(Tensor(x[0])).data[1], rtol=0, atol=1e-15)


# --- one step, derived by hand ---------------------------------------------------------------------


def test_rnn_cell_step_by_hand():
    cell = load(
        nn.RNNCell(2, 2),
        weight_ih=[[0.5, -1.0], [0.25, 2.0]],
        weight_hh=[[1.0, 0.0], [0.5, -0.5]],
        bias_ih=[0.1, 0.0],
        bias_hh=[0.0, -0.2],
    )
    out = cell(Tensor([[1.0, 2.0]]), Tensor([[0.5, -1.0]]))
    # a_1 = 0.5·1 − 1·2 + 0.1 + 1·0.5 + 0·(−1) + 0       = −0.9
    # a_2 = 0.25·1 + 2·2 + 0 + 0.5·0.5 − 0.5·(−1) − 0.2   = 4.8
    np.testing.assert_allclose(out.data, [[math.tanh(-0.9), math.tanh(4.8)]], rtol=1e-14)
    relu = load(nn.RNNCell(2, 2, nonlinearity="relu"), **cell.state_dict())
    np.testing.assert_allclose(
        relu(Tensor([[1.0, 2.0]]), Tensor([[0.5, -1.0]])).data, [[0.0, 4.8]], rtol=1e-14
    )


def test_lstm_cell_step_by_hand_gate_order_i_f_g_o():
    cell = load(
        nn.LSTMCell(1, 1),
        weight_ih=[[0.5], [1.0], [-1.0], [2.0]],  # i, f, g, o
        weight_hh=[[0.1], [0.2], [0.3], [0.4]],
        bias_ih=[0.0, 1.0, 0.0, 0.0],
        bias_hh=[0.5, 0.0, 0.0, -1.0],
    )
    c_prev = Tensor([[3.0]], requires_grad=True)
    h, c = cell(Tensor([[2.0]]), (Tensor([[1.0]]), c_prev))
    i = sigmoid(0.5 * 2 + 0.1 * 1 + 0.0 + 0.5)  # σ(1.6)
    f = sigmoid(1.0 * 2 + 0.2 * 1 + 1.0 + 0.0)  # σ(3.2)
    g = math.tanh(-1.0 * 2 + 0.3 * 1)  # tanh(−1.7)
    o = sigmoid(2.0 * 2 + 0.4 * 1 - 1.0)  # σ(3.4)
    c_new = f * 3.0 + i * g
    np.testing.assert_allclose(c.data, [[c_new]], rtol=1e-14)
    np.testing.assert_allclose(h.data, [[o * math.tanh(c_new)]], rtol=1e-14)
    c.backward(np.ones((1, 1)))
    np.testing.assert_allclose(c_prev.grad, [[f]], rtol=1e-14)  # ∂c'/∂c = f: the cell path


def test_gru_cell_step_by_hand_reset_inside_the_hidden_part():
    cell = load(
        nn.GRUCell(1, 1),
        weight_ih=[[1.0], [-0.5], [2.0]],  # r, z, n
        weight_hh=[[0.5], [1.0], [-1.0]],
        bias_ih=[0.0, 0.25, 0.1],
        bias_hh=[0.2, 0.0, 0.3],
    )
    out = cell(Tensor([[1.0]]), Tensor([[0.5]]))
    r = sigmoid(1.0 + 0.5 * 0.5 + 0.0 + 0.2)  # σ(1.45)
    z = sigmoid(-0.5 + 0.25 + 1.0 * 0.5 + 0.0)  # σ(0.25)
    n = math.tanh(2.0 + 0.1 + r * (-1.0 * 0.5 + 0.3))  # r multiplies W_hn h + b_hn
    np.testing.assert_allclose(out.data, [[(1 - z) * n + z * 0.5]], rtol=1e-14)


def test_sequence_module_runs_its_steps_in_order():
    """Two steps of nn.RNN by hand: h_1 = tanh(w x_1 + u·0 + b), h_2 = tanh(w x_2 + u h_1 + b)."""
    rnn = load(nn.RNN(1, 1), weight_ih_l0=[[2.0]], weight_hh_l0=[[-0.5]], bias_ih_l0=[0.1], bias_hh_l0=[0.0])
    out, h_n = rnn(Tensor([[[1.0]], [[-1.0]]]))
    h1 = math.tanh(2.0 + 0.1)
    h2 = math.tanh(-2.0 - 0.5 * h1 + 0.1)
    np.testing.assert_allclose(out.data.ravel(), [h1, h2], rtol=1e-14)
    np.testing.assert_allclose(h_n.data.ravel(), [h2], rtol=1e-14)


# --- gradients -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cells_gradcheck(kind):
    rng = np.random.default_rng(3)
    cell = getattr(nn, f"{kind}Cell")(2, 3, rng=4)
    x = Tensor(rng.normal(size=(2, 2)), requires_grad=True)
    h = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    c = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    if kind == "LSTM":
        gradcheck(
            lambda x, h, c, *p: cell(x, (h, c))[0] * 2 + cell(x, (h, c))[1], x, h, c, *cell.parameters()
        )
    else:
        gradcheck(lambda x, h, *p: cell(x, h), x, h, *cell.parameters())


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_sequence_modules_gradcheck(kind):
    rng = np.random.default_rng(5)
    model = getattr(nn, kind)(2, 3, num_layers=2, batch_first=True, rng=6)
    x = Tensor(rng.normal(size=(2, 4, 2)), requires_grad=True)  # (B, T, I)
    h0 = Tensor(rng.normal(size=(2, 2, 3)), requires_grad=True)
    c0 = Tensor(rng.normal(size=(2, 2, 3)), requires_grad=True)

    def fn(x, h0, c0, *params):
        if kind == "LSTM":
            out, (h_n, c_n) = model(x, (h0, c0))
            return out.sum(axis=2) + (h_n * c_n).sum()
        out, h_n = model(x, h0)
        return out.sum(axis=2) + (h_n * h_n).sum()

    gradcheck(fn, x, h0, c0, *model.parameters())


def test_relu_rnn_gradcheck():
    rng = np.random.default_rng(7)
    model = nn.RNN(2, 3, nonlinearity="relu", rng=8)
    x = Tensor(rng.normal(size=(3, 2, 2)), requires_grad=True)
    gradcheck(lambda x, *p: model(x)[0], x, *model.parameters())


def test_a_thousand_steps_without_recursion():
    T = 1000
    model = nn.LSTM(1, 2, rng=0)
    x = Tensor(np.random.default_rng(0).normal(size=(T, 1, 1)), requires_grad=True)
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 60)  # a recursive walk over 1000 steps (≥ 20 000 nodes) would fail
    try:
        out, (h_n, c_n) = model(x)
        h_n.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    assert out.shape == (T, 1, 2) and x.grad.shape == (T, 1, 1)
    assert len(model.hidden_states[0]) == T and model.hidden_states[0][0].grad is not None


# --- time is a layer: one scope per step, the cell path as its own edge --------------------------


def test_every_step_runs_in_its_own_scope():
    model = nn.LSTM(2, 3, rng=0, name="lstm")
    out, _ = model(Tensor(np.ones((5, 1, 2))))
    graph = trace(out.sum())
    steps = {node.scope for node in graph.nodes if node.scope.startswith("lstm.t=")}
    assert steps == {f"lstm.t={t}" for t in range(1, 6)}
    for t, h in enumerate(model.hidden_states[0], start=1):
        assert h.scope == f"lstm.t={t}" and h.label == f"h_{t}"
    two = nn.GRU(2, 3, num_layers=2, rng=0, name="gru")
    two(Tensor(np.ones((3, 1, 2))))
    assert [h.scope for h in two.hidden_states[1]] == ["gru.l1.t=1", "gru.l1.t=2", "gru.l1.t=3"]


def test_lstm_cell_path_is_an_edge_whose_local_is_the_forget_gate():
    model = nn.LSTM(2, 3, rng=0, name="lstm")
    out, _ = model(Tensor(np.random.default_rng(1).normal(size=(4, 2, 2))))
    graph = trace(out.sum())
    cells = model.cell_states[0]
    for t in range(1, 4):
        edges = [e for e in graph.edges if e.parent is cells[t - 1] and e.child.op == "mul"]
        assert len(edges) == 1, t
        (edge,) = edges
        forget = next(p for p in edge.child.parents if p is not cells[t - 1])
        assert forget.label == f"f_{t + 1}" and edge.child.scope == f"lstm.t={t + 1}"
        np.testing.assert_array_equal(np.asarray(edge.local), forget.data)


# --- init options ----------------------------------------------------------------------------------


def test_init_options_orthogonal_identity_and_forget_bias():
    H = 6
    lstm = nn.LSTM(2, H, weight_hh_init="orthogonal", forget_bias=1.0, rng=0)
    w = lstm.weight_hh_l0.data
    for k in range(4):  # each gate's block is orthogonal
        block = w[k * H : (k + 1) * H]
        np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)
    np.testing.assert_array_equal(lstm.bias_ih_l0.data[H : 2 * H], 1.0)
    np.testing.assert_array_equal(lstm.bias_hh_l0.data[H : 2 * H], 0.0)
    assert np.all(np.abs(lstm.bias_ih_l0.data[:H]) <= 1 / math.sqrt(H))  # the other gates keep U(±1/√H)
    irnn = nn.RNN(2, H, nonlinearity="relu", weight_hh_init=nn.init.identity(gain=1.0), bias_init="zeros")
    np.testing.assert_array_equal(irnn.weight_hh_l0.data, np.eye(H))
    np.testing.assert_array_equal(irnn.bias_ih_l0.data, 0.0)
    with pytest.raises(ValueError, match=r"init.identity: needs a square 2-D array, got shape \(2, 3\)"):
        nn.init.identity(np.zeros((2, 3)))
    np.testing.assert_array_equal(nn.init.identity(np.zeros((2, 2)), gain=0.5), 0.5 * np.eye(2))
    scaled = nn.RNN(2, H, weight_hh_init=nn.init.orthogonal(gain=0.5), rng=1)
    np.testing.assert_allclose(np.linalg.svd(scaled.weight_hh_l0.data, compute_uv=False), 0.5, rtol=1e-12)


# --- bad input ------------------------------------------------------------------------------------


def test_bad_inputs_are_refused_naming_the_shapes():
    rnn = nn.RNN(3, 4, rng=0, name="rnn")
    with pytest.raises(ShapeError, match=r"input of shape \(5, 2, 7\) has 7 features .* input_size=3"):
        rnn(Tensor(np.zeros((5, 2, 7))))
    with pytest.raises(
        ShapeError, match=r"expected a 3-D input \(T, B, input_size\) .* got shape \(3,\) \(1-D\)"
    ):
        rnn(Tensor(np.zeros(3)))
    with pytest.raises(ShapeError, match=r"got shape \(1, 5, 2, 3\) \(4-D\)"):
        rnn(Tensor(np.zeros((1, 5, 2, 3))))
    with pytest.raises(ShapeError, match=r"expected h_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        rnn(Tensor(np.zeros((5, 2, 3))), Tensor(np.zeros((1, 3, 4))))
    with pytest.raises(ShapeError, match=r"expected h_0 of shape \(1, 2, 4\), got \(2, 2, 4\)"):
        rnn(Tensor(np.zeros((5, 2, 3))), Tensor(np.zeros((2, 2, 4))))
    # a (B, T, I) input fed to a time-first module: h_0's batch is the input's first axis
    with pytest.raises(
        ShapeError, match=r"got \(1, 8, 4\); its batch 8 matches axis 0 .* try batch_first=True"
    ):
        rnn(Tensor(np.zeros((8, 5, 3))), Tensor(np.zeros((1, 8, 4))))
    first = nn.GRU(3, 4, batch_first=True, name="gru")
    with pytest.raises(
        ShapeError, match=r"expected h_0 of shape \(1, 8, 4\), got \(1, 5, 4\); .* try batch_first=False"
    ):
        first(Tensor(np.zeros((8, 5, 3))), Tensor(np.zeros((1, 5, 4))))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        nn.LSTM(3, 4)(Tensor(np.zeros((5, 2, 3))), Tensor(np.zeros((1, 2, 4))))
    with pytest.raises(ShapeError, match=r"expected c_0 of shape \(1, 2, 4\), got \(1, 2, 5\)"):
        nn.LSTM(3, 4)(Tensor(np.zeros((5, 2, 3))), (Tensor(np.zeros((1, 2, 4))), Tensor(np.zeros((1, 2, 5)))))
    with pytest.raises(ShapeError, match=r"expected hx of shape \(2, 4\), got \(4,\)"):
        nn.RNNCell(3, 4)(Tensor(np.zeros((2, 3))), Tensor(np.zeros(4)))
    with pytest.raises(ShapeError, match=r"input of shape \(2, 5\) has 5 features"):
        nn.LSTMCell(3, 4)(Tensor(np.zeros((2, 5))))
    with pytest.raises(TypeError, match="input must be a Tensor, got list"):
        rnn([[1.0, 2.0, 3.0]])


def test_bad_settings_are_refused_before_anything_is_built():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        nn.LSTM(2, 0)
    with pytest.raises(ValueError, match="nonlinearity= applies to RNN and RNNCell only, got 'relu'"):
        nn.LSTM(2, 3, nonlinearity="relu")
    with pytest.raises(ValueError, match="LSTMCell: forget_bias must be a finite number, got nan"):
        nn.LSTMCell(2, 3, forget_bias=float("nan"))
    with pytest.raises(ValueError, match="forget_bias needs an LSTM"):
        nn.GRU(2, 3, forget_bias=1.0)
    with pytest.raises(NotImplementedError, match="bidirectional=True is not supported"):
        nn.GRU(2, 3, bidirectional=True)
    with pytest.raises(ValueError, match="unknown init 'orthognal'"):
        nn.RNN(2, 3, weight_hh_init="orthognal")


# --- against PyTorch (where it is installed; CI fails instead of skipping once it installs torch) ---


@pytest.mark.skipif(not HAS_TORCH and not ON_CI, reason="torch is not installed (pip install torch)")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_pytorch_state_dict_loads_and_agrees(kind):
    import torch

    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 5, num_layers=2, batch_first=True).double()
    ours = getattr(nn, kind)(3, 5, num_layers=2, batch_first=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(4, 6, 3))
    seed = np.random.default_rng(1).normal(size=(4, 6, 5))
    x_t = torch.tensor(x, requires_grad=True)
    out_t, state_t = theirs(x_t)
    x_o = Tensor(x, requires_grad=True)
    out_o, state_o = ours(x_o)
    (out_t * torch.tensor(seed)).sum().backward()
    (out_o * Tensor(seed)).sum().backward()
    np.testing.assert_allclose(out_o.data, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    h_t, h_o = (state_t[0], state_o[0]) if kind == "LSTM" else (state_t, state_o)
    np.testing.assert_allclose(h_o.data, h_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x_o.grad, x_t.grad.numpy(), rtol=1e-10, atol=1e-13)
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[name].grad, p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    cell_t = getattr(torch.nn, f"{kind}Cell")(3, 5).double()
    cell_o = getattr(nn, f"{kind}Cell")(3, 5)
    cell_o.load_state_dict({k: v.detach().numpy() for k, v in cell_t.state_dict().items()})
    a, b = cell_t(torch.tensor(x[:, 0])), cell_o(Tensor(x[:, 0]))
    a, b = (a[1], b[1]) if kind == "LSTM" else (a, b)
    np.testing.assert_allclose(b.data, a.detach().numpy(), rtol=1e-12, atol=1e-14)


# --- Graph.layers(): one layer per time step ---------------------------------------------------


def test_layers_give_one_layer_per_step_whose_gains_multiply_through_time():
    T = 6
    model = nn.RNN(2, 3, rng=0, name="rnn")
    _, h_n = model(Tensor(np.random.default_rng(0).normal(size=(T, 2, 2))))
    loss = (h_n * h_n).sum()
    loss.backward()
    steps = [layer for layer in trace(loss).layers() if layer.scope.startswith("rnn.t=")]
    assert [layer.scope for layer in steps] == [f"rnn.t={t}" for t in range(1, T + 1)]
    hs = model.hidden_states[0]
    norms = [float(np.sqrt(np.sum(h.grad**2))) for h in hs]  # ‖∂L/∂h_t‖ from the nodes' .grad
    for layer, h, n in zip(steps, hs, norms):
        assert layer.output is h and layer.grad_norm == pytest.approx(n, rel=1e-12)
    for t, layer in enumerate(steps[1:], start=2):  # step t reads h_{t−1} of step t − 1, nothing else
        assert [(r.source.scope, r.node) for r in layer.routes] == [(f"rnn.t={t - 1}", hs[t - 2])]
        assert set(layer.param_grad_norms) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    product = math.prod(layer.gain for layer in steps[1:])
    assert product == pytest.approx(norms[0] / norms[-1], rel=1e-10)


def test_lstm_steps_have_a_cell_route_whose_flow_is_f_times_the_cell_gradient():
    model = nn.LSTM(2, 3, rng=1, forget_bias=1.0, name="lstm")
    _, (h_n, _) = model(Tensor(np.random.default_rng(1).normal(size=(4, 2, 2))))
    loss = (h_n * h_n).sum()
    loss.backward()
    steps = [layer for layer in trace(loss).layers() if layer.scope.startswith("lstm.t=")]
    hs, cs = model.hidden_states[0], model.cell_states[0]
    assert len(steps) == 4
    for t in range(2, 5):
        routes = {r.node.label: r for r in steps[t - 1].routes}
        assert set(routes) == {f"h_{t - 1}", f"c_{t - 1}"}
        forget = next(n for n in steps[t - 1].nodes if n.label == f"f_{t}")
        # the cell path passes ∂L/∂c_t ⊙ f_t to c_{t−1} (∂c_t/∂c_{t−1} = f_t)
        np.testing.assert_allclose(routes[f"c_{t - 1}"].flow, forget.data * cs[t - 1].grad, rtol=1e-12)
        assert routes[f"h_{t - 1}"].node is hs[t - 2]
