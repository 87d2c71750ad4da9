"""viz.draw on scalar graphs: the numbers on edges and nodes, colours, grouping, highlight, determinism."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import graphviz
import pytest
from test_viz_support import design_example, edge_labels, label_text, needs_pygraphviz, parse_dot

import viz
from tinygrad_edu import PathLimitError, Value, name_scope, trace
from viz import style
from viz.scene import build_scene


def g3(x: float) -> str:
    """The renderer's number format, written independently: 3 significant digits."""
    return "0" if x == 0 else f"{x:.3g}"


# --- structure and numbers ---------------------------------------------------------------------


@needs_pygraphviz
def test_design_example_edges_carry_local_derivatives_and_flows():
    a, b, y = design_example()
    dot = viz.draw(y)
    assert isinstance(dot, graphviz.Digraph)
    parsed = parse_dot(dot.source)
    labels = edge_labels(parsed)
    t = math.tanh(-5.0)
    dtanh = 1 - t * t
    # edge ids name the operand: e{child}_{operand}; the graph's ids put a, b, ×, 1, +, y in order
    ids = trace(y).ids
    mul, add = y.parents[0].parents[0], y.parents[0]
    assert labels[f"e{ids[mul]}_0"].splitlines()[0] == f"local {g3(b.data)}"  # ∂(a·b)/∂a = b
    assert labels[f"e{ids[mul]}_1"].splitlines()[0] == f"local {g3(a.data)}"  # ∂(a·b)/∂b = a
    assert labels[f"e{ids[add]}_0"].splitlines()[0] == "local 1"
    assert labels[f"e{ids[y]}_0"].splitlines()[0] == f"local {g3(dtanh)}"
    # after backward: the gradient that flowed (local × upstream) and the gain
    assert f"grad {g3(dtanh * b.data)}" in labels[f"e{ids[mul]}_0"].splitlines()
    assert f"gain ×{g3(abs(b.data))}" in labels[f"e{ids[mul]}_0"].splitlines()
    assert g3(a.grad) == g3(dtanh * b.data)
    # one DOT edge per graph edge, between the right nodes
    assert sorted((e[0], e[1]) for e in parsed.edges()) == sorted(
        (f"n{ids[e.parent]}", f"n{ids[e.child]}") for e in trace(y).edges
    )


@needs_pygraphviz
def test_nodes_show_label_op_value_and_grad():
    a, b, y = design_example()
    parsed = parse_dot(viz.draw(y).source)
    ids = trace(y).ids
    root = label_text(parsed.get_node(f"n{ids[y]}").attr["label"])
    assert root.startswith("y = tanh")
    assert f"data{g3(y.data)}" in root.replace(" ", "") and "grad1" in root.replace(" ", "")
    leaf = label_text(parsed.get_node(f"n{ids[a]}").attr["label"]).replace(" ", "")
    assert leaf.startswith("a") and f"grad{g3(a.grad)}" in leaf and "data2" in leaf
    product = label_text(parsed.get_node(f"n{ids[y.parents[0].parents[0]]}").attr["label"])
    assert "×" in product


def test_repeated_operand_gives_two_edges():
    a = Value(3.0, label="a")
    y = a * a
    y.backward()
    scene = build_scene(y)
    edges = [e for e in scene.edges if e.tail == "n0" and e.head == "n1"]
    assert [e.id for e in edges] == ["e1_0", "e1_1"]
    assert [e.local for e in edges] == [3.0, 3.0]
    assert viz.draw(y).source.count("n0 -> n1") == 2


def test_before_backward_no_gradient_rows_and_neutral_colours():
    _, _, y = design_example(backward=False)
    scene = build_scene(y)
    assert not scene.has_grad
    assert all(all(name != "grad" for name, _ in n.rows) for n in scene.nodes)
    assert {n.fill for n in scene.nodes} == {style.NO_GRAD_FILL}
    assert all(len(e.rows) == 1 and e.rows[0][0] == "local" for e in scene.edges)
    assert "call .backward()" in viz.draw(y).source


def test_show_grad_false_hides_gradients_after_backward():
    _, _, y = design_example()
    scene = build_scene(y, show_grad=False)
    assert not scene.has_grad and all(e.magnitude is None for e in scene.edges)


