"""The shared machinery of local derivatives that are not a plain number or an elementwise array.

For an elementwise op the local derivative ∂y/∂x is diagonal, so the graph stores it as an
array of the same shape and the backward loop's ``local * upstream`` is the chain rule. For
``@``, reductions, reshapes, indexing and softmax the Jacobian is a linear map that is too big
to store (a 128×256 matmul has a 32768×65536 Jacobian) but cheap to *apply*. Such a local is a
:class:`Local`: it stores the few numbers that define the map (the other operand, the reduced
axes, the softmax output ...) and applies it in ``__mul__(upstream)``: the vector-Jacobian
product. So the one loop in :mod:`tinygrad_edu.graph` stays ``contribution = local * upstream``
for every edge.

This module holds what every op shares: the base class :class:`Local`, :class:`Identity`,
:class:`Unbroadcast` (an operand that numpy broadcast gets its gradient summed back to its
shape), :class:`Cast` (an operand of another dtype gets its gradient cast back) and the small
helpers. Each op's own linear maps sit beside its forward, in the rule file of its family
(:mod:`tinygrad_edu.tensor_rules`: ``MatmulLeft`` in ``products.py``, ``Expand`` in
``reductions.py``, ``Scatter``/``Select`` in ``shapes.py``, the softmax maps in ``softmax.py``).

Every class has:

* ``__mul__(upstream)`` (and ``__rmul__``) → the gradient for the parent, a *fresh* ndarray of
  the parent's shape (except :class:`Identity`, which passes ``upstream`` on untouched and is
  only used towards intermediate nodes, so a leaf's ``.grad`` never shares memory);
* ``note`` → what the edge should add to its formula ("summed over axes (0,)"), "" if nothing;
* ``__repr__`` with numbers and shapes (what a debugger shows), and ``summary()``, a short
  string for pictures ("Wᵀ, ‖W‖=3.2").

There are no closures: a debugger shows the stored arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .formatting import short_value


def broadcast_axes(shape: tuple, target: tuple) -> tuple:
    """The axes of ``target`` along which an operand of ``shape`` was broadcast.

    Leading axes that ``shape`` lacks, plus axes where ``shape`` has size 1 and ``target``
    does not. Summing a ``target``-shaped gradient over them gives back ``shape``.
    """
    lead = len(target) - len(shape)
    axes = list(range(lead))
    for i, size in enumerate(shape):
        if size == 1 and target[lead + i] != 1:
            axes.append(lead + i)
    return tuple(axes)


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes along which ``shape`` was broadcast to ``g.shape`` (un-broadcast)."""
    if g.shape == shape:
        return g
    axes = broadcast_axes(shape, g.shape)
    return np.asarray(g.sum(axis=axes)).reshape(shape)


class Local:
    """Base of the local-derivative classes: a linear map applied by ``local * upstream``."""

    __slots__ = ()
    #: ``ndarray * local`` must not become an object array: numpy defers to ``__rmul__``.
    __array_ufunc__ = None

    @property
    def note(self) -> str:
        return ""

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __rmul__(self, upstream: np.ndarray) -> np.ndarray:
        return self.__mul__(upstream)

    def summary(self) -> str:
        return type(self).__name__


class Identity(Local):
    """∂y/∂x = 1 with y and x of the same shape: the upstream gradient passes through as is.

    Used instead of the number 1.0 (which would copy ``upstream`` for nothing) on edges into
    *intermediate* nodes; a leaf keeps the rule's 1.0 so that its ``.grad`` is its own array.
    """

    __slots__ = ()

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return upstream

    def __float__(self) -> float:
        return 1.0

    def __repr__(self) -> str:
        return "Identity(1)"

    def summary(self) -> str:
        return "1"


#: The one instance of :class:`Identity`.
IDENTITY = Identity()


class Unbroadcast(Local):
    """An elementwise local whose operand was broadcast: multiply, then sum back to its shape.

    If y = f(a, b) broadcasts a of shape (3,) to y of shape (4, 3), every a[j] was used in 4
    places, so ∂L/∂a[j] = Σᵢ local[i, j]·upstream[i, j]: the product summed over axis 0. This
    is where learners get lost, so :attr:`note` says which axes were summed.

    Also used for 0-d results (no axis to sum), because numpy returns a bare scalar for a
    0-d product and a gradient must be an ndarray.

    Attributes:
        local: the elementwise derivative (array, number, or :data:`IDENTITY`).
        shape: the operand's shape; out_shape: the result's shape.
    """

    __slots__ = ("local", "shape", "out_shape")

    def __init__(self, local: Any, shape: tuple, out_shape: tuple):
        self.local = local
        self.shape = shape
        self.out_shape = out_shape

    @property
    def axes(self) -> tuple:
        """The summed axes (in the result's coordinates)."""
        return broadcast_axes(self.shape, self.out_shape)

    @property
    def note(self) -> str:
        axes = self.axes
        return f"summed over axes {axes} back to {self.shape}" if axes else ""

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        g = self.local * upstream
        axes = broadcast_axes(self.shape, self.out_shape)
        if axes:
            g = g.sum(axis=axes)
        return np.asarray(g).reshape(self.shape)

    def __repr__(self) -> str:
        return f"Unbroadcast(local={_summary(self.local)}, {self.out_shape} → {self.shape}, axes={self.axes})"

    def summary(self) -> str:
        axes = self.axes
        return f"{_summary(self.local)}, Σ axes {axes}" if axes else _summary(self.local)


class Cast(Local):
    """The operand had a narrower dtype than the result (float32 ∘ float64 → float64): the
    gradient is computed in the result's dtype and cast back, so ``grad.dtype == data.dtype``."""

    __slots__ = ("local", "dtype")

    def __init__(self, local: Any, dtype: np.dtype):
        self.local = local
        self.dtype = dtype

    @property
    def note(self) -> str:
        inner = getattr(self.local, "note", "")
        text = f"cast to {self.dtype}"
        return f"{inner}, {text}" if inner else text

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        return np.asarray(self.local * upstream).astype(self.dtype)

    def __repr__(self) -> str:
        return f"Cast(local={_summary(self.local)}, to {self.dtype})"

    def summary(self) -> str:
        return f"{_summary(self.local)} → {self.dtype}"


# --- text helpers ---------------------------------------------------------------------------


def _summary(local: Any) -> str:
    if isinstance(local, Local):
        return local.summary()
    return short_value(local)


def index_text(index: Any) -> str:
    """An index as one writes it between brackets: ``:, 2:5``."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for part in parts:
        if isinstance(part, slice):
            start = "" if part.start is None else part.start
            stop = "" if part.stop is None else part.stop
            step = "" if part.step is None else f":{part.step}"
            out.append(f"{start}:{stop}{step}")
        elif part is Ellipsis:
            out.append("...")
        elif part is None:
            out.append("None")
        elif isinstance(part, np.ndarray):
            out.append(
                np.array2string(part, threshold=6, separator=",") if part.size <= 6 else f"int{part.shape}"
            )
        else:
            out.append(str(part))
    return ", ".join(out)
