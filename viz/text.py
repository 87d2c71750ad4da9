"""What boxes and arrows say in words: values, shapes, gradients, local derivatives, op arguments.

Scalars print as numbers (3 significant digits, :func:`viz.style.fmt`). Tensors print as a shape
and a one-line summary: their value when they hold one number, else mean and norm; a local
derivative as ``mean|·|`` of an elementwise derivative or as the ``summary()`` of a local object
(``Wᵀ, ‖W‖=2.8`` for a matmul).
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from tinygrad_edu import rules
from tinygrad_edu.node import Node

from . import style


def is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def takes_grad(node: Node) -> bool:
    return bool(getattr(node, "requires_grad", True))


def symbol(node: Node) -> str:
    """The op glyph, with the op's static argument when it is short (``x**3`` → ``^3``)."""
    if not node.op:
        return ""
    entry = rules.RULES.get(node.op)
    symbol = entry.symbol if entry is not None else node.op
    arg = arg_text(node.arg)
    if "softmax" in node.op and isinstance(node.arg, int):
        arg = f"axis={node.arg}"  # softmax's arg is the axis it normalises over
    if not arg:
        return symbol
    return f"^{arg}" if node.op == "pow_const" else f"{symbol} {arg}"


def arg_text(arg: Any) -> str:
    """A node's static argument in a few characters ("" when there is none or it is long).

    A number prints as itself (an exponent, a slope); a reduction's axes as ``axis=1``; a
    short tuple (a new shape) as itself. Anything longer is left to the tooltip of a viewer.
    """
    if arg is None or isinstance(arg, bool):
        return ""
    if isinstance(arg, Real):
        return style.fmt(arg)
    if hasattr(arg, "axis"):
        axis = arg.axis
        if axis is None:
            return ""
        if isinstance(axis, tuple) and len(axis) == 1:
            axis = axis[0]
        return f"axis={axis}"
    text = str(arg)
    return text if len(text) <= 16 else ""


def node_rows(node: Node, has_grad: bool):
    """``(name, text)`` rows of a node: data (or shape and summary), then the gradient."""
    data = node.data
    if data is None or is_array(data):  # None: a value nobody recorded (inner nodes of a torch graph)
        if data is None:
            yield ("data", "not recorded")
        else:
            dtype = "" if data.dtype == np.float64 else f" {data.dtype}"
            yield ("shape", style.fmt_shape(data.shape) + dtype)
            yield ("data", array_summary(data))
        if has_grad:
            if node.grad is None:
                yield ("grad", "none" if takes_grad(node) else "not required")
            else:
                yield ("grad", grad_text(node.grad))
    else:
        yield ("data", style.fmt(data))
        if has_grad:
            yield ("grad", style.fmt(node.grad))


def array_summary(x: np.ndarray) -> str:
    """A tensor in one short line: its value when it has one element, else mean and norm."""
    if x.size == 1:
        return style.fmt(x.reshape(-1)[0])
    if x.size == 0:
        return "empty"
    with np.errstate(all="ignore"):
        mean = float(np.mean(x, dtype=np.float64))
    return f"mean {style.fmt(mean)}, ‖·‖ {style.fmt(style.magnitude(x))}"


def grad_text(g: Any) -> str:
    """A gradient in one short line: the number, or ‖·‖ of an array (its value if one element)."""
    if isinstance(g, Real):
        return style.fmt(g)
    arr = np.asarray(g)
    if arr.size == 1:
        return style.fmt(arr.reshape(-1)[0])
    return "‖·‖ " + style.fmt(style.magnitude(arr))


def local_text(local: Any) -> str:
    """A local derivative in one short line.

    A number prints as itself; an elementwise array as ``mean|·|`` of its entries (for σ that
    is the mean |σ'|, at most 0.25); a small local object (matmul's ``·Wᵀ`` ...) by its own
    ``summary()``.
    """
    if isinstance(local, Real):
        return style.fmt(local)
    if is_array(local):
        if local.size == 1:
            return style.fmt(local.reshape(-1)[0])
        with np.errstate(all="ignore"):
            return "mean|·| " + style.fmt(float(np.mean(np.abs(local), dtype=np.float64)))
    summary = getattr(local, "summary", None)
    if callable(summary):
        return str(summary())
    return type(local).__name__
