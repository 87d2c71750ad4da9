"""check_edges finds one planted wrong local in a large random graph and viz draws it; check_vjp
accepts a correct hand-written layer-norm backward and catches a planted bug in one."""

import numpy as np
import pytest

import viz
from tinygrad_edu import Tensor, Value, op, trace
from tinygrad_edu import ops as user_ops
from tinygrad_edu.testing import OpCheckError, arrays, check_edges, check_vjp


@pytest.fixture(autouse=True)
def forget_user_ops():
    yield
    for name in list(user_ops.USER_OPS):
        user_ops.remove(name)


def random_chain(n, seed=0):
    """A scalar graph of n ops; each op reads the last node and one of the few before it."""
    rng = np.random.default_rng(seed)
    nodes = [Value(float(v), label=f"x{i}") for i, v in enumerate(rng.uniform(-1, 1, 8))]
    for _ in range(n):
        a, b = nodes[-1], nodes[-1 - rng.integers(min(4, len(nodes)))]
        choice = rng.integers(5)
        nodes.append([a + b, (a * b).tanh(), a.tanh(), (a * b).sin(), (a - b).sigmoid()][choice])
    return nodes


def test_one_planted_wrong_local_in_a_large_graph_is_found_and_drawn():
    nodes = random_chain(1200)
    root = nodes[-1]
    root.backward()
    graph = trace(root)
    assert len(graph.nodes) >= 1000
    assert check_edges(graph).ok  # every built-in local is right
    victim = next(n for n in nodes[700:] if n.op == "tanh")
    wrong = victim.local_grads[0] * 1.05
    victim.local_grads = (wrong,) + victim.local_grads[1:]
    result = check_edges(graph)
    (failed,) = result.failures
    assert failed.edge.child is victim and failed.edge.index == 0
    assert failed.got == pytest.approx(wrong)
    x = victim.parents[0].data
    assert failed.expected == pytest.approx(1 - np.tanh(x) ** 2, rel=1e-6)  # tanh' by hand
    assert "op 'tanh'" in str(result)

    scene = viz.build_scene(graph, check=result)  # grouped: the band holding the edge is marked
    marked = [node for node in scene.nodes if node.failed]
    assert len(marked) == 1 and f"n{graph.ids[victim]}" in marked[0].members
    assert any("1 edge(s) whose stored local disagrees" in note for note in scene.notes)
    source = viz.draw(graph, check=result).source
    assert viz.checks.CHECK_LINE in source and "✗ check" in source


def test_a_wrong_user_op_is_marked_on_the_ungrouped_picture():
    @op("softsign", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",))
    def softsign(m, x):
        d = 1 + m.abs(x)
        return x / d, (-1 / (d * d),)  # planted: wrong sign

    x = Value(0.5, label="x")
    y = (softsign(x * 2.0) + x).tanh()
    y.backward()
    result = check_edges(y)
    assert [f.edge.child.op for f in result.failures] == ["softsign"]
    failed = result.failures[0]
    assert failed.expected == pytest.approx(1 / 2.0**2, rel=1e-6) and failed.got == pytest.approx(-0.25)
    scene = viz.build_scene(y, check=True)
    flagged = [e for e in scene.edges if e.failed]
    assert len(flagged) == 1 and flagged[0].colour == viz.checks.CHECK_LINE
    assert flagged[0].rows[-1][0] == "✗ check"


def test_tensor_edges_are_checked_through_their_linear_maps():
    rng = np.random.default_rng(1)
    X = Tensor(rng.normal(size=(4, 3)), label="X")
    W = Tensor(rng.normal(size=(3, 2)), requires_grad=True, label="W")
    b = Tensor(rng.normal(size=2), requires_grad=True, label="b")
    loss = ((X @ W + b).tanh().softmax(axis=-1) ** 2).mean()
    loss.backward()
    result = check_edges(loss)
    assert result.ok and len(result.checks) >= 5
    assert any(e.parent is X for e in result.skipped)  # no gradient flows into X


def layer_norm(x, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + eps)


def layer_norm_vjp(g, x, eps=1e-5):
    """∂L/∂x = (g − mean(g) − x̂·mean(g·x̂)) / σ, by hand."""
    inv = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - x.mean(-1, keepdims=True)) * inv
    return (inv * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)),)


def test_check_vjp_accepts_a_correct_layer_norm_backward():
    assert check_vjp(layer_norm, layer_norm_vjp, arrays((3, 4)), max_examples=15) >= 15


def test_check_vjp_catches_a_layer_norm_backward_that_forgets_the_variance_term():
    def forgets(g, x, eps=1e-5):
        inv = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
        return (inv * (g - g.mean(-1, keepdims=True)),)

    with pytest.raises(OpCheckError) as caught:
        check_vjp(layer_norm, forgets, arrays((3, 4)), max_examples=15)
    error = caught.value
    assert error.check == "gradient" and error.position == 0
    assert "vjp" in str(error) and "numeric" in str(error) and "upstream =" in str(error)
    assert abs(error.analytic - error.numeric) > 1e-3


def test_check_vjp_names_wrong_shapes_and_mutations():
    with pytest.raises(OpCheckError, match="shape"):
        check_vjp(lambda x: x * 2, lambda g, x: (g.sum(),), arrays((3,)), max_examples=5)

    def scales_in_place(g, x):
        g *= 2
        return (g,)

    with pytest.raises(OpCheckError, match="changed the upstream"):
        check_vjp(lambda x: x * 2, scales_in_place, arrays((3,)), max_examples=5)
    with pytest.raises(OpCheckError, match="input 1 has shape \\(2, 3\\), the input has shape \\(3,\\)"):
        check_vjp(
            lambda a, b: a * b, lambda g, a, b: (g * b, g * a), arrays((2, 3)), arrays(3), max_examples=5
        )
    # b was broadcast over the rows: its gradient is summed over them
    summed = check_vjp(
        lambda a, b: a * b,
        lambda g, a, b: (g * b, (g * a).sum(axis=0)),
        arrays((2, 3)),
        arrays(3),
        max_examples=5,
    )
    assert summed >= 5


def test_ops_with_static_arguments_are_recomputed_with_them():
    x = Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True, label="x")
    y = (x[None].sum(axis=1) * x.reshape(3, 2).T.leaky_relu(0.2)).sum()
    y.backward()
    result = check_edges(y)
    assert result.ok and {c.edge.child.op for c in result.checks} >= {
        "getitem",
        "sum",
        "reshape",
        "leaky_relu",
    }
