"""tinygrad_edu.formatting: each number format says what it claims, and everything shares it.

The checks are independent of the code's own formula (``f"{x:.3g}"``, ``repr``):

* a 3-digit text is read back with :class:`decimal.Decimal` (exact, no float rounding) and must
  lie within half a unit of the input's third significant digit, and read back as a float it
  must agree with the input to a relative 5e-3;
* an exact constant is read back with ``float`` and must be the same float;
* array texts are compared with hand-worked strings (norms worked out by hand: ‖(1e200,)×5‖ =
  √5·1e200, ‖arange(12)‖ = √506);
* the layering is read from the source with ``ast`` (the checker of ``test_architecture``).
"""

from __future__ import annotations

import ast
import decimal
import math
import sys
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_architecture import ROOT, import_graph, top_level_imports

import viz.style
from tinygrad_edu import Tensor, Value, formulas, graph, trace
from tinygrad_edu.diagnostics import report
from tinygrad_edu.formatting import (
    MISSING,
    exact_number,
    optional_number,
    percent,
    shape_text,
    short_array,
    short_number,
    short_value,
)
from viz.scene import build_scene

# --- short_number: 3 significant digits -------------------------------------------------------


def significant_digits(text: str) -> str:
    """The digits of a number's text that carry its value: no sign, point, exponent, leading 0s."""
    mantissa = text.lstrip("-").split("e")[0]
    return mantissa.replace(".", "").lstrip("0")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_short_number_is_within_half_a_unit_of_the_third_significant_digit(x):
    text = short_number(x)
    if x == 0.0:
        assert text == "0"  # ±0 alike: no sign on a zero
        return
    assert text.startswith("-") == (x < 0)
    assert 1 <= len(significant_digits(text)) <= 3, text
    with decimal.localcontext() as exact:
        exact.prec = 1000  # enough for every float's full decimal expansion: no rounding below
        value = Decimal(x)  # the float's exact binary value
        half_unit = Decimal(5).scaleb(value.adjusted() - 3)  # ½ · 10^(exponent of digit 1 − 2)
        assert abs(Decimal(text) - value) <= half_unit, (x, text)


@given(st.floats(min_value=-1e308, max_value=1e308, allow_subnormal=False))
def test_short_number_reads_back_within_a_relative_5e_3(x):
    # Bounded at 1e308: the largest floats round up to "1.8e+308", which is above every float.
    text = short_number(x)
    assert math.isclose(float(text), x, rel_tol=5e-3, abs_tol=0.0), (x, text)


