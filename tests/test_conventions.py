"""The README's table "Conventions at kinks and non-finite inputs", row by row.

Each row of the table has an entry in :data:`ROWS`: the two cells as the README prints them, how
to compute our value (through ``Value`` and ``Tensor``) and PyTorch's (through PyTorch, when it
is installed), and the values derived by hand from the maths and from PyTorch's derivative
formulas (``FunctionsManual.cpp``: ``pow_backward_self``, ``pow_backward_exponent``,
``threshold_backward`` ...). The README and this file must list the same rows.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, Value, binary_cross_entropy

INF, NAN = math.inf, math.nan
README = Path(__file__).resolve().parents[1] / "README.md"
ALPHA = 0.1
# Off CI a missing torch skips the PyTorch column; CI installs the torch extra, so there it fails.
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAS_TORCH and not os.environ.get("CI"), reason="torch is not installed (extra 'torch')"
)


def readme_rows() -> dict[str, tuple[str, str]]:
    """{case: (our cell, PyTorch's cell)} from the README section's table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Conventions at kinks and non-finite inputs", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("case", "---"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def same(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


# --- our side: each returns numbers, computed once through Value and once through Tensor -----------


def grad_of(fn, x):
    """(value, ∂) of a unary fn at x, by Value and by Tensor (they must agree)."""
    v = Value(x)
    y = fn(v)
    y.backward()
    t = Tensor([x], requires_grad=True)
    yt = fn(t)
    yt.sum().backward()
    assert same((y.data, v.grad), (yt.data[0], t.grad[0])), (y.data, v.grad, yt.data, t.grad)
    return y.data, v.grad


def pow_grads(a, b):
    va, vb = Value(a), Value(b)
    y = va**vb
    y.backward()
    ta, tb = Tensor([a], requires_grad=True), Tensor([b], requires_grad=True)
    (ta**tb).sum().backward()
    assert same((va.grad, vb.grad), (ta.grad[0], tb.grad[0]))
    return y.data, va.grad, vb.grad


def ours_max_tie():
    x = Tensor([1.0, 3.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    return tuple(x.grad)


def ours_pow0():
    return tuple(grad_of(lambda v: v**0, x)[1] for x in (INF, -INF, NAN)) + tuple(
        grad_of(lambda v: v**0, x)[0] for x in (INF, -INF, NAN)
    )


def ours_softmax_empty():
    x = Tensor(np.zeros((2, 0)), requires_grad=True)
    y, z = x.softmax(axis=-1), x.log_softmax(axis=-1)
    (y.sum() + z.sum()).backward()
    return y.shape, z.shape, x.grad.shape


def ours_reduce_empty():
    refused = []
    for op in ("mean", "max", "logsumexp"):
        try:
            getattr(Tensor(np.zeros((2, 0))), op)(axis=1)
        except ShapeError:
            refused.append(op)
    return tuple(refused)


def ours_bce():
    p = Tensor([0.0], requires_grad=True)
    loss = binary_cross_entropy(p, Tensor([1.0]))
    loss.backward()
    return loss.item(), p.grad[0]


def ours_huge_int():
    return (
        Value(10**400).data,
        Value(-(10**400)).data,
        float(Tensor(10**400).data),
        float(Tensor(-(10**400)).data),
    )


def ours_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would raise
        x = Tensor([INF, -INF, NAN, 0.0, 1e308], requires_grad=True)
        y = (x.exp() + x.log() + (x * x) + 1.0 / x + x.sqrt() + x.sin()).sum()
        y.backward()
    return "none"


# (README case, our cell, PyTorch's cell, ours(), our expected, torch(), torch's expected)
ROWS = {
    "`relu` at x = 0": ("∂ = 0", "∂ = 0", lambda: grad_of(lambda v: v.relu(), 0.0), (0.0, 0.0)),
    "`relu` at x = nan": ("∂ = 0", "∂ = 1", lambda: grad_of(lambda v: v.relu(), NAN), (NAN, 0.0)),
    "`abs` at x = 0": ("∂ = 0", "∂ = 0", lambda: grad_of(abs, 0.0), (0.0, 0.0)),
    "`leaky_relu(α)` at x = 0": (
        "∂ = α",
        "∂ = α",
        lambda: grad_of(lambda v: v.leaky_relu(ALPHA), 0.0),
        (0.0, ALPHA),
    ),
    "`max` over k tied maxima": (
        "1/k each",
        "1/k each (`max()`, `amax`)",
        ours_max_tie,
        (0.0, 1 / 3, 1 / 3, 1 / 3),
    ),
    "`a ** b` at a = 0, b = 0": ("1; ∂a = 0, ∂b = 0",) * 2 + (lambda: pow_grads(0.0, 0.0), (1.0, 0.0, 0.0)),
    "`a ** b` at a = 0, b = −1": ("inf; ∂a = −inf, ∂b = −inf",) * 2
    + (lambda: pow_grads(0.0, -1.0), (INF, -INF, -INF)),
    "`a ** b` at a = −2, b = 3": ("−8; ∂a = 12, ∂b = nan",) * 2
    + (lambda: pow_grads(-2.0, 3.0), (-8.0, 12.0, NAN)),
    "`x ** 0` at x = ±inf, nan": ("1; ∂ = 0", "1; ∂ = 0", ours_pow0, (0.0,) * 3 + (1.0,) * 3),
    "`log` at x = 0": ("−inf; ∂ = inf",) * 2 + (lambda: grad_of(lambda v: v.log(), 0.0), (-INF, INF)),
    "`sqrt` at x = 0": ("0; ∂ = inf",) * 2 + (lambda: grad_of(lambda v: v.sqrt(), 0.0), (0.0, INF)),
    "`softmax`, `log_softmax` over an empty axis": (
        "empty result",
        "empty result",
        ours_softmax_empty,
        ((2, 0), (2, 0), (2, 0)),
    ),
    "`mean`, `max`, `logsumexp` over an empty axis": (
        "ShapeError",
        "nan, error, −inf",
        ours_reduce_empty,
        ("mean", "max", "logsumexp"),
    ),
    "`binary_cross_entropy` at p = 0, t = 1": ("inf; ∂p = −inf", "100; ∂p = −1e+12", ours_bce, (INF, -INF)),
    "a Python int beyond the float range (`10**400`)": (
        "±inf",
        "error",
        ours_huge_int,
        (INF, -INF, INF, -INF),
    ),
    "numpy floating-point warnings in tensor ops": ("none", "none", ours_warnings, "none"),
}


def test_the_readme_table_and_this_file_list_the_same_rows_with_the_same_cells():
    rows = readme_rows()
    assert list(rows) == list(ROWS)
    for case, (ours_cell, torch_cell) in rows.items():
        assert (ours_cell, torch_cell) == ROWS[case][:2], case


@pytest.mark.parametrize("case", list(ROWS))
def test_our_column(case):
    _, _, compute, expected = ROWS[case]
    got = compute()
    if isinstance(expected, tuple) and all(isinstance(e, float) for e in expected):
        assert same(got, expected), (case, got, expected)
    else:
        assert got == expected, (case, got, expected)


# --- PyTorch's column, from PyTorch itself ---------------------------------------------------------


def torch_grad(fn, *xs):
    import torch

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    y = fn(*tensors)
    y.sum().backward()
    return (float(y.detach().sum()),) + tuple(float(t.grad.sum()) for t in tensors)


def torch_rows():
    import torch

    F = torch.nn.functional

    def empty_reductions():
        x = torch.zeros(2, 0, dtype=torch.float64)
        try:
            x.amax(1)
            max_refused = False
        except (RuntimeError, IndexError):
            max_refused = True
        return bool(torch.isnan(x.mean(1)).all()), max_refused, bool((x.logsumexp(1) == -INF).all())

    def tie():
        x = torch.tensor([1.0, 3.0, 3.0, 3.0], dtype=torch.float64, requires_grad=True)
        x.max().backward()
        a = x.grad.tolist()
        x.grad = None
        x.amax().backward()
        return tuple(a) + tuple(x.grad.tolist())

    def huge():
        try:
            torch.tensor(10**400)
        except (OverflowError, RuntimeError, ValueError):
            return "error"
        return "no error"

    def quiet():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x = torch.tensor([INF, -INF, NAN, 0.0, 1e308], dtype=torch.float64, requires_grad=True)
            (x.exp() + x.log() + x * x + 1.0 / x + x.sqrt() + x.sin()).sum().backward()
        return "none"

    def empty_softmax():
        x = torch.zeros(2, 0, dtype=torch.float64)
        return tuple(x.softmax(-1).shape), tuple(x.log_softmax(-1).shape)

    third = 1 / 3
    return {
        "`relu` at x = 0": (lambda: torch_grad(torch.relu, 0.0), (0.0, 0.0)),
        "`relu` at x = nan": (lambda: torch_grad(torch.relu, NAN), (NAN, 1.0)),
        "`abs` at x = 0": (lambda: torch_grad(torch.abs, 0.0), (0.0, 0.0)),
        "`leaky_relu(α)` at x = 0": (lambda: torch_grad(lambda x: F.leaky_relu(x, ALPHA), 0.0), (0.0, ALPHA)),
        "`max` over k tied maxima": (tie, (0.0, third, third, third) * 2),
        "`a ** b` at a = 0, b = 0": (lambda: torch_grad(torch.pow, 0.0, 0.0), (1.0, 0.0, 0.0)),
        "`a ** b` at a = 0, b = −1": (lambda: torch_grad(torch.pow, 0.0, -1.0), (INF, -INF, -INF)),
        "`a ** b` at a = −2, b = 3": (lambda: torch_grad(torch.pow, -2.0, 3.0), (-8.0, 12.0, NAN)),
        "`x ** 0` at x = ±inf, nan": (
            lambda: (
                tuple(torch_grad(lambda v: v**0, x)[1] for x in (INF, -INF, NAN))
                + tuple(torch_grad(lambda v: v**0, x)[0] for x in (INF, -INF, NAN))
            ),
            (0.0,) * 3 + (1.0,) * 3,
        ),
        "`log` at x = 0": (lambda: torch_grad(torch.log, 0.0), (-INF, INF)),
        "`sqrt` at x = 0": (lambda: torch_grad(torch.sqrt, 0.0), (0.0, INF)),
        "`softmax`, `log_softmax` over an empty axis": (empty_softmax, ((2, 0), (2, 0))),
        "`mean`, `max`, `logsumexp` over an empty axis": (empty_reductions, (True, True, True)),
        "`binary_cross_entropy` at p = 0, t = 1": (
            lambda: torch_grad(lambda p: F.binary_cross_entropy(p, torch.ones_like(p)), [0.0]),
            (100.0, -1e12),
        ),
        "a Python int beyond the float range (`10**400`)": (huge, "error"),
        "numpy floating-point warnings in tensor ops": (quiet, "none"),
    }


@needs_torch
@pytest.mark.parametrize("case", list(ROWS))
def test_pytorch_column(case):
    compute, expected = torch_rows()[case]
    got = compute()
    if case.startswith("`binary_cross_entropy`"):  # PyTorch's eps-clamped gradient is −1e12 only roughly
        assert got[0] == expected[0] and got[1] == pytest.approx(expected[1], rel=1e-6)
    elif isinstance(expected, tuple) and all(isinstance(e, float) for e in expected):
        assert same(got, expected), (case, got, expected)
    else:
        assert got == expected, (case, got, expected)


def test_the_cells_state_the_numbers_tested():
    # the numbers in each README cell are the ones the rows above compare (read back from text)
    def numbers(cell):
        cell = cell.replace("−", "-").replace("±", "")
        return [float(n) for n in re.findall(r"-?(?:inf|nan|\d+(?:\.\d+)?(?:e[+-]?\d+)?)", cell)]

    rows = readme_rows()
    assert numbers(rows["`a ** b` at a = 0, b = −1"][0]) == [INF, -INF, -INF]
    assert numbers(rows["`binary_cross_entropy` at p = 0, t = 1"][1]) == [100.0, -1e12]
    assert same(numbers(rows["`a ** b` at a = −2, b = 3"][0]), [-8.0, 12.0, NAN])