def test_show_formula_adds_rule_formula():
    _, _, y = design_example()
    scene = build_scene(y, show_formula=True)
    tanh_edge = next(e for e in scene.edges if e.head == "n5")
    # the rule says 1 − tanh²(x); the picture names the operand as it is drawn: the + node #4
    assert ("", "1 − tanh²(+ #4)") in tanh_edge.rows


def test_pow_const_shows_its_exponent():
    x = Value(2.0, label="x")
    y = x**3
    y.backward()
    root = next(n for n in build_scene(y).nodes if n.id == "n1")
    assert root.symbol == "^3"
    assert next(e for e in build_scene(y).edges).local == pytest.approx(12.0)


# --- colours -----------------------------------------------------------------------------------


def _chain(step, n=10):
    x = Value(0.5, label="x")
    h = x
    for _ in range(n):
        h = step(h)
    h.label = "y"
    h.backward()
    return x, h


def _rgb(colour):
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_vanishing_chain_is_blue_and_thins_out():
    x, y = _chain(lambda h: h.sigmoid())
    assert abs(x.grad) < 1e-5  # σ' ≤ 1/4, ten times
    scene = build_scene(y)
    leaf = next(n for n in scene.nodes if n.title == "x")
    r, g, b = _rgb(leaf.fill)
    assert b > 2 * r and b > g  # clearly blue
    root = next(n for n in scene.nodes if n.title == "y")
    assert root.fill == style.node_colours(1.0, 1.0, style.DEFAULT_DECADES)[0]  # the centre colour
    widths = [e.width for e in sorted(scene.edges, key=lambda e: -int(e.head[1:]))]  # root first
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]  # thinner towards x


def test_exploding_chain_is_red_and_thickens():
    x, y = _chain(lambda h: h * 3.0)
    assert x.grad == pytest.approx(3.0**10)
    scene = build_scene(y)
    leaf = next(n for n in scene.nodes if n.title == "x")
    r, g, b = _rgb(leaf.fill)
    assert r > 2 * b and r > 2 * g  # clearly red
    path = [e for e in scene.edges if e.local == 3.0]
    widths = [e.width for e in sorted(path, key=lambda e: -int(e.head[1:]))]  # root first
    assert widths == sorted(widths) and widths[0] < widths[-1]  # thicker towards x


def test_nan_and_inf_gradients_are_unmistakable():
    x = Value(0.0, label="x")
    y = x.sqrt()  # local 1/(2√0) = inf
    y.backward()
    node = next(n for n in build_scene(y).nodes if n.title == "x")
    assert (node.status, node.fill) == ("inf", style.INF_FILL)
    assert "[inf]" in viz.draw(y).source

    x = Value(2.0, label="x")
    y = (x * 0.0).sqrt()  # inf upstream times the local 0 of ×: nan
    y.backward()
    assert math.isnan(x.grad)
    node = next(n for n in build_scene(y).nodes if n.title == "x")
    assert (node.status, node.fill) == ("nan", style.NAN_FILL)
    source = viz.draw(y).source
    assert "[nan]" in source and style.NAN_FILL in source


def test_zero_gradient_edge_is_dashed():
    x = Value(-1.0, label="x")
    y = x.relu()
    y.backward()
    (edge,) = build_scene(y).edges
    assert edge.dashed and edge.status == "zero"
    assert "style=dashed" in viz.draw(y).source


def test_colour_scale_is_centred_on_the_root_gradient():
    x = Value(0.5, label="x")
    y = x * 2.0
    y.backward(10.0)  # seed 10: the root's gradient is the reference
    scene = build_scene(y)
    assert scene.reference == 10.0
    leaf = next(n for n in scene.nodes if n.title == "x")  # grad 20: grown ×2 relative to the root
    t = style.position(20.0, 10.0, style.DEFAULT_DECADES)
    assert leaf.fill == style.node_colours(20.0, 10.0, style.DEFAULT_DECADES)[0]
    assert 0 < t < 0.1


# --- highlight ---------------------------------------------------------------------------------


