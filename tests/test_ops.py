"""User ops (tinygrad_edu.op): declared like rules.py entries, built like built-ins, refused when wrong.

Gradients are compared with hand derivations and with finite differences (gradcheck), never with
the op's own locals.
"""

import numpy as np
import pytest

import viz
from tinygrad_edu import (
    RULES,
    AnomalyError,
    OpError,
    ShapeError,
    Tensor,
    Value,
    detect_anomaly,
    name_scope,
    no_grad,
    op,
    trace,
)
from tinygrad_edu import ops as user_ops
from tinygrad_edu.expr import FUNCTIONS, ExpressionError, build
from tinygrad_edu.jacobians import Local
from tinygrad_edu.testing import gradcheck


@pytest.fixture(autouse=True)
def forget_user_ops():
    yield
    for name in list(user_ops.USER_OPS):
        user_ops.remove(name)


def declare_softsign(**options):
    @op("softsign", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",), **options)
    def softsign(m, x):
        d = 1 + m.abs(x)
        return x / d, (1 / (d * d),)

    return softsign


def declare_hypot():
    @op("hypot", forward="√(a² + b²)", locals=("a / √(a² + b²)", "b / √(a² + b²)"), symbol="‖·‖")
    def hypot(m, a, b):
        r = m.sqrt(a * a + b * b)
        return r, (m.div(a, r), m.div(b, r))

    return hypot


def test_softsign_on_values_and_tensors_matches_the_hand_derivative():
    softsign = declare_softsign()
    x = Value(0.7, label="h")
    y = softsign(x)
    y.backward()
    assert y.data == pytest.approx(0.7 / 1.7)
    assert x.grad == pytest.approx(1 / 1.7**2)  # d/dx x/(1+x) = 1/(1+x)² for x > 0
    data = np.array([-2.0, -0.5, 0.25, 3.0])
    t = Tensor(data, requires_grad=True)
    softsign(t).sum().backward()
    np.testing.assert_allclose(t.grad, 1 / (1 + np.abs(data)) ** 2)
    assert gradcheck(softsign, Tensor(data, requires_grad=True)).ok


def test_user_op_is_in_the_rule_table_and_pictures_name_the_graph_variables():
    softsign = declare_softsign()
    assert RULES["softsign"].inputs == ("x",)  # from compute's parameter names
    h = Value(0.7, label="h")
    y = softsign(h)
    y.label = "y"
    graph = trace(y)
    (edge,) = graph.edges
    assert edge.formula == "1 / (1 + |h|)²"
    assert edge.local == pytest.approx(1 / 1.7**2)
    source = viz.draw(y, show_formula=True).source
    assert "softsign" in source and "1 / (1 + |h|)²" in source
    steps = list(graph.backward_steps())
    assert [s.parent for s in steps] == [h] and steps[0].contribution == pytest.approx(1 / 1.7**2)


def test_binary_user_op_broadcasts_and_sums_back_like_built_ins():
    hypot = declare_hypot()
    a = Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True, label="a")
    b = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True, label="b")
    out = hypot(a, b)
    out.sum().backward()
    r = np.hypot(a.data, b.data)
    np.testing.assert_allclose(b.grad, (b.data / r).sum(axis=0))  # by hand: Σ over the broadcast axis
    assert b.grad.shape == (3,)
    assert gradcheck(lambda a, b: hypot(a, b), a, b).ok
    edge = [e for e in trace(out).edges if e.parent is b][0]
    assert edge.formula.startswith("b / √(a² + b²)") and "summed over axes (0,)" in edge.formula
    # numbers are lifted; Values work too
    assert hypot(Value(3.0), 4).data == pytest.approx(5.0)


