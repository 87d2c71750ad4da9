"""Numbers as text: one format for each kind of number the engine shows, shared by every printout.

A learner checks the chain rule by comparing numbers across places — a line of
``Graph.chain_rule_text``, the label on an edge of a picture, a row of a diagnosis table, a CLI answer —
so the same quantity has to print the same way in all of them. Each kind of number has one
function here, and everything that writes numbers for people (graph, formulas, viz, optim,
diagnostics, the CLI, the torch bridge) calls it:

* :func:`short_number` — a measured value (data, grad, local, gain): ``0.00517``, ``1.2e+08``;
* :func:`exact_number` — a constant inside a formula (the ``0.5`` of ``x**0.5``): ``2``, ``0.1``;
* :func:`short_array` — an array in a one-line message or repr: ``array(shape=(64, 3), ‖·‖=13.9)``;
* :func:`short_value` — anything a node holds: a number or an array as above;
* :func:`shape_text` — the size of a tensor as maths writes it: ``4×3``, ``scalar``;
* :func:`optional_number` — a table cell that may not be measured: ``—``;
* :func:`percent` — a fraction of units (saturated, dead): ``37%``.

This module sits at the bottom of the layering: it imports only the standard library, numpy
and :mod:`tinygrad_edu.numerics` (for the one overflow-safe norm), so any module may use it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .numerics import norm

#: How many significant digits a measured number shows.
SIGNIFICANT_DIGITS = 3
#: Arrays with at most this many entries print their entries; larger ones their shape and norm.
SHORT_ARRAY_SIZE = 4
#: What a table shows for a quantity that was not measured (not ``nan``: that would claim a value).
MISSING = "—"


def short_number(x: Any) -> str:
    """A measured number in 3 significant digits: ``0.00517``, ``-3``, ``1.2e+08``; ``0`` for ±0.

    Why 3 digits: it is what fits in a box of a picture and what a reader compares by eye
    (``0.659 × 0.341 = 0.225``), and it is the precision a gradient check needs to be *read*
    (the check itself compares the exact floats). The text is ``x`` rounded to the nearest
    3-digit decimal (Python's ``g`` format), so it reads back within half a unit of the third
    significant digit. Large and small magnitudes switch to exponent form (``1.2e+08``,
    ``1e-05``) so a vanished or exploded gradient is never shown as ``0.00000``.

    ``-0.0`` prints as ``0``: a sign on a zero gradient only confuses (it is no gradient either
    way). ``nan``, ``inf`` and ``-inf`` print as themselves, so a broken value is never hidden.
    """
    x = float(x)
    return "0" if x == 0.0 else f"{x:.{SIGNIFICANT_DIGITS}g}"


def exact_number(x: Any) -> str:
    """A constant of a formula, written so that it reads back as the same float.

    ``2`` (not ``2.0``), ``0.1``, ``0.8371234``, ``1e+300``: the number next to a formula must be
    that formula evaluated, not roughly, so ``float(exact_number(x)) == x`` for every finite
    ``x`` (``repr`` is the shortest text with that property). Whole numbers below 10¹⁵ drop
    the ``.0``, as a person writes an exponent or a count; ``-0.0`` is ``0`` (equal as floats).
    """
    x = float(x)
    if x == 0.0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def short_array(a: np.ndarray) -> str:
    """An array in a one-line message or repr: its entries when it is small, else shape and norm.

    ``[ 0.5, -1. ]`` for up to 4 entries (numpy's text, at most 3 decimals); ``array(shape=(64,
    3), ‖·‖=13.9)`` above that, since an error message or a repr must stay one line whatever
    the size. The norm is the Frobenius norm of :func:`tinygrad_edu.numerics.norm` — the one
    the pictures and the gains use, overflow-safe: five entries of 1e200 give ``2.24e+200``,
    not ``inf``.
    """
    if a.size <= SHORT_ARRAY_SIZE:
        return np.array2string(a, precision=SIGNIFICANT_DIGITS, separator=", ")
    return f"array(shape={a.shape}, ‖·‖={short_number(norm(a))})"


def short_value(x: Any) -> str:
    """Whatever a node holds as its data, grad or local, in a few characters.

    A number goes through :func:`short_number`, an array through :func:`short_array`; anything
    else (a local linear map, ``None``) is shown by its ``repr``.
    """
    if isinstance(x, (float, int, np.number)):
        return short_number(x)
    if isinstance(x, np.ndarray):
        return short_array(x)
    return repr(x)


def shape_text(shape: tuple) -> str:
    """The size of a tensor as maths writes it: ``(4, 3)`` → ``4×3``; a 0-d array is a ``scalar``."""
    if not shape:
        return "scalar"
    return "×".join(str(int(n)) for n in shape)


def optional_number(x: Any, missing: str = MISSING) -> str:
    """:func:`short_number`, or ``missing`` (``—``) for a quantity that was not measured (``None``).

    A diagnosis table has cells for things a step may not have (no gradient yet, no optimiser
    step): ``—`` says "not measured", where ``nan`` would claim a measured, broken value.
    A repr passes ``missing="None"`` to say it the Python way.
    """
    return missing if x is None else short_number(x)


def percent(x: float | None, missing: str = MISSING) -> str:
    """A fraction of units in whole percent: ``0.371`` → ``37%``; ``—`` when not measured, ``nan``.

    Saturated or dead fractions are counts of units over a layer's width, so a whole percent is
    all the precision they have for the widths a learner trains.
    """
    if x is None:
        return missing
    return "nan" if math.isnan(x) else f"{100 * x:.0f}%"