@pytest.mark.parametrize(
    "x, text",
    [
        (0.0, "0"),
        (-0.0, "0"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (0.005171, "0.00517"),
        (-3.0, "-3"),
        (1.2e8, "1.2e+08"),
        (1e-5, "1e-05"),
        (0.6590011388859679, "0.659"),  # σ(0.66): the number the viewer tests pin
        (np.float32(0.1), "0.1"),  # numpy scalars and Python ints are numbers too
        (np.int64(-7), "-7"),
        (12345, "1.23e+04"),
    ],
)
def test_short_number_special_and_hand_checked_cases(x, text):
    assert short_number(x) == text


# --- exact_number: reads back as the same float -----------------------------------------------


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_exact_number_reads_back_as_the_same_float(x):
    text = exact_number(x)
    assert float(text) == x, (x, text)
    if x.is_integer() and abs(x) < 1e15:
        assert int(text) == x  # a whole number is written as one: "2", never "2.0"


@pytest.mark.parametrize(
    "x, text", [(2.0, "2"), (-3.0, "-3"), (0.1, "0.1"), (-0.0, "0"), (0.5, "0.5"), (1e300, "1e+300")]
)
def test_exact_number_hand_checked_cases(x, text):
    assert exact_number(x) == text


# --- arrays, shapes, missing numbers, percents -------------------------------------------------


@pytest.mark.parametrize(
    "array, text",
    [
        (np.array([0.5, -1.0]), "[ 0.5, -1. ]"),  # small: its entries, numpy's own text
        (np.zeros(3), "[0., 0., 0.]"),
        (np.array([[1.0, 2.0], [3.0, 4.0]]), "[[1., 2.],\n [3., 4.]]"),  # 4 entries: still shown
        (np.array(0.25), "0.25"),  # 0-d
        (np.full(5, 1e200), "array(shape=(5,), ‖·‖=2.24e+200)"),  # √5 · 1e200, not inf
        (np.ones((64, 3)), "array(shape=(64, 3), ‖·‖=13.9)"),  # √192 = 13.856
        (np.arange(12.0).reshape(3, 4), "array(shape=(3, 4), ‖·‖=22.5)"),  # √(0²+…+11²) = √506
        (np.array([1.0, np.nan, 0.0, 0.0, 0.0]), "array(shape=(5,), ‖·‖=nan)"),
        (np.zeros((0, 7)), "[]"),
    ],
)
def test_short_array_hand_checked_cases(array, text):
    assert short_array(array) == text
    assert short_value(array) == text


def test_short_value_takes_whatever_a_node_holds():
    assert short_value(-0.0) == "0" and short_value(np.float64(2.5)) == "2.5" and short_value(3) == "3"
    assert short_value(None) == "None"
    leaf = Tensor(np.ones((3, 2)), requires_grad=True).sum().parents[0]
    assert short_value(leaf.data) == "array(shape=(3, 2), ‖·‖=2.45)"  # √6 = 2.449


@pytest.mark.parametrize(
    "shape, text", [((), "scalar"), ((4, 3), "4×3"), ((7,), "7"), ((np.int64(2), 5), "2×5"), ((0, 3), "0×3")]
)
def test_shape_text(shape, text):
    assert shape_text(shape) == text


def test_optional_number_and_percent():
    assert optional_number(None) == MISSING == "—"
    assert optional_number(None, missing="None") == "None"
    assert optional_number(0.5) == "0.5" and optional_number(math.nan) == "nan"
    assert optional_number(-0.0) == "0"
    assert percent(None) == "—" and percent(math.nan) == "nan"
    assert percent(0.371) == "37%" and percent(1.0) == "100%" and percent(0.0) == "0%"
    assert percent(0.005) == "0%" and percent(0.996) == "100%"  # whole percent, rounded to nearest


# --- the old names still work, as the shared functions ---------------------------------------


def test_the_public_names_are_the_shared_formats():
    assert graph.fmt is short_value
    assert formulas.fmt_number is short_number and formulas.exact_number is exact_number
    assert viz.style.fmt is short_number and viz.style.fmt_shape is shape_text
    assert report.fmt_number is optional_number and report.fmt_percent is percent


def test_a_printout_and_a_picture_print_the_same_numbers():
    """The chain-rule text and the picture's label show one gradient in one text."""
    x = Value(0.3, label="x")
    y = (x * -2.0).tanh()
    y.backward()
    text = trace(y).chain_rule_text(x)
    expected = 2.0 * (1.0 - math.tanh(0.6) ** 2) * -1.0  # ∂tanh(−2x)/∂x by hand: −2·(1 − tanh²(0.6))
    assert f"x.grad = {short_number(expected)} after backward()" in text
    assert short_number(expected) == "-1.42"
    (box,) = [n for n in build_scene(y).nodes if n.title == "x"]
    assert ("grad", short_number(expected)) in box.rows


# --- the layering -----------------------------------------------------------------------------

#: Modules that write numbers for people, and so must use the shared formats.
USERS = (
    "tinygrad_edu.graph",
    "tinygrad_edu.formulas",
    "tinygrad_edu.optim",
    "tinygrad_edu.layers",
    "tinygrad_edu.cli",
    "tinygrad_edu.diagnostics.report",
    "tinygrad_edu.diagnostics.judge",
    "tinygrad_edu.diagnostics.predict",
    "tinygrad_edu.torch_bridge.nodes",
    "tinygrad_edu.tensor_rules.reductions",
    "tinygrad_edu.testing.report",
    "viz.style",
    "viz.torch_command",
    "viz.viewer.command",
)


def test_formatting_sits_at_the_bottom_of_the_layering():
    edges, _ = import_graph()
    assert edges["tinygrad_edu.formatting"] <= {"tinygrad_edu.numerics"}
    tree = ast.parse((ROOT / "tinygrad_edu" / "formatting.py").read_text(encoding="utf-8"))
    for statement in ast.walk(tree):  # deferred imports too: nothing but stdlib, numpy, numerics
        if isinstance(statement, ast.Import):
            names = [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom):
            names = [("." * statement.level) + (statement.module or "")]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert name == ".numerics" or top in sys.stdlib_module_names or top == "numpy", name
    assert list(top_level_imports(tree))  # the walker sees the module's imports at all


@pytest.mark.parametrize("module", USERS)
def test_the_number_writers_import_the_shared_formats(module):
    edges, _ = import_graph()
    assert "tinygrad_edu.formatting" in edges[module]
