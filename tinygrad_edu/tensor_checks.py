"""Checks and messages for :mod:`tinygrad_edu.tensor`: every bad input is refused here, before a node exists.

Each function validates one kind of argument a user passes to a tensor op — the data of a
new tensor, a pair of shapes that must broadcast, an axis, a new shape, a permutation, an
index, a list of tensors — and either returns it in the normal form the op's rule expects
(``axis=-1`` → ``1``, ``reshape(2, -1)`` → ``(2, 3)``, a Tensor index → an integer array) or
raises a TypeError, ShapeError or IndexError that names the op, the shapes and the value.
:func:`check_forward` is the check of anomaly mode: the first op whose result is not finite.

Nothing here builds a node, so the op methods of ``Tensor`` call these directly (one call,
no wrapper) and the hot path of node construction stays in ``tensor.py``.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

# The module, not the class: tensor.py imports this file before it defines Tensor, so the
# class is looked up (``tensor.Tensor``) when a check runs.
from . import graph, rules, tensor
from . import tensor_rules as trules
from .errors import AnomalyError, ShapeError
from .numerics import to_float
from .scalar import Value

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# --- data of a new tensor ----------------------------------------------------------------------


def to_array(data: Any, where: str) -> np.ndarray:
    """``data`` as a fresh float32/float64 array, or a TypeError that says what is wrong."""
    if isinstance(data, tensor.Tensor):
        data = data.data
    elif isinstance(data, Value):
        raise TypeError(
            f"{where}: cannot mix Value and Tensor: got {data!r}; pass value.data (a float) to make a Tensor"
        )
    if data is None:
        raise TypeError(f"{where}: expected numbers, got None")
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{where}: expected numbers, got a {type(data).__name__} ({data!r:.40})")
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, (list, tuple)) and any(isinstance(item, (tensor.Tensor, Value)) for item in data):
        # np.asarray would read the numbers out of the Tensors and silently cut the graph
        raise TypeError(
            f"{where}: the data holds Tensors or Values; join tensors with tinygrad_edu.stack or "
            "concatenate (they keep the graph), or pass their .data"
        )
    else:
        try:
            array = np.asarray(data)
        except ValueError as error:
            raise TypeError(
                f"{where}: ragged data (nested sequences of different lengths) cannot form an array: {error}"
            ) from None
    kind = array.dtype.kind
    if kind == "f":
        dtype = array.dtype if array.dtype in _FLOATS else np.dtype(np.float64)
    elif kind in "biu":
        dtype = np.dtype(np.float64)
    elif kind == "c":
        raise TypeError(f"{where}: complex numbers are not supported (got dtype {array.dtype})")
    elif kind == "O":
        if array.size and all(_is_number(item) for item in array.flat):
            # Python ints beyond int64 (10**400): numpy keeps them as objects. IEEE rounds each
            # to the nearest float64, ±inf for those beyond the float range.
            return np.array([to_float(item) for item in array.flat], dtype=np.float64).reshape(array.shape)
        raise TypeError(_object_message(where, array))
    else:
        raise TypeError(f"{where}: expected numeric data, got dtype {array.dtype} ({data!r:.40})")
    return np.array(array, dtype=dtype, copy=True)


def _is_number(item: Any) -> bool:
    return isinstance(item, (Real, np.number)) and not isinstance(item, (Value, complex, np.complexfloating))


def _object_message(where: str, array: np.ndarray) -> str:
    """Why numpy could only hold ``array`` as objects: Values, Tensors, or which item is no number."""
    items = list(array.flat)
    if any(isinstance(item, Value) for item in items):
        return f"{where}: cannot mix Value and Tensor: the data holds Values; use [v.data for v in values]"
    if any(isinstance(item, tensor.Tensor) for item in items):
        return f"{where}: the data holds Tensors; join tensors with tinygrad_edu.stack or concatenate"
    odd = [item for item in items if not isinstance(item, (Real, np.number))]
    if not odd:
        return f"{where}: ragged or mixed data cannot form a numeric array"
    odd = odd[0]
    return f"{where}: expected numbers, found {type(odd).__name__} ({odd!r:.40}) in the data"


# --- operands, axes, shapes, indices (called before anything is built) -----------------------


def check_broadcast(op: str, sa: tuple, sb: tuple) -> None:
    """Raise a ShapeError naming the op and both shapes if they do not broadcast."""
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        symbol = rules.RULES[op].symbol
        pairs = [(x, y) for x, y in zip(reversed(sa), reversed(sb)) if x != y and x != 1 and y != 1]
        x, y = pairs[0]
        raise ShapeError(
            f"{op} ({symbol}): shapes {sa} and {sb} do not broadcast: numpy compares trailing axes, "
            f"which must be equal or 1, and here {x} meets {y}"
        ) from None


def check_axis(op: str, axis: Any, shape: tuple) -> int:
    """``axis`` (an int, negative counts from the end) as an index in ``0 … ndim − 1``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__} ({axis!r})")
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        allowed = f"-{ndim} … {ndim - 1}" if ndim else "none: the tensor is 0-d"
        raise ShapeError(f"{op}: axis {axis} is out of range for shape {shape} (valid axes: {allowed})")
    return int(axis) % ndim


