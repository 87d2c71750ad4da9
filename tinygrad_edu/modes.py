"""Global modes that change how nodes are recorded: ``no_grad``, ``detect_anomaly``, ``name_scope``.

The state is one small object read on every node creation, so each check costs a single
attribute load. Modes nest and always restore the previous state, even on exceptions.

A name scope is a :class:`Scope`: a dotted name (a ``str``, so ``node.scope == "mlp.layers.3"``
works) that also remembers the scope it was entered in and, when a module entered it, what
kind of layer it is (``"Linear 2→16"``). :meth:`Graph.layers <tinygrad_edu.graph.Graph.layers>`
reads that to cut a graph into layers: one per call, named like a person names them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Scope(str):
    """A dotted name scope (``"mlp.layers.3"``) that remembers where and by what it was entered.

    It *is* the dotted name (compare, split and print it as a ``str``); each ``name_scope`` entry
    makes a new object, so two calls of the same module (same name) stay apart as two layers.

    Attributes:
        name: the part this entry added (``"3"`` of ``"mlp.layers.3"``; it may hold dots).
        parent: the scope this one was entered in (None at the top level).
        kind: what entered it, e.g. ``"Linear 2→16"`` or ``"Sigmoid"`` (None for a plain
            ``name_scope`` in user code).
        unit: True when everything inside is *one* layer, however many scopes it opens (a
            scalar ``nn.scalar.Layer`` holds one sub-scope per neuron but is one layer).
    """

    name: str
    parent: Scope | None
    kind: str | None
    unit: bool

    def __new__(cls, name: str, parent: Scope | None = None, kind: str | None = None, unit: bool = False):
        self = super().__new__(cls, f"{parent}.{name}" if parent else name)
        self.name = name
        self.parent = parent
        self.kind = kind
        self.unit = unit
        return self

    def chain(self) -> list[Scope]:
        """This scope and its parents, outermost first."""
        found: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            found.append(scope)
            scope = scope.parent
        return found[::-1]


class _ModeState:
    __slots__ = ("grad_enabled", "anomaly", "scope")

    def __init__(self) -> None:
        self.grad_enabled = True  # record parents and local derivatives?
        self.anomaly = False  # raise at the first non-finite value?
        self.scope: str = ""  # the Scope stamped on new nodes ("" outside any), e.g. "mlp.layers.3"


state = _ModeState()


@contextmanager
def no_grad() -> Iterator[None]:
    """Build nodes without parents or local derivatives (inference, optimiser updates).

    Results computed inside are leaves: nothing flows back through them.
    """
    previous = state.grad_enabled
    state.grad_enabled = False
    try:
        yield
    finally:
        state.grad_enabled = previous


@contextmanager
def enable_grad() -> Iterator[None]:
    """Re-enable graph recording inside a ``no_grad()`` block."""
    previous = state.grad_enabled
    state.grad_enabled = True
    try:
        yield
    finally:
        state.grad_enabled = previous


def is_grad_enabled() -> bool:
    """Whether new nodes record their parents and local derivatives."""
    return state.grad_enabled


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise :class:`~tinygrad_edu.errors.AnomalyError` at the first non-finite value.

    Forward: the op whose output is nan/inf, with its inputs and their labels.
    Backward: the edge whose contribution ``local × upstream`` is nan/inf.
    Outside this context IEEE semantics apply silently (inf, nan), as in numpy.
    """
    previous = state.anomaly
    state.anomaly = True
    try:
        yield
    finally:
        state.anomaly = previous


@contextmanager
def name_scope(name: str, kind: str | None = None, unit: bool = False) -> Iterator[Scope]:
    """Stamp nodes created inside with a dotted scope (``"mlp" → "mlp.layers.3"``).

    Each innermost scope is one layer of :meth:`Graph.layers` and one box of the grouped
    picture. ``kind`` says what the layer is (modules pass ``"Linear 2→16"``, ``"Sigmoid"``);
    ``unit=True`` makes everything inside one layer even where it opens more scopes.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name_scope: name must be a non-empty str, got {name!r}")
    if kind is not None and not isinstance(kind, str):
        raise TypeError(f"name_scope: kind must be None or a str, got {kind!r}")
    previous = state.scope
    scope = Scope(name, previous if isinstance(previous, Scope) else None, kind, bool(unit))
    if previous and not isinstance(previous, Scope):  # a plain str set by hand: keep its text
        scope = Scope(f"{previous}.{name}", None, kind, bool(unit))
        scope.name = name
    state.scope = scope
    try:
        yield scope
    finally:
        state.scope = previous


def current_scope() -> str:
    """The dotted name scope new nodes are stamped with ("" outside any scope)."""
    return state.scope