def test_highlight_shows_running_products_along_the_path():
    a, b, y = design_example()
    scene = build_scene(y, highlight="a")
    g = trace(y)
    (path,) = g.paths(a)
    running = 1.0
    for edge in path.edges:  # root side first
        running *= edge.local
        view = next(e for e in scene.edges if e.id == f"e{g.ids[edge.child]}_{edge.index}")
        assert view.on_path and view.running == pytest.approx(running)
        assert view.rows[0] == ("∏", g3(running))
    target = next(n for n in scene.nodes if n.target)
    assert target.title == "a" and ("Σ paths", g3(a.grad)) in target.rows
    off = [n for n in scene.nodes if n.faded]
    assert {n.title for n in off} == {"b", ""}  # b and the constant 1 are off the path
    assert not next(e for e in scene.edges if e.tail == f"n{g.ids[b]}").on_path


def test_highlight_sums_running_products_over_routes():
    a = Value(0.7, label="a")
    h = a.tanh()
    y = h * h + a
    y.label = "y"
    y.backward()
    g = trace(y)
    scene = build_scene(y, highlight=a)
    total = next(n for n in scene.nodes if n.target).rows[-1]
    assert total[0] == "Σ paths" and total[1] == g3(a.grad)
    assert sum(p.product for p in g.paths(a)) == pytest.approx(a.grad)
    # the edge a → tanh lies on two routes (through each operand of h·h): its ∏ sums both
    edge = next(e for e in scene.edges if e.tail == f"n{g.ids[a]}" and e.head == f"n{g.ids[h]}")
    assert edge.running == pytest.approx(h.grad * h.local_grads[0])
    assert "(Σ of 2 paths)" in edge.rows[0][1]


def test_highlight_refuses_too_many_paths_but_grouped_highlight_works():
    x = Value(1.01, label="x")
    h = x
    for _ in range(12):
        h = h * h  # two edges per square: 2**12 routes from the root to x
    h.backward()
    with pytest.raises(PathLimitError, match="path_limit=1000"):
        viz.draw(h, highlight="x", path_limit=1000)
    assert build_scene(h, highlight="x", path_limit=5000).highlight == "n0"
    assert build_scene(h, highlight="x", group="depth").highlight is not None


def test_highlight_errors():
    _, _, y = design_example()
    with pytest.raises(ValueError, match="no node labelled 'zz'"):
        viz.draw(y, highlight="zz")
    with pytest.raises(ValueError, match="not a node of this graph"):
        viz.draw(y, highlight=Value(1.0))


# --- grouping ----------------------------------------------------------------------------------


def _deep_chain(n):
    x = Value(0.3, label="x")
    h = x
    for i in range(n):
        h = (h * 0.9).tanh() if i % 2 else h + 0.1
    h.backward()
    return h


def test_grouping_kicks_in_above_the_cap_by_depth():
    y = _deep_chain(150)
    assert build_scene(y, max_nodes=1000).grouped is None
    scene = build_scene(y, max_nodes=100, max_groups=10)
    assert scene.grouped == "depth"
    assert 2 <= len(scene.nodes) <= 10
    assert sum(int(dict(n.rows)["nodes"].split()[0]) for n in scene.nodes) == len(trace(y))
    assert all(n.kind == "group" and n.title.startswith("depth") for n in scene.nodes)
    dot = viz.draw(y, max_nodes=100, max_groups=10)
    assert "grouped by depth" in dot.source


def test_band_boxes_and_arrows_show_named_sums_and_no_gain():
    y = _deep_chain(150)
    graph = trace(y)
    scene = build_scene(y, max_nodes=100, max_groups=10)
    # a band's number, by hand: √(Σ grad²) over the nodes it holds (all gradients as one vector)
    grads = {f"n{i}": node.grad for node, i in graph.ids.items()}
    norms = {n.id: math.sqrt(sum(grads[m] ** 2 for m in n.members)) for n in scene.nodes}
    assert sorted(m for n in scene.nodes for m in n.members) == sorted(grads)  # each node in one band
    for n in scene.nodes:
        assert n.magnitude == pytest.approx(norms[n.id], rel=1e-12)
        assert ("√Σ‖grad‖²", g3(norms[n.id])) in n.rows
    band = {m: n.id for n in scene.nodes for m in n.members}
    assert scene.edges
    for edge in scene.edges:
        # bands are not layers: no gain; the arrow shows √Σ‖flow‖² over the crossing edges
        flows = [
            e.local * e.child.grad
            for e in graph.edges
            if band[f"n{graph.ids[e.parent]}"] == edge.tail and band[f"n{graph.ids[e.child]}"] == edge.head
        ]
        assert edge.gain is None and all(name != "gain" for name, _ in edge.rows)
        assert edge.magnitude == pytest.approx(math.sqrt(sum(f * f for f in flows)), rel=1e-12)


