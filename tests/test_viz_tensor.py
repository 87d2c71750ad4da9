"""viz on tensor graphs: shapes and summaries on nodes, formula + summary on edges, grouping by layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_viz_support import (
    HAS_MATPLOTLIB,
    edge_labels,
    label_text,
    needs,
    needs_pygraphviz,
    parse_dot,
    svg_lines,
)

import viz
from tinygrad_edu import Tensor, name_scope, trace
from viz import backends, style
from viz.scene import build_scene


def g3(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


def _layer(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 3)), label="x")
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True, label="W")
    b = Tensor(np.zeros(2), requires_grad=True, label="b")
    z = x @ W + b
    h = z.sigmoid()
    h.label = "h"
    loss = h.sum()
    loss.label = "loss"
    loss.backward()
    return x, W, b, z, h, loss


def _edge(scene, graph, parent, child):
    ids = graph.ids
    return next(e for e in scene.edges if e.tail == f"n{ids[parent]}" and e.head == f"n{ids[child]}")


def test_nodes_show_shape_summary_and_gradient_norm():
    x, W, b, z, h, loss = _layer()
    scene = build_scene(loss)
    assert scene.kind == "tensor"
    rows = {n.title: dict(n.rows) for n in scene.nodes if n.title}
    assert rows["W"]["shape"] == "3×2"
    assert rows["W"]["data"] == f"mean {g3(W.data.mean())}, ‖·‖ {g3(np.linalg.norm(W.data))}"
    assert rows["W"]["grad"] == f"‖·‖ {g3(np.linalg.norm(W.grad))}"
    assert rows["x"]["grad"] == "not required"
    assert rows["loss"]["shape"] == "scalar" and rows["loss"]["data"] == g3(float(loss.data))
    symbols = {n.symbol for n in scene.nodes}
    assert {"@", "σ", "Σ"} <= symbols


def test_edges_show_formula_and_summary_then_flow_and_gain():
    x, W, b, z, h, loss = _layer()
    graph = trace(loss)
    scene = build_scene(loss)
    s = h.data
    sig = _edge(scene, graph, z, h)
    assert sig.rows[0] == ("", f"σ({graph.names[z]})(1−σ({graph.names[z]}))")  # z is the + node
    assert graph.names[z] == f"+ #{graph.ids[z]}"
    assert sig.rows[1] == ("local", f"mean|·| {g3(np.mean(np.abs(s * (1 - s))))}")  # mean |σ'|
    assert ("grad", f"‖·‖ {g3(np.linalg.norm(z.grad))}") in sig.rows
    # gain = ‖contribution‖ / ‖upstream‖; h is z's only child, so the contribution is z.grad
    gain = np.linalg.norm(z.grad) / np.linalg.norm(h.grad)
    assert ("gain", "×" + g3(gain)) in sig.rows
    matmul = z.parents[0]
    to_w = _edge(scene, graph, W, matmul)
    assert to_w.rows[0] == ("", f"{x.label}ᵀ·")  # the other operand, by its own name
    assert to_w.rows[1] == ("local", matmul.local_grads[1].summary().replace("X", x.label))
    assert ("grad", f"‖·‖ {g3(np.linalg.norm(W.grad))}") in to_w.rows  # W's only path
    to_x = _edge(scene, graph, x, matmul)
    assert to_x.magnitude is None and all(name != "grad" for name, _ in to_x.rows)


def test_broadcast_edge_says_what_was_summed():
    x, W, b, z, h, loss = _layer()
    scene = build_scene(loss)
    to_b = _edge(scene, trace(loss), b, z)
    assert "summed over axes (0,)" in to_b.rows[0][1]


@needs_pygraphviz
def test_tensor_dot_parses_and_formulas_survive_escaping():
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((5,)), requires_grad=True, label="x<&>")
    y = x.relu().sum()  # relu's formula "1 if x > 0 else 0" holds a ">"
    y.backward()
    parsed = parse_dot(viz.draw(y).source)
    labels = edge_labels(parsed)
    # the operand's own name, in parentheses since it is not a plain word, and escaped
    assert any(text.startswith("1 if (x<&>) > 0 else 0") for text in labels.values())
    node = label_text(parsed.get_node("n0").attr["label"])
    assert node.startswith("x<&>")
    svg = backends.render_bytes(viz.draw(y).source, "svg", renderer="pygraphviz")
    assert svg_lines(svg, "n0")[0] == "x<&>"


def test_highlight_in_a_tensor_graph_marks_the_path_without_products():
    x, W, b, z, h, loss = _layer()
    scene = build_scene(loss, highlight="W")
    on = {e.id for e in scene.edges if e.on_path}
    graph = trace(loss)
    expected = {
        f"e{graph.ids[e.child]}_{e.index}"
        for e in graph.edges
        if e.parent in (W, z.parents[0], z, h) and not (e.parent is z.parents[0] and e.child is not z)
    }
    assert on == expected
    assert all(e.running is None for e in scene.edges)
    assert {n.title for n in scene.nodes if n.faded} == {"x", "b"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the engine's forward/backward warn about 0·inf
def test_nan_gradient_in_a_tensor_is_magenta():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True, label="x")
    y = (x * 0.0).sqrt().sum()
    y.backward()
    node = next(n for n in build_scene(y).nodes if n.title == "x")
    assert node.status == "nan" and node.fill == style.NAN_FILL


def _deep_tensor_mlp(depth: int, activation: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    h = Tensor(rng.standard_normal((8, 6)), label="x")
    for k in range(depth):
        with name_scope(f"layer{k}"):
            W = Tensor(rng.standard_normal((6, 6)) * 0.5, requires_grad=True, label="W")
            h = getattr(h @ W, activation)()
    loss = h.mean()
    loss.backward()
    return loss


@needs(HAS_MATPLOTLIB, "matplotlib is not installed")
def test_deep_tensor_graph_groups_by_layer_and_flows_into_the_chart(tmp_path):
    loss = _deep_tensor_mlp(12, "sigmoid")
    scene = build_scene(loss, max_nodes=20)
    assert scene.grouped == "layers"
    titles = [n.title for n in scene.nodes]
    names = [f"L{k + 1} layer{k}" for k in range(12)]
    assert set(names) <= set(titles)
    norms = viz.layer_norms(loss)
    assert list(norms) == names
    first, last = norms["L1 layer0"], norms["L12 layer11"]
    assert first < last * 1e-3  # sigmoid layers with small weights: the gradient vanished
    written = viz.gradient_flow_chart(
        {"sigmoid": norms, "relu": viz.layer_norms(_deep_tensor_mlp(12, "relu"))}, tmp_path / "f.svg"
    )
    assert written.read_bytes().startswith(b"<?xml")


def test_tensor_drawing_is_deterministic():
    assert viz.draw(_layer()[-1]).source == viz.draw(_layer()[-1]).source


@needs_pygraphviz
def test_tensor_graph_renders(tmp_path):
    loss = _layer()[-1]
    data = viz.render(loss, tmp_path / "t.png", renderer="pygraphviz").read_bytes()
    assert data.startswith(b"\x89PNG")
    assert math.isfinite(float(loss.data))
