"""Global modes that change how nodes are recorded: ``no_grad``, ``detect_anomaly``, ``name_scope``.

The state is one small object read on every node creation, so each check costs a single
attribute load. Modes nest and always restore the previous state, even on exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class _ModeState:
    __slots__ = ("grad_enabled", "anomaly", "scope")

    def __init__(self) -> None:
        self.grad_enabled = True  # record parents and local derivatives?
        self.anomaly = False  # raise at the first non-finite value?
        self.scope = ""  # dotted name scope stamped on new nodes, e.g. "mlp.layers.3"


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
def name_scope(name: str) -> Iterator[str]:
    """Stamp nodes created inside with a dotted scope (``"mlp" → "mlp.layers.3"``).

    The renderer groups large graphs by these scopes (one box per layer).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name_scope: name must be a non-empty str, got {name!r}")
    previous = state.scope
    state.scope = f"{previous}.{name}" if previous else name
    try:
        yield state.scope
    finally:
        state.scope = previous


def current_scope() -> str:
    """The dotted name scope new nodes are stamped with ("" outside any scope)."""
    return state.scope
