"""Properties of the scalar engine on random expression DAGs (``tinygrad_edu.testing.expression_dags``).

Every DAG uses ops from the whole scalar rule table over 1–4 inputs, with shared subexpressions
and operands kept inside each op's domain. Each test builds fresh graphs: leaf gradients
accumulate across backward passes by design.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_edu import RULES, Value, rules, trace
from tinygrad_edu.testing import EXPRESSION_OPS, apply_op, expression_dags, gradcheck

# The elementwise rules declared in rules.py: the ones Value and Tensor share (tensor_rules.py
# registers tensor-only ops in the same table).
SCALAR_RULES = sorted(op for op, rule in RULES.items() if rule.compute.__module__ == rules.__name__)
REPEATABLE = ["add", "sub", "mul", "div", "pow"]
PATH_LIMIT = 2000

# PyTorch's gradcheck tolerances, spelled out once.
TOLERANCES = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}


def test_expression_dags_draw_from_every_scalar_rule():
    assert sorted(EXPRESSION_OPS) == SCALAR_RULES


@given(expression_dags())
def test_forward_matches_plain_float_reference(dag):
    y = dag(*dag.new_inputs())
    assert isinstance(y, Value)
    assert y.data == pytest.approx(dag.evaluate(), rel=1e-12, abs=1e-12)


@given(expression_dags())
def test_every_leaf_gradient_matches_central_differences(dag):
    report = gradcheck(dag, *dag.new_inputs(), **TOLERANCES)
    assert report.ok and len(report.inputs) == dag.n_inputs


@pytest.mark.parametrize("op", EXPRESSION_OPS)
@given(data=st.data())
def test_each_op_in_a_dag_matches_central_differences(op, data):
    dag = data.draw(expression_dags(ops=(op,), max_ops=4), label="dag")
    xs = dag.new_inputs()
    y = dag(*xs)
    assert op in {node.op for node in trace(y).nodes}  # the op really is in the Value graph
    assert gradcheck(dag, *xs, **TOLERANCES).ok


@given(expression_dags())
def test_sum_of_path_products_is_the_gradient(dag):
    y = dag(*dag.new_inputs())
    y.backward()
    g = trace(y)
    checked = 0
    for leaf in g.leaves:  # inputs and constant leaves alike
        if g.count_paths(leaf) > PATH_LIMIT:
            continue
        paths = g.paths(leaf, limit=PATH_LIMIT)
        assert len(paths) == g.count_paths(leaf)
        for path in paths:
            assert path.edges[-1].parent is leaf and path.edges[0].child is y
        total = math.fsum(path.product for path in paths)
        assert total == pytest.approx(leaf.grad, rel=1e-9, abs=1e-12)
        checked += 1
    assume(checked > 0)


@given(expression_dags())
def test_summed_backward_steps_equal_backward(dag):
    y_backward = dag(*dag.new_inputs())
    y_backward.backward()
    y_steps = dag(*dag.new_inputs())  # a fresh, identical graph
    g_backward, g_steps = trace(y_backward), trace(y_steps)
    assert len(g_backward.nodes) == len(g_steps.nodes)
    totals: dict = defaultdict(float)
    for step in g_steps.backward_steps():
        assert step.parent is step.node.parents[step.index]
        assert step.local == step.node.local_grads[step.index]
        assert step.contribution == step.local * step.upstream
        totals[step.parent] += step.contribution
    # Same loop, same order: the sums agree exactly, node by node (the root is only seeded).
    for node_backward, node_steps in zip(g_backward.nodes[:-1], g_steps.nodes[:-1]):
        assert totals[node_steps] == node_backward.grad
        assert node_steps.grad == node_backward.grad


@given(expression_dags())
def test_backward_twice_doubles_leaf_gradients(dag):
    xs = dag.new_inputs()
    y = dag(*xs)
    y.backward()
    g = trace(y)
    first = {node: node.grad for node in g.nodes}
    y.backward()
    for x in xs:
        # abs: sums like 0.5 − 0.5 + tiny depend on the order of accumulation
        assert x.grad == pytest.approx(2 * first[x], rel=1e-9, abs=1e-12)
    for node in g.nodes:
        if node.parents:  # intermediates hold this pass's gradient, not a sum
            assert node.grad == first[node]


@given(data=st.data())
def test_gradient_is_linear(data):
    f = data.draw(expression_dags(), label="f")
    g = data.draw(expression_dags(inputs=f.inputs), label="g")  # same input point
    a = data.draw(st.floats(-3, 3), label="a")
    b = data.draw(st.floats(-3, 3), label="b")
    xs = f.new_inputs()
    (a * f(*xs) + b * g(*xs)).backward()
    xs_f, xs_g = f.new_inputs(), g.new_inputs()
    f(*xs_f).backward()
    g(*xs_g).backward()
    for x, x_f, x_g in zip(xs, xs_f, xs_g):
        assert x.grad == pytest.approx(a * x_f.grad + b * x_g.grad, rel=1e-9, abs=1e-12)


class RepeatedOperand:
    """``op(h, h)`` where ``h = dag(*values)`` is built once: one node used as both operands."""

    def __init__(self, op: str, dag):
        self.op = op
        self.dag = dag

    def __call__(self, *values):
        h = self.dag(*values)
        return apply_op(self.op, (h, h))


@given(op=st.sampled_from(REPEATABLE), x=st.floats(0.25, 3.0))
def test_leaf_as_both_operands(op, x):
    leaf = Value(x, label="x")
    y = apply_op(op, (leaf, leaf))
    assert y.parents == (leaf, leaf)
    edges = [edge for edge in trace(y).edges if edge.child is y]
    assert [(edge.parent, edge.index) for edge in edges] == [(leaf, 0), (leaf, 1)]
    y.backward()
    expected = {"add": 2.0, "sub": 0.0, "mul": 2 * x, "div": 0.0, "pow": x**x * (math.log(x) + 1)}[op]
    assert leaf.grad == pytest.approx(expected, rel=1e-12, abs=1e-12)


@given(op=st.sampled_from(REPEATABLE), dag=expression_dags(max_ops=5))
def test_subexpression_as_both_operands(op, dag):
    xs = dag.new_inputs()
    h = dag(*xs)
    if op == "div":
        assume(abs(h.data) > 0.1)
    if op == "pow":
        assume(h.data > 0.1)
    y = apply_op(op, (h, h))
    assert y.parents[0] is h and y.parents[1] is h
    assert sum(1 for edge in trace(y).edges if edge.parent is h) == 2
    y.backward()
    # d op(h, h)/dx = (∂op/∂a + ∂op/∂b) · dh/dx, with dh/dx from a fresh graph
    xs_h = dag.new_inputs()
    dag(*xs_h).backward()
    outer = sum(y.local_grads)
    for x, x_h in zip(xs, xs_h):
        assert x.grad == pytest.approx(outer * x_h.grad, rel=1e-9, abs=1e-12)
    assert gradcheck(RepeatedOperand(op, dag), *dag.new_inputs(), **TOLERANCES).ok


def operands_fit_the_domain(op, values, arg) -> bool:
    """Whether an op's operand values are inside its domain and away from its kinks."""
    if op in ("log", "sqrt"):
        return values[0] >= 0.5
    if op == "div":
        return abs(values[1]) >= 0.5
    if op == "pow":
        return values[0] >= 0.5 and abs(values[1]) <= 2
    if op == "pow_const":
        return values[0] >= 0.5 if arg != int(arg) else (arg >= 0 or abs(values[0]) >= 0.5)
    if op in ("relu", "abs", "leaky_relu"):
        return abs(values[0]) >= 0.1
    if op == "exp":
        return abs(values[0]) <= 2
    return True


@given(expression_dags(max_ops=12))
def test_dag_operands_stay_in_domain_and_every_node_reaches_the_output(dag):
    values = dag.node_values()
    used = set()
    for step in dag.steps:
        operands = [o.value if hasattr(o, "value") else values[o] for o in step.operands]
        assert operands_fit_the_domain(step.op, operands, step.arg), (step, operands)
        used.update(o for o in step.operands if isinstance(o, int))
    assert used == set(range(len(values) - 1))  # every node but the output feeds another


@given(expression_dags())
def test_dag_repr_names_every_step(dag):
    text = repr(dag)
    for step in dag.steps:
        assert f"{step.op}(" in text
    assert text.count("\n  v") == len(dag.steps)
