"""The viewer's forward steps, its formulas with numbers plugged in, and the inline (notebook) page.

Independent computations: the stored locals come from ``rules.py`` (the engine's own code); the
plugged-in numbers are recomputed by :mod:`viz.viewer.formulas` and, separately here, by evaluating
the displayed text as arithmetic; σ' of the sigmoid chain is derived by hand; forward values are
the nodes' ``.data``. (In a real browser: test_viewer_forward_browser.py.)
"""

from __future__ import annotations

import html
import math
import re

import pytest
from hypothesis import given, settings
from test_viewer import diamond, needs_renderer, page_data, tensor_mlp, value_of

import viz
from tinygrad_edu import Value, trace
from tinygrad_edu.testing import expression_dags
from tinygrad_edu.testing.dags import EXPRESSION_OPS
from viz import style
from viz.errors import UnsupportedFormat
from viz.inline import InlinePage
from viz.viewer import sigmoid_chain
from viz.viewer.formulas import PLUGGED, forward_formula, local_with_numbers, plugged


def every_op_graph() -> Value:
    """One scalar graph that uses every op a Value has (each edge checked below)."""
    a, b = Value(0.8, label="a"), Value(-1.3, label="b")
    c = Value(1.7, label="c")
    s = a + b - a * b / c + c**a + a**2.5 + (-b)
    s = s + a.exp() + c.log() + c.sqrt() + b.tanh() + b.sigmoid() + a.relu() + b.relu()
    s = (
        s
        + b.leaky_relu(0.1)
        + a.leaky_relu(0.2)
        + b.softplus()
        + b.log_sigmoid()
        + abs(b)
        + a.sin()
        + b.cos()
    )
    s.label = "s"
    return s


def close(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300)


# --- the numbers plugged into a local are the operands' and give the stored local --------------


def test_every_value_op_has_a_plugged_formula():
    assert set(EXPRESSION_OPS) <= set(PLUGGED)
    graph = trace(every_op_graph())
    assert set(EXPRESSION_OPS) <= {n.op for n in graph.nodes if n.op}


NUMBER = r"(\(?-?[\d.]+(?:e[+-]?\d+)?\)?|inf|nan)"


def _evaluate(text: str) -> float:
    """The displayed arithmetic, evaluated by Python (an independent reading of the text)."""
    expr = text.replace("×", "*").replace("·", "*").replace("−", "-").replace("^", "**").replace("²", "**2")
    expr = re.sub(r"(\d)√", r"\1*√", expr)
    expr = re.sub("√" + NUMBER, r"sqrt(\1)", expr)
    expr = re.sub("ln " + NUMBER, r"log(\1)", expr)
    expr = re.sub(r"\be\*\*", "E**", expr)
    expr = expr.replace("σ", "sig").replace("[", "(").replace("]", ")")
    names = {"sqrt": math.sqrt, "log": math.log, "sig": lambda x: 1 / (1 + math.exp(-x)), "E": math.e}
    names.update(sign=lambda x: (x > 0) - (x < 0), cos=math.cos, sin=math.sin)
    return float(eval(expr, {"__builtins__": {}}, names))  # noqa: S307 - our own text, in a test


def check_edges(graph) -> int:
    checked = 0
    for e in graph.edges:
        numbers = plugged(e.child, e.index)
        assert numbers is not None, e
        assert close(numbers.value, e.local), (e, numbers, e.local)
        text = local_with_numbers(e.formula, numbers, e.local)
        assert text.replace("−", "-").endswith(style.fmt(e.local)) and text.startswith(e.formula), text
        if numbers.text and "as" not in numbers.text and math.isfinite(e.local):
            shown = _evaluate(numbers.text)  # 3 significant digits per number: rounding only
            assert shown == pytest.approx(e.local, rel=0.05, abs=0.02), (e, numbers.text)
        checked += 1
    return checked


def test_plugged_numbers_evaluate_to_the_stored_local_on_every_op():
    assert check_edges(trace(every_op_graph())) > 30


@settings(max_examples=40)
@given(expression_dags(max_ops=10))
def test_plugged_numbers_evaluate_to_the_stored_local_on_random_graphs(dag):
    check_edges(trace(dag(*dag.new_inputs())))


def test_sigmoid_local_with_numbers_by_hand():
    graph = trace(sigmoid_chain())
    h4, h5 = graph.find("h4"), graph.find("h5")
    (edge,) = [e for e in graph.edges if e.parent is h4 and e.child is h5]
    y = 1.0 / (1.0 + math.exp(-h4.data))  # σ(h4), by hand
    numbers = plugged(h5, 0)
    assert numbers.text == f"{style.fmt(y)} × {style.fmt(1 - y)}" == "0.659 × 0.341"
    assert local_with_numbers(edge.formula, numbers, edge.local) == f"{edge.formula} = 0.659 × 0.341 = 0.225"
    assert numbers.value == pytest.approx(y * (1 - y), rel=1e-15)


