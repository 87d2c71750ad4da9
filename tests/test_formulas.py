"""Formulas name the graph's own variables, and each formula evaluated at its operands is the local.

The check is independent of the renderer: each edge's formula text is read back by a small
evaluator written here (unicode maths → Python), with the operands' *names as the graph prints
them* bound to their values. A formula that named the wrong operand, or kept a placeholder of
the rule table (``b`` for ``mul``), evaluates to a different number or to an unknown name.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, Value, trace
from tinygrad_edu.formulas import LIFTED
from tinygrad_edu.testing import expression_dags

# Names that are placeholders of the rule table (a, b, x, p, t, n, α) and a few others, used in
# swapped roles: a graph's "b" may well be the first operand of a product.
NAMES = ["a", "b", "x", "p", "t", "n", "α", "w", "h4", "z"]

FUNCTIONS = {
    "sig": lambda v: 1 / (1 + math.exp(-v)),
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "cos": math.cos,
    "sin": math.sin,
    "sqrt": math.sqrt,
    "sign": lambda v: float(np.sign(v)),
}


def evaluate(text: str, env: dict) -> float:
    """Evaluate a formula as the pictures print it, with ``env``: printed name → value."""
    # the graph's names (possibly "b #12" or "+ #4") become variables v0, v1, ... — longest first,
    # never inside a longer word
    code = text
    for i, name in enumerate(sorted(env, key=len, reverse=True)):
        code = re.sub(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])", f"V{i}", code)
    values = {f"V{i}": env[name] for i, name in enumerate(sorted(env, key=len, reverse=True))}
    code = code.replace("−", "-").replace("·", "*").replace("^", "**").replace("σ", "sig")
    code = re.sub(r"tanh²\(([^()]*)\)", r"(tanh(\1)**2)", code)
    code = code.replace("²", "**2")
    code = re.sub(r"(\d)√", r"\1*√", code)
    code = re.sub(r"√(\w+|\([^()]*\))", r"sqrt(\1)", code)
    code = re.sub(r"\bln\b", "log", code)
    code = code.replace(")(", ")*(")
    return float(eval(code, {"__builtins__": {}}, {**FUNCTIONS, **values}))  # noqa: S307 - test-only


@settings(max_examples=80, deadline=None)
@given(dag=expression_dags(n_inputs=(1, 3), max_ops=6), names=st.permutations(NAMES), data=st.data())
def test_every_edge_formula_names_its_operands_and_evaluates_to_the_local(dag, names, data):
    inputs = [Value(v, label=names[i]) for i, v in enumerate(dag.inputs)]
    root = dag.build(inputs)
    # label some inner results with names from the same pool (so "b" may be an inner node too)
    g = trace(root)
    inner = [n for n in g.nodes if n.parents]
    for node in inner:
        if data.draw(st.booleans(), label="label it"):
            node.label = data.draw(st.sampled_from(NAMES), label="name")
    g = trace(root)
    names_of = g.names
    # no name means two nodes (numbers lifted into ops are named by their value: 1.5 is 1.5)
    named = [names_of[n] for n in g.nodes if n.arg is not LIFTED]
    assert len(set(named)) == len(named)
    assert all(
        names_of[n] == repr(n.data) or float(names_of[n]) == n.data for n in g.nodes if n.arg is LIFTED
    )
    for edge in g.edges:
        formula = edge.formula
        if not formula:
            continue
        env = {names_of[p]: p.data for p in edge.child.parents}
        value = evaluate(formula, env)
        local = edge.local
        assert value == pytest.approx(local, rel=1e-9, abs=1e-12), (formula, env, local)


def test_swapped_names_name_the_right_operand():
    b, a = Value(2.0, label="b"), Value(-3.0, label="a")  # the rule says ∂(a·b)/∂a = b
    y = b * a
    y.backward()
    edges = {e.parent.label: e for e in trace(y).edges}
    assert edges["b"].formula == "a" and edges["b"].local == -3.0  # ∂(b·a)/∂b is the graph's a
    assert edges["a"].formula == "b" and edges["a"].local == 2.0


def test_a_sigmoid_chain_reads_each_links_own_input():
    h = Value(0.5, label="x")
    for k in range(1, 6):
        h = h.sigmoid()
        h.label = f"h{k}"
    h.backward()
    g = trace(h)
    link = next(e for e in g.edges if e.parent.label == "h4")
    assert link.formula == "σ(h4)(1−σ(h4))"
    s = 1 / (1 + math.exp(-g.find("h4").data))
    assert link.local == pytest.approx(s * (1 - s), rel=1e-15)


def test_unlabelled_operands_are_named_by_symbol_and_the_id_drawn_on_their_box():
    w, x = Value(-1.5, label="w"), Value(0.5, label="x")
    y = (w * x + 0.8).tanh()
    g = trace(y)
    plus = y.parents[0]
    assert g.names[plus] == f"+ #{g.ids[plus]}"
    tanh_edge = next(e for e in g.edges if e.child is y)
    assert tanh_edge.formula == f"1 − tanh²(+ #{g.ids[plus]})"
    constant = plus.parents[1]
    assert g.names[constant] == "0.8"  # a number lifted into the op is named by its value
    assert next(e for e in g.edges if e.parent is plus.parents[0]).formula == "1"


def test_duplicate_labels_get_their_id():
    a = Value(1.0, label="z")
    b = Value(2.0, label="z")
    y = a * b
    g = trace(y)
    assert sorted(g.names[n] for n in (a, b)) == sorted([f"z #{g.ids[a]}", f"z #{g.ids[b]}"])
    assert {e.formula for e in g.edges} == {f"z #{g.ids[a]}", f"z #{g.ids[b]}"}


def test_tensor_formulas_name_the_real_weight_and_counts():
    x = Tensor(np.ones((4, 3)), label="X")
    weight = Tensor(np.ones((3, 2)), requires_grad=True, label="weight")
    y = (x @ weight).mean()
    g = trace(y)
    formulas = {(e.parent.label or e.parent.op, e.child.op): e.formula for e in g.edges}
    assert formulas[("X", "matmul")] == "·weightᵀ"
    assert formulas[("weight", "matmul")] == "Xᵀ·"
    assert formulas[("matmul", "mean")].startswith("1/8")  # n = 8 elements averaged
    import viz

    scene = viz.build_scene(y, show_formula=True)
    rows = [row for e in scene.edges for row in e.rows]
    assert ("local", next(r for r in rows if r[0] == "local" and "weight" in r[1])[1]) in rows
    assert not any(r[0] == "local" and "W" in r[1] for r in rows)  # no placeholder in a summary
