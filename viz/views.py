"""The data a drawing is made of: options, one :class:`NodeView` per box, one :class:`EdgeView` per arrow.

:func:`viz.scene.build_scene` fills these; :mod:`viz.dot` writes them as DOT, and any other
front end (an HTML viewer) can lay out the same data. Ids are stable: node ``n{k}`` and edge
``e{k}_{i}`` (operand ``i`` of node ``k``) use the engine's :attr:`Graph.ids`; groups are ``g{k}``
and group edges ``ge{a}_{b}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from . import style

DIRECTIONS = ("BT", "TB", "LR", "RL")
GROUP_MODES = ("auto", "layers", "scope", "depth")


@dataclass(frozen=True)
class DrawOptions:
    """Every option of :func:`viz.draw`, checked once (see its docstring for their meaning)."""

    direction: str = "BT"
    max_nodes: int = 200
    group: str | None = "auto"
    max_groups: int = 30
    highlight: Any = None
    show_grad: bool = True
    show_gain: bool = True
    show_formula: bool | None = None
    legend: bool = True
    decades: float = style.DEFAULT_DECADES
    title: str | None = None
    path_limit: int = 1000
    size: tuple = (40.0, 40.0)
    dpi: float = 96.0
    predicted: Any = None
    check: Any = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"draw: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        _check_int("max_nodes", self.max_nodes, 1)
        _check_int("max_groups", self.max_groups, 2)
        _check_int("path_limit", self.path_limit, 1)
        if self.group is not None and self.group not in GROUP_MODES:
            raise ValueError(f"draw: group must be None or one of {GROUP_MODES}, got {self.group!r}")
        for name in ("show_grad", "show_gain", "legend"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"draw: {name} must be True or False, got {getattr(self, name)!r}")
        if self.show_formula is not None and not isinstance(self.show_formula, bool):
            raise TypeError(f"draw: show_formula must be None, True or False, got {self.show_formula!r}")
        if not _positive(self.decades):
            raise ValueError(f"draw: decades must be a positive finite number, got {self.decades!r}")
        if self.title is not None and not isinstance(self.title, str):
            raise TypeError(f"draw: title must be a str, got {type(self.title).__name__}")
        if not (
            isinstance(self.size, (tuple, list)) and len(self.size) == 2 and all(map(_positive, self.size))
        ):
            raise ValueError(f"draw: size must be (width, height) in inches, got {self.size!r}")
        if not _positive(self.dpi):
            raise ValueError(f"draw: dpi must be a positive number, got {self.dpi!r}")
        if self.predicted is not None:
            _check_predicted(self.predicted)
        if not isinstance(self.check, (bool, type(None))) and not hasattr(self.check, "failures"):
            raise TypeError(
                "draw: check must be True (run check_edges), a check_edges result or None, "
                f"got {self.check!r:.60}"
            )


def _check_predicted(predicted: Any) -> None:
    """``predicted``: {layer name or scope: predicted gain ≥ 0} (see :func:`viz.draw`)."""
    if not isinstance(predicted, Mapping):
        raise TypeError(
            f"draw: predicted must be a mapping {{layer name or scope: gain}}, got {type(predicted).__name__}"
        )
    for key, value in predicted.items():
        if not isinstance(key, str):
            raise TypeError(f"draw: predicted keys are layer names or scopes (str), got {key!r}")
        if (
            not isinstance(value, Real)
            or isinstance(value, bool)
            or not (math.isfinite(value) and float(value) >= 0)
        ):
            raise ValueError(f"draw: predicted gain of {key!r} must be a finite number >= 0, got {value!r}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"draw: {name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"draw: {name} must be at least {minimum}, got {value}")


def _positive(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x) and float(x) > 0


@dataclass(frozen=True)
class NodeView:
    """One box of the drawing.

    Attributes:
        id: stable DOT name (``n{k}`` with k from :attr:`Graph.ids`, ``g{k}`` for a group).
        kind: ``"scalar"``, ``"tensor"`` or ``"group"``.
        title: the node's label, or the group's name ("" when unlabelled).
        symbol: the op glyph from the rule table (``"σ"``, ``"×"``; "" for a leaf).
        rows: ``(name, text)`` lines shown under the title, e.g. ``("grad", "0.25")``.
        depth: distance from the root (the smallest member depth for a group).
        magnitude: ‖grad‖ (aggregate for a group); None before backward or without gradient.
        status: ``none`` / ``zero`` / ``finite`` / ``nan`` / ``inf`` (from ``magnitude``).
        fill, font: colours. on_path: highlight mode, on a highlighted path. faded: off it.
        members: for a group, the ids of its nodes; for a node, its own id.
        shows: the ids of the nodes whose gradients make the box's number: a node itself; a
            layer its outputs (‖∂L/∂out‖); a band of depths all its members (√Σ‖grad‖²).
        colour: what the fill follows: ``"norm"`` of ``shows``, or their ``"rms"`` (bands).
    """

    id: str
    kind: str
    title: str
    symbol: str
    rows: tuple
    depth: int
    magnitude: float | None
    status: str
    fill: str
    font: str
    on_path: bool = False
    faded: bool = False
    target: bool = False
    members: tuple = ()
    shows: tuple = ()
    colour: str = "norm"
    failed: bool = False  # check=: a failing edge of check_edges lies inside this box


@dataclass(frozen=True)
class EdgeView:
    """One arrow ``tail → head`` (from the operand to the node that used it).

    Attributes:
        id: ``e{k}_{i}``: operand ``i`` of node ``n{k}``; ``ge{a}_{b}`` between groups.
        tail, head: node ids. index: operand position (``-1`` for a group edge).
        rows: text lines of the label (local derivative first).
        local: the local derivative as a number when it is one (scalars), else None.
        magnitude: ‖gradient that flowed‖ (None before backward). gain: its gain, if known.
        running: highlight mode, the running product of locals from the root (scalars).
        failed: ``check=``: the arrow stands for an edge whose local fails ``check_edges``.
        colour, width, dashed: how the line is drawn. count: edges merged (groups).
        members: the ids (``e{k}_{i}``) of the graph edges this arrow stands for.
    """

    id: str
    tail: str
    head: str
    index: int
    rows: tuple
    local: float | None
    magnitude: float | None
    gain: float | None
    status: str
    colour: str
    width: float
    dashed: bool = False
    on_path: bool = False
    faded: bool = False
    running: float | None = None
    count: int = 1
    members: tuple = ()
    failed: bool = False  # check=: it stands for an edge that fails check_edges


@dataclass(frozen=True)
class Cluster:
    """A frame drawn around the boxes of one layer in an ungrouped drawing (``cluster_L3``).

    Attributes:
        id: ``c{k}`` (k: the layer's index). title: the layer's name (``"L1 Layer 2→3 tanh"``).
        members: ids of the boxes directly inside. children: inner frames (one per neuron).
    """

    id: str
    title: str
    members: tuple
    children: tuple = ()


@dataclass(frozen=True)
class Scene:
    """Everything to draw: nodes, edges, rank rows, layer frames, and what the legend must explain."""

    nodes: tuple
    edges: tuple
    ranks: tuple  # ((depth, (ids...)), ...) for an ungrouped drawing without layers, else ()
    kind: str  # "scalar" or "tensor"
    grouped: str | None  # None, "layers" or "depth"
    has_grad: bool
    reference: float
    highlight: str | None  # id of the highlighted node
    options: DrawOptions
    total_nodes: int = 0
    notes: tuple = field(default=())
    clusters: tuple = ()  # ungrouped drawing of a layered graph: one Cluster per layer
    #: invisible (tail, head) edges that keep each layer's frame above the layer below it
    spacers: tuple = ()