def reduce_arg(op: str, x: tensor.Tensor, axis: Any, keepdims: Any) -> trules.ReduceArg:
    """The ``arg`` of a reduction: ``axis`` (None, an int, a tuple) as sorted distinct axes, and keepdims."""
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdims must be True or False, got {keepdims!r}")
    if axis is None:
        return trules.ReduceArg(None, bool(keepdims))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    normal = tuple(sorted(check_axis(op, a, x.shape) for a in axes))
    if len(set(normal)) != len(normal):
        raise ShapeError(f"{op}: axis {axis!r} names an axis twice (shape {x.shape})")
    return trules.ReduceArg(normal, bool(keepdims))


def refuse_empty(op: str, x: tensor.Tensor, axis: tuple | None) -> None:
    """mean, max and logsumexp of no elements are undefined: refuse them (sum of none is 0)."""
    if trules.reduce_size(x.shape, axis) == 0:
        where = "" if axis is None else f" over axes {axis}"
        raise ShapeError(
            f"{op}: nothing to reduce{where}: the tensor of shape {x.shape} has no elements there"
        )


def one_axis(op: str, x: tensor.Tensor, axis: Any) -> int:
    """The one axis softmax and log_softmax normalise along."""
    if not x.ndim:
        raise ShapeError(f"{op}: needs a tensor with at least 1 axis, got shape ()")
    return check_axis(op, axis, x.shape)


def new_shape(x: tensor.Tensor, shape: tuple) -> tuple:
    """The shape ``reshape(*shape)`` asks for, with a -1 worked out; same number of elements."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"reshape: sizes must be ints, got {size!r} in {shape}")
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"reshape: bad shape {shape}: sizes must be ≥ 0, with at most one -1")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or x.size % known:
            raise ShapeError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}"
            )
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape} "
            f"({int(np.prod(shape, dtype=np.int64))} elements)"
        )
    return shape


def permutation(op: str, x: tensor.Tensor, axes: tuple) -> tuple:
    """The axes of ``transpose``/``permute`` as a permutation of ``0 … ndim − 1`` (none: reversed)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        return tuple(reversed(range(x.ndim)))
    if len(axes) != x.ndim:
        raise ShapeError(f"{op}: {axes} must name each of the {x.ndim} axes of shape {x.shape} once")
    normal = tuple(check_axis(op, a, x.shape) for a in axes)
    if sorted(normal) != list(range(x.ndim)):
        raise ShapeError(f"{op}: {axes} is not a permutation of the axes of shape {x.shape}")
    return normal


def normalize_index(index: Any) -> Any:
    """Indices as numpy takes them; Tensor/list indices become integer or boolean arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    normal = []
    for part in parts:
        if isinstance(part, Value):
            raise TypeError("getitem: cannot mix Value and Tensor: index with int(value.data)")
        if isinstance(part, tensor.Tensor):
            part = part.data
            if not np.all(part == np.round(part)):
                raise IndexError(
                    f"getitem: a Tensor used as an index must hold whole numbers, got {part!r:.60}"
                )
            part = part.astype(np.intp)
        elif isinstance(part, (list, np.ndarray)):
            part = np.asarray(part)
            if part.size == 0 and part.dtype.kind == "f":
                part = part.astype(np.intp)
            if part.dtype.kind not in "biu":
                raise IndexError(
                    f"getitem: index arrays must hold integers or booleans, got dtype {part.dtype}"
                )
        elif isinstance(part, (float, np.floating, str)):
            raise IndexError(
                f"getitem: only integers, slices, None, ... and integer or boolean arrays are valid indices, "
                f"got {type(part).__name__} {part!r}"
            )
        normal.append(part)
    return tuple(normal) if isinstance(index, tuple) else normal[0]


def tensor_list(op: str, tensors: Any) -> list:
    """The inputs of ``concatenate``/``stack`` as a non-empty list of Tensors (arrays are converted)."""
    if isinstance(tensors, (tensor.Tensor, np.ndarray)) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ShapeError(f"{op}: needs at least one tensor")
    out = []
    for t in tensors:
        if isinstance(t, Value):
            raise TypeError(f"{op}: cannot mix Value and Tensor: got {t!r}")
        out.append(t if isinstance(t, tensor.Tensor) else tensor.Tensor(t))
    return out


# --- anomaly mode ---------------------------------------------------------------------------


def check_forward(op: str, data: np.ndarray, inputs: tuple) -> None:
    """Anomaly mode: refuse a result with nan/inf, naming the op, the first bad index and the inputs."""
    finite = np.isfinite(data)
    if finite.all():
        return
    first = tuple(int(i) for i in np.unravel_index(int(np.argmin(finite)), data.shape))
    count = finite.size - int(np.count_nonzero(finite))
    described = []
    for t in inputs:
        text = f"{graph.describe(t)}: shape {t.shape} {t.dtype}"
        if not np.all(np.isfinite(t.data)):
            text += " (already non-finite)"
        described.append(text)
    raise AnomalyError(
        f"forward: op {op!r} produced {data[first]} at index {first} ({count} of {data.size} values "
        f"non-finite) from inputs ({'; '.join(described)})",
        op=op,
        phase="forward",
    )