def test_repeats_are_left_out_and_negative_numbers_bracketed():
    x, w = Value(-2.0, label="x"), Value(0.5, label="w")
    y = w * x
    assert plugged(y, 0).text == "(-2)"
    assert local_with_numbers("x", plugged(y, 0), -2.0) == "x = -2"
    assert local_with_numbers("1", plugged(w + x, 0), 1.0) == "1"
    assert plugged(Value(1.0).exp().tanh(), 0).text.startswith("1 − ")


# --- forward formulas in the operands' names and numbers ----------------------------------------


def test_forward_formula_names_the_operands_and_their_values():
    x, w = Value(-2.0, label="x"), Value(0.5, label="w")
    for node, want in (
        (w * x, ("w · x", "0.5 · (-2)", "")),
        (x**3, ("x^3", "(-2)^3", "")),
        (x.sigmoid(), ("σ(x)", "σ(-2)", "σ(x) = 1/(1+exp(−x))")),
        (x.leaky_relu(0.1), ("x if x > 0 else 0.1·x", "(-2) if (-2) > 0 else 0.1·(-2)", "")),
    ):
        assert forward_formula(node, trace(node).names) == want
    assert local_with_numbers("−1", plugged(x - w, 1), -1.0) == "−1"  # −1 = −1 is not repeated


@needs_renderer
def test_forward_steps_are_the_nodes_in_topological_order_with_their_data():
    root = diamond()
    graph = trace(root)
    data = page_data(viz.viewer(root).html)
    assert [f["node"] for f in data["forward"]] == [f"n{graph.ids[n]}" for n in graph.nodes]
    seen = set()
    for f, node in zip(data["forward"], graph.nodes):
        assert value_of(f["value"]) == node.data
        assert all(f"n{graph.ids[p]}" in seen for p in node.parents)  # operands come first
        seen.add(f["node"])
        if node.parents:
            for p in node.parents:
                assert style.fmt(p.data).lstrip("-") in f["numbers"]
    by_node = {f["node"]: f for f in data["forward"]}
    top = by_node[f"n{graph.ids[root]}"]
    assert top["named"].endswith(" + a") and top["numbers"].endswith(f"+ {style.fmt(0.7)}")


@needs_renderer
def test_every_edge_carries_its_local_formula_and_step():
    root = diamond()
    graph = trace(root)
    data = page_data(viz.viewer(root).html)
    fresh = trace(diamond())
    steps = list(fresh.backward_steps())
    assert len(data["edges"]) == len(graph.edges)
    for e in graph.edges:
        got = data["edges"][f"e{graph.ids[e.child]}_{e.index}"]
        assert got["formula"] == e.formula and value_of(got["local"]) == e.local
        step = steps[got["step"] - 1]  # the backward step that multiplies this edge's local in
        assert fresh.ids[step.node] == graph.ids[e.child] and step.index == e.index


@needs_renderer
def test_tensor_graph_forward_steps_carry_shapes_and_norms():
    root = tensor_mlp()
    graph = trace(root)
    data = page_data(viz.viewer(root).html)
    for f, node in zip(data["forward"], graph.nodes):
        assert f["value"]["shape"] == list(node.data.shape)
        assert f["value"]["norm"] == style.magnitude(node.data)
        if node.parents:
            assert f["numbers"] == "" and f["named"]


# --- the inline page --------------------------------------------------------------------------


@needs_renderer
def test_inline_viewer_is_the_file_page_in_a_sandboxed_iframe(tmp_path):
    inline = viz.viewer(sigmoid_chain())
    path = viz.viewer(sigmoid_chain(), tmp_path / "chain.html")
    assert isinstance(inline, InlinePage)
    assert inline.html == path.read_text(encoding="utf-8")  # the same page, byte for byte
    frame = inline._repr_html_()
    assert frame.startswith('<iframe sandbox="allow-scripts" ') and frame.endswith("></iframe>")
    assert "allow-same-origin" not in frame and "src=" not in frame.replace("srcdoc=", "")
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)  # html.escape leaves no '"' inside
    assert html.unescape(srcdoc) == inline.html
    assert "https://" not in inline.html and "http://" not in inline.html.replace("http://www.w3.org", "")
    saved = inline.save(tmp_path / "again.html")
    assert saved.read_text(encoding="utf-8") == inline.html


def test_inline_page_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="height"):
        InlinePage("<p>x</p>", "t", height=10)
    with pytest.raises(UnsupportedFormat, match=r"\.html"):
        InlinePage("<p>x</p>", "t").save(tmp_path / "x.svg")
    assert "x" in repr(InlinePage("<p>x</p>", "x"))