def test_constant_argument_with_default_and_formula_shows_the_number():
    @op("scaled_tanh", forward="tanh(c·x)", locals=("c·(1 − tanh²(c·x))",), constant="c")
    def scaled_tanh(m, x, c=2.0):
        y = m.tanh(c * x)
        return y, (c * (1 - y * y),)

    x = Value(0.3, label="x")
    y = scaled_tanh(x)
    y.backward()
    assert x.grad == pytest.approx(2 * (1 - np.tanh(0.6) ** 2))
    y3 = scaled_tanh(Value(0.3, label="x"), 3.0)
    assert y3.data == pytest.approx(np.tanh(0.9))
    assert trace(y3).edges[0].formula == "3·(1 − tanh²(3·x))"
    with pytest.raises(TypeError, match="constant 'c'"):
        scaled_tanh(Value(0.3), Value(2.0))


def test_no_grad_anomaly_scopes_and_float32_behave_as_for_built_ins():
    softsign = declare_softsign()
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with no_grad():
        y = softsign(x)
    assert not y.requires_grad and y.parents == ()
    with no_grad():
        v = softsign(Value(1.0))
    assert v.parents == ()
    out = softsign(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
    with name_scope("block"):
        assert softsign(Value(1.0)).scope == "block"

    @op("reciprocal", forward="1/x", locals=("−1/x²",))
    def reciprocal(m, x):
        y = m.div(1.0, x)
        return y, (-y * y,)

    with detect_anomaly(), pytest.raises(AnomalyError, match="reciprocal") as caught:
        reciprocal(Value(0.0))
    assert caught.value.op == "reciprocal"


def test_wrong_count_or_shape_of_locals_is_refused_at_the_op():
    @op("two_locals", forward="2x", locals=("2",))
    def two_locals(m, x):
        return 2 * x, (2.0, 2.0)

    with pytest.raises(OpError, match="'two_locals'.*2 local derivative.*1 input"):
        two_locals(Value(1.0))

    @op("bad_shape", forward="x²", locals=("2x",))
    def bad_shape(m, x):
        return x * x, (np.ones(7),)

    with pytest.raises(ShapeError, match="'bad_shape'.*shape \\(7,\\).*\\(3,\\)"):
        bad_shape(Tensor(np.ones(3), requires_grad=True))
    with pytest.raises(ShapeError, match="'bad_shape'.*must be a number"):
        bad_shape(Value(1.0))

    @op("reduces", forward="Σx", locals=("1",))
    def reduces(m, x):
        return x.sum(), (1.0,)

    with pytest.raises(ShapeError, match="broadcast shape"):
        reduces(Tensor(np.ones(3), requires_grad=True))


def test_names_are_registered_once_unless_replaced_and_built_ins_never():
    declare_softsign()
    with pytest.raises(OpError, match="already registered.*replace=True"):
        declare_softsign()
    again = declare_softsign(replace=True)
    assert again(Value(1.0)).data == pytest.approx(0.5)
    for builtin in ("tanh", "matmul"):
        with pytest.raises(OpError, match="built-in"):
            op(builtin, forward="x", locals=("1",), replace=True)
    assert RULES["tanh"].forward == "tanh(x)"


@pytest.mark.parametrize(
    "declare, error, message",
    [
        (lambda: op("f", forward="x", locals=()), OpError, "one local-derivative formula per input"),
        (lambda: op("f", forward="x", locals="1"), OpError, "tuple with one formula per input"),
        (lambda: op(3, forward="x", locals=("1",)), TypeError, "name must be a str"),
        (lambda: op("no name", forward="x", locals=("1",)), OpError, "identifier"),
        (lambda: op("f", forward=None, locals=("1",)), TypeError, "forward"),
        (lambda: op("f", forward="x", locals=("1",))(42), TypeError, "decorate a function"),
        (
            lambda: op("f", forward="a·b", locals=("b",))(lambda m, a, b: (a * b, (b, a))),
            OpError,
            "must take m, 1 input",
        ),
        (
            lambda: op("f", forward="x", locals=("1", "1"))(lambda m, x: (x, (1.0,))),
            OpError,
            "2 local derivative.*<lambda>\\(m, x\\)",
        ),
    ],
)
def test_bad_declarations_are_refused_clearly(declare, error, message):
    with pytest.raises(error, match=message):
        declare()
    assert "f" not in RULES


def test_expression_parser_calls_ops_registered_for_it():
    declare_softsign(expression=True)
    assert "softsign" in FUNCTIONS
    y, leaves = build("softsign(w*x)", {"w": 2.0, "x": 0.5})
    y.backward()
    assert leaves["x"].grad == pytest.approx(2 / (1 + 1.0) ** 2)  # chain rule by hand: w/(1+|wx|)²
    with pytest.raises(ExpressionError, match="softsign takes 1"):
        build("softsign(x, x)", {"x": 1.0})
    user_ops.remove("softsign")
    assert "softsign" not in FUNCTIONS


class Cumsum(Local):
    """∂(cumsum x)/∂x applied to an upstream g: the reversed cumulative sum of g."""

    def __init__(self, wrong=False):
        self.wrong = wrong

    def __mul__(self, upstream):
        g = np.cumsum(upstream[::-1])[::-1]
        return g[:-1] if self.wrong else g

    def summary(self):
        return "reverse cumsum"


def test_tensor_only_op_with_a_linear_map_local():
    @op("cumsum", forward="yᵢ = Σ_{j≤i} xⱼ", locals=("reverse cumsum of the upstream",), elementwise=False)
    def cumsum(m, x):
        return np.cumsum(x), (Cumsum(),)

    x = Tensor(np.array([0.5, -1.0, 2.0, 3.0]), requires_grad=True, label="x")
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    (cumsum(x) * Tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, [10.0, 9.0, 7.0, 4.0])  # Σ_{i≥j} wᵢ by hand
    assert gradcheck(cumsum, Tensor(x.data, requires_grad=True)).ok
    with pytest.raises(TypeError, match="tensor-only"):
        cumsum(Value(1.0))

    @op("cumsum_bad", forward="cumsum", locals=("…",), elementwise=False)
    def cumsum_bad(m, x):
        return np.cumsum(x), (Cumsum(wrong=True),)

    with pytest.raises(ShapeError, match="'cumsum_bad'.*shape \\(4,\\)"):
        cumsum_bad(x)

    @op("cumsum_nomap", forward="cumsum", locals=("…",), elementwise=False)
    def cumsum_nomap(m, x):
        return np.cumsum(x), (object(),)

    with pytest.raises(TypeError, match="linear-map local"):
        cumsum_nomap(x)


def test_own_op_example_runs_and_draws(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "own_op.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "caught: check_op 'softsign_bug', gradient" in done.stdout
    assert "1 failed" in done.stdout
    assert (tmp_path / "own_op_check.png").stat().st_size > 1000


def test_cli_graph_calls_an_op_declared_in_an_ops_file(tmp_path, capsys):
    from tinygrad_edu.cli import main

    ops_file = tmp_path / "my_ops.py"
    ops_file.write_text(
        "from tinygrad_edu import op\n\n"
        '@op("softsign", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",), expression=True)\n'
        "def softsign(m, x):\n"
        "    d = 1 + m.abs(x)\n"
        "    return x / d, (1 / (d * d),)\n",
        encoding="utf-8",
    )
    args = ["graph", "softsign(w*x)", "--set", "w=2", "--set", "x=0.5", "--format", "dot"]
    assert main([*args, "--ops", str(ops_file), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "df/dx = 0.25 × 2 = 0.5" in printed  # softsign'(1) = 1/(1+1)² = 0.25, times w = 2
    assert "softsign" in (tmp_path / "graph.dot").read_text(encoding="utf-8")
    user_ops.remove("softsign")
    assert main([*args, "--out", str(tmp_path)]) == 2  # without --ops it is unknown
    assert "unknown function 'softsign'" in capsys.readouterr().err
    assert main([*args, "--ops", str(tmp_path / "missing.py"), "--out", str(tmp_path)]) == 2


def test_viewer_page_shows_the_user_op_and_its_formula(tmp_path):
    softsign = declare_softsign()
    h = Value(0.7, label="h")
    y = softsign(h)
    y.backward()
    page = viz.viewer(y, tmp_path / "page.html").read_text(encoding="utf-8")
    assert "softsign" in page and "1 / (1 + |h|)²" in page