def test_grouping_by_scope_makes_one_box_per_layer():
    x = Value(0.5, label="x")
    h = x
    for layer in range(4):
        with name_scope("mlp"), name_scope(f"layer{layer}"):
            for _ in range(30):
                h = (h * 1.01).tanh()
    y = h * 1.0
    y.backward()
    scene = build_scene(y, max_nodes=50)
    assert scene.grouped == "layers"
    titles = [n.title for n in scene.nodes]
    assert titles == ["input"] + [f"L{k + 1} layer{k}" for k in range(4)] + ["loss"]
    layers = trace(y).layers()
    for view, layer in zip(scene.nodes[1:5], layers[1:5]):
        # a layer's box shows ‖∂L/∂out‖: the gradient of the last tanh of the layer
        assert view.magnitude == abs(layer.output.grad) and layer.output.op == "tanh"


def test_group_none_refuses_a_graph_above_the_cap():
    y = _deep_chain(150)
    with pytest.raises(viz.GraphTooLarge, match="max_nodes=100"):
        viz.draw(y, max_nodes=100, group=None)
    assert build_scene(y, max_nodes=1000, group=None).grouped is None


def test_group_can_be_forced_on_a_small_graph():
    _, _, y = design_example()
    assert build_scene(y, group="depth").grouped == "depth"


def test_grouped_highlight_marks_the_groups_on_the_path():
    y = _deep_chain(150)
    scene = build_scene(y, max_nodes=100, max_groups=10, highlight="x")
    assert scene.highlight is not None
    assert all(n.on_path for n in scene.nodes)  # a chain: every group lies on x's path


# --- determinism -------------------------------------------------------------------------------


def test_same_graph_gives_identical_dot():
    _, _, y = design_example()
    assert viz.draw(y).source == viz.draw(y).source
    assert viz.draw(trace(y)).source == viz.draw(y).source


def test_rebuilding_the_same_expression_gives_identical_dot():
    first = viz.draw(design_example()[2], highlight="a").source
    second = viz.draw(design_example()[2], highlight="a").source
    assert first == second
    big1 = viz.draw(_deep_chain(300)).source
    big2 = viz.draw(_deep_chain(300)).source
    assert big1 == big2


def test_dot_is_identical_across_processes_and_hash_seeds():
    script = (
        "import viz\n"
        "from tinygrad_edu import Value, name_scope\n"
        "h = Value(0.5, label='x')\n"
        "for k in range(6):\n"
        "    with name_scope(f'layer{k}'):\n"
        "        for _ in range(20):\n"
        "            h = (h * 1.01 + Value(0.1, label='c')).tanh()\n"
        "h.backward()\n"
        "print(viz.draw(h, max_nodes=50).source)\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and "layer5" in outputs[0]


# --- options -----------------------------------------------------------------------------------


def test_size_dpi_direction_title_and_legend_options():
    _, _, y = design_example()
    source = viz.draw(y, direction="LR", size=(8, 6), dpi=72, title="my title", legend=False).source
    assert "rankdir=LR" in source and 'size="8,6"' in source and "dpi=72" in source
    assert "my title" in source and "legend" not in source
    assert "legend [" in viz.draw(y).source


@pytest.mark.parametrize(
    "options, error",
    [
        ({"direction": "UP"}, ValueError),
        ({"max_nodes": "10"}, TypeError),
        ({"max_nodes": 0}, ValueError),
        ({"group": "layer"}, ValueError),
        ({"decades": -1}, ValueError),
        ({"show_grad": "yes"}, TypeError),
        ({"size": (0, 3)}, ValueError),
        ({"title": 3}, TypeError),
    ],
)
def test_bad_options_are_typed_errors(options, error):
    _, _, y = design_example()
    with pytest.raises(error, match="draw"):
        viz.draw(y, **options)


def test_bad_source_is_a_type_error():
    with pytest.raises(TypeError, match="expected a Value, a Tensor or a traced Graph"):
        viz.draw(3.0)
