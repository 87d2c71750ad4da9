"""The safe expression parser: allow-list, one leaf per variable, typed errors, fuzzed against floats."""

from __future__ import annotations

import ast
import builtins
import math
from contextlib import contextmanager

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_edu import trace
from tinygrad_edu.expr import (
    FUNCTIONS,
    MAX_LENGTH,
    ExpressionError,
    build,
    parse,
    parse_assignment,
    parse_assignments,
)


def test_builds_the_graph_and_gradients():
    y, leaves = build("tanh(w*x + b)", {"x": 0.5, "w": -1.5, "b": 0.8})
    y.backward()
    z = -1.5 * 0.5 + 0.8
    assert y.data == pytest.approx(math.tanh(z))
    assert y.op == "tanh"
    assert leaves["w"].grad == pytest.approx((1 - math.tanh(z) ** 2) * 0.5)
    assert leaves["x"].grad == pytest.approx((1 - math.tanh(z) ** 2) * -1.5)
    assert leaves["b"].grad == pytest.approx(1 - math.tanh(z) ** 2)


def test_each_variable_is_one_labelled_leaf():
    y, leaves = build("x*x + sin(x) * y - x", {"x": 0.3, "y": 2.0})
    y.backward()
    graph = trace(y)
    labelled = [node for node in graph.leaves if node.label]
    assert sorted(node.label for node in labelled) == ["x", "y"]
    assert leaves["x"] in labelled
    assert leaves["x"].grad == pytest.approx(2 * 0.3 + math.cos(0.3) * 2.0 - 1)


def test_parse_lists_variables_in_order_of_appearance():
    assert parse("sigmoid(x)**2 / (1 + exp(-y)) + x").variables == ("x", "y")
    assert parse("3 * 4").variables == ()


def test_constant_exponent_is_a_node_constant_and_variable_exponent_an_edge():
    y, _ = build("x ** 3", {"x": 2.0})
    assert y.op == "pow_const" and y.arg == 3.0 and len(y.parents) == 1
    y, leaves = build("x ** p", {"x": 2.0, "p": 3.0})
    y.backward()
    assert y.op == "pow" and leaves["p"].grad == pytest.approx(8 * math.log(2))


def test_negative_literals_are_constants_and_negation_of_a_power_binds_like_python():
    assert build("-2 ** 2", {})[0].data == -4.0
    assert build("(-2) ** 2", {})[0].data == 4.0
    assert build("x ** -1", {"x": 4.0})[0].data == 0.25
    assert build("leaky_relu(x, 0.1)", {"x": -2.0})[0].data == pytest.approx(-0.2)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("tanh(x", "bad syntax"),
        ("x +", "bad syntax"),
        ("foo(x)", "unknown function 'foo'; known functions: abs, cos"),
        ("x.real", "attribute access"),
        ("x[0]", "subscripts"),
        ("(lambda: 1)", "lambda"),
        ("[a for a in b]", "comprehensions"),
        ("x if y else z", "conditional"),
        ("x < y", "comparisons"),
        ("x // 2", "unsupported operator //"),
        ("x ^ 2", "use ** for powers"),
        ("'text'", "str constants"),
        ("True", "bool constants"),
        ("1j", "complex"),
        ("2 ** 99999", "exponent 99999 is too large"),
        ("1e999", "too large"),
        ("tanh", "is a function"),
        ("tanh(x, y)", "exactly 1 argument"),
        ("exp(x=1)", "keyword"),
        ("leaky_relu(x, y)", "slope"),
        ("__import__('os').system('true')", "only the functions"),
        ("", "empty"),
        ("-" * 200 + "x", "nests deeper"),
        ("x" * (MAX_LENGTH + 1), "characters long"),
    ],
)
def test_bad_expressions_raise_expression_error(source, fragment):
    with pytest.raises(ExpressionError) as info:
        parse(source)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_errors_point_at_the_offending_column():
    with pytest.raises(ExpressionError) as info:
        parse("x + foo(y)")
    assert info.value.column == 5
    assert "\n      ^" in str(info.value)
    with pytest.raises(ExpressionError) as info:
        parse("σ + x.y")  # a non-ASCII name before: columns count characters, not bytes
    assert info.value.column == 5


def test_missing_and_unused_values_are_named():
    with pytest.raises(ExpressionError, match=r"no value for y \(give one with --set y=\.\.\.\)"):
        build("x + y", {"x": 1.0})
    with pytest.raises(ExpressionError, match="value given for z"):
        build("x + y", {"x": 1.0, "y": 2.0, "z": 3.0})
    with pytest.raises(ExpressionError, match="must be a real number"):
        build("x", {"x": "1"})


@pytest.mark.parametrize(
    "text, expected", [("x=0.5", ("x", 0.5)), (" w = -1.5e-2 ", ("w", -0.015)), ("b=3", ("b", 3.0))]
)
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x", "expected NAME=NUMBER such as x=0.5, got 'x'"),
        ("x=", "the value of 'x' must be a number, got ''"),
        ("=1", "'' is not a variable name (in '=1')"),
        ("x=abc", "the value of 'x' must be a number, got 'abc'"),
        ("1x=2", "'1x' is not a variable name (in '1x=2')"),
        ("tanh=1", "'tanh' is a function, not a variable (in 'tanh=1')"),
        ("x=" + "1" * 100, "the number for 'x' is too long (100 characters)"),
    ],
)
def test_parse_assignment_rejects(text, fragment):
    with pytest.raises(ExpressionError) as info:
        parse_assignment(text)
    assert fragment in str(info.value)


def test_parse_assignments_collects_every_value_and_refuses_repeats():
    assert parse_assignments(["x=0.5", " w = -1.5 "]) == {"x": 0.5, "w": -1.5}
    assert parse_assignments([]) == {}
    with pytest.raises(ExpressionError, match=r"--set x=\.\.\. is given twice"):
        parse_assignments(["x=1", "y=2", "x=2"])
    with pytest.raises(ExpressionError, match="must be a number"):
        parse_assignments(["x=1", "y=abc"])


# --- fuzzing ------------------------------------------------------------------------------

# A float reference for every function, written with ``math`` (same formulas as the engine's
# numerics, so any difference means the parser built the wrong graph, not a rounding change).


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


REFERENCE = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: max(x, 0.0),
    "leaky_relu": lambda x: x if x > 0 else 0.01 * x,
    "softplus": _softplus,
    "log_sigmoid": lambda x: -_softplus(-x),
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
}
assert set(REFERENCE) == set(FUNCTIONS)

VARIABLES = ("v", "w", "z")  # letters no function name contains


def _leaf():
    names = st.sampled_from(VARIABLES).map(lambda n: (n, lambda env, n=n: env[n]))
    numbers = st.sampled_from(["0.5", "2", "1.5", "3", "0.25"]).map(lambda s: (s, lambda env, v=float(s): v))
    return names | numbers


def _extend(children):
    def binary(pair):
        (a, fa), op, (b, fb) = pair
        ops = {
            "+": lambda u, v: u + v,
            "-": lambda u, v: u - v,
            "*": lambda u, v: u * v,
            "/": lambda u, v: u / v,
        }
        return f"({a} {op} {b})", lambda env: ops[op](fa(env), fb(env))

    def call(pair):
        name, (a, fa) = pair
        return f"{name}({a})", lambda env: REFERENCE[name](fa(env))

    def power(pair):
        (a, fa), p = pair
        return f"({a}) ** {p}", lambda env: fa(env) ** p

    return (
        st.tuples(children, st.sampled_from("+-*/"), children).map(binary)
        | st.tuples(st.sampled_from(sorted(FUNCTIONS)), children).map(call)
        | st.tuples(children, st.sampled_from([2, 3, -1])).map(power)
        | children.map(lambda c: (f"-({c[0]})", lambda env: -c[1](env)))
    )


expressions = st.recursive(_leaf(), _extend, max_leaves=8)
values = st.floats(-2.0, 2.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@given(expressions, values, values, values)
def test_fuzz_generated_expressions_match_a_float_reference(expression, v, w, z):
    source, reference = expression
    env = {"v": v, "w": w, "z": z}
    try:
        expected = reference(env)
    except (ValueError, ZeroDivisionError, OverflowError):
        expected = math.nan  # math raises where IEEE gives nan/inf
    assume(isinstance(expected, float) and math.isfinite(expected) and abs(expected) < 1e12)
    parsed = parse(source)
    root, leaves = parsed.build({name: env[name] for name in parsed.variables})
    assert root.data == pytest.approx(expected, rel=1e-9, abs=1e-12), source
    assert set(leaves) == {name for name in VARIABLES if name in source}


@contextmanager
def no_code_execution():
    """Forbid eval/exec and every compile() except ast.parse's (which only builds a syntax tree)."""
    real_compile = builtins.compile

    def guarded_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("the parser compiled code")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("the parser evaluated code")

    saved = builtins.eval, builtins.exec, builtins.compile
    builtins.eval, builtins.exec, builtins.compile = forbidden, forbidden, guarded_compile
    try:
        yield
    finally:
        builtins.eval, builtins.exec, builtins.compile = saved


@given(st.text(max_size=60) | st.text(alphabet="xyw()+-*/.,0123456789eE _[]:'\"=lambdasig", max_size=40))
def test_fuzz_any_text_never_runs_code_and_fails_only_with_expression_error(text):
    with no_code_execution():
        try:
            parsed = parse(text)
            root, leaves = parsed.build({name: 0.5 for name in parsed.variables})
        except ExpressionError:
            return
    # accepted text: one leaf per variable, all plain names, and an operation node at the root
    assert all(name.isidentifier() and name not in FUNCTIONS for name in parsed.variables)
    assert list(leaves) == list(parsed.variables)
    assert isinstance(root.data, float) and root.parents and root not in leaves.values()


def test_hostile_input_is_refused_without_side_effects(tmp_path):
    marker = tmp_path / "pwned"
    for source in [
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w')",
        "().__class__.__bases__[0].__subclasses__()",
        "[x for x in ().__class__.__mro__]",
    ]:
        with no_code_execution(), pytest.raises(ExpressionError):
            parsed = parse(source)
            parsed.build({name: 1.0 for name in parsed.variables})
    assert not marker.exists()
