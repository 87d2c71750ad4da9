"""Collapse a large graph into groups: one box per layer (name scope) or per band of depths.

A graph of thousands of nodes is unreadable as nodes, and Graphviz may take minutes to lay it
out. Above the node cap, :func:`group_nodes` assigns every node to a group:

* by **scope** (``"mlp.layers.3"``, stamped by :func:`tinygrad_edu.name_scope`): nodes whose
  scopes share a dotted prefix form one group. The prefix length is the deepest one that still
  gives at most ``max_groups`` groups, so an MLP whose neurons have their own sub-scopes still
  collapses to one box per layer when neurons would be too many. Nodes created outside any scope
  are grouped by bands of depth;
* by **depth**: consecutive depths (distance from the root) form bands of equal width.

A group is drawn with its node count and its *aggregate gradient norm*
``√(Σ ‖grad‖²)`` over its members; an edge between two groups shows the *gain between groups*,
the ratio of their aggregate norms (parent-side group over child-side group): below 1 the
gradient shrank between them, above 1 it grew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .style import magnitude


@dataclass
class Group:
    """One box of a grouped drawing.

    Attributes:
        index: position in the drawing (``g0``, ``g1`` ... in order of first topological member).
        name: what the box is called: the scope prefix, or ``"depth 10–19"``.
        members: the nodes in topological order.
        min_depth / max_depth: depth range of the members (0 is the root).
        leaves: how many members are leaves (inputs, parameters, constants).
        norm: aggregate gradient norm √(Σ‖grad‖²) (None before backward).
        rms: ``norm / √n``, the root-mean-square gradient of one member (what the colour shows).
    """

    index: int
    name: str
    members: list = field(default_factory=list)
    min_depth: int = 0
    max_depth: int = 0
    leaves: int = 0
    norm: float | None = None
    rms: float | None = None


def combine_norms(magnitudes: list) -> float | None:
    """√(Σ m²) over the magnitudes that are not None (nan if any is nan, inf if any is inf)."""
    known = [m for m in magnitudes if m is not None]
    if not known:
        return None
    if any(m != m for m in known):
        return math.nan
    if any(m == math.inf for m in known):
        return math.inf
    scale = max(known)
    if scale == 0.0:
        return 0.0
    return scale * math.sqrt(sum((m / scale) ** 2 for m in known))


def depth_bands(nodes: list, depth: dict, bands: int) -> dict:
    """Key ``(lo, hi)`` per node: its band of consecutive depths, at most ``bands`` bands."""
    if not nodes:
        return {}
    lo_all = min(depth[n] for n in nodes)
    hi_all = max(depth[n] for n in nodes)
    width = max(1, math.ceil((hi_all - lo_all + 1) / max(1, bands)))
    keys = {}
    for node in nodes:
        start = lo_all + (depth[node] - lo_all) // width * width
        keys[node] = (start, min(start + width - 1, hi_all))
    return keys


def _band_name(lo: int, hi: int, prefix: str = "") -> str:
    text = f"depth {lo}" if lo == hi else f"depth {lo}–{hi}"
    return f"{prefix}{text}"


def scope_keys(graph, max_groups: int) -> dict | None:
    """Group key per node by scope prefix, or None when scopes cannot give 2..max_groups groups."""
    scoped = [n for n in graph.nodes if getattr(n, "scope", "")]
    if not scoped:
        return None
    unscoped_keys = _unscoped_keys(graph)
    if unscoped_keys is None:
        return None
    levels = max(len(n.scope.split(".")) for n in scoped)
    n_unscoped = len(set(unscoped_keys.values()))
    best = None
    for level in range(1, levels + 1):
        prefixes = {n: ".".join(n.scope.split(".")[:level]) for n in scoped}
        count = len(set(prefixes.values())) + n_unscoped
        if count > max_groups:
            break  # deeper prefixes only split further
        best = prefixes
    if best is None or len(set(best.values())) + n_unscoped < 2:
        return None
    keys: dict = {n: ("scope", p) for n, p in best.items()}
    keys.update(unscoped_keys)
    return keys


def _unscoped_keys(graph) -> dict | None:
    """Group keys for the nodes created outside any scope (None: too many for scope grouping).

    Outside the scopes usually live the inputs and targets (leaves) and the loss or some glue
    between layers. The leaves form one group. The other unscoped nodes form one group per
    *connected piece* (nodes joined by edges that stay outside the scopes): the whole loss is one
    box, while glue before the first layer and after the last one stay apart, so no box sits
    both before and after the layers.
    """
    keys = {n: ("leaves", "(no scope) leaves") for n in graph.nodes if not n.scope and not n.parents}
    inner = [n for n in graph.nodes if not n.scope and n.parents]
    if len(inner) * 2 > len(graph.nodes):
        return None  # mostly unscoped: bands of depth describe this graph better
    piece = {n: n for n in inner}  # union-find over edges between unscoped inner nodes
    for node in inner:
        for parent in node.parents:
            if parent in piece:
                a, b = _find(piece, node), _find(piece, parent)
                if a is not b:
                    piece[a] = b
    members: dict = {}
    for node in inner:  # topological order: pieces are listed deterministically
        members.setdefault(_find(piece, node), []).append(node)
    for nodes in members.values():
        lo = min(graph.depth[n] for n in nodes)
        hi = max(graph.depth[n] for n in nodes)
        name = _band_name(lo, hi, "(no scope) ")
        for node in nodes:
            keys[node] = ("piece", name, graph.ids[nodes[0]])  # the id keeps equal names apart
    return keys


def _find(piece: dict, node):
    """The representative of ``node``'s piece (union-find with path halving)."""
    while piece[node] is not node:
        piece[node] = piece[piece[node]]
        node = piece[node]
    return node


def group_nodes(graph, mode: str, max_groups: int) -> tuple[str, list[Group], dict]:
    """Assign every node of ``graph`` to a group.

    Args:
        graph: a traced :class:`tinygrad_edu.Graph`.
        mode: ``"scope"``, ``"depth"`` or ``"auto"`` (scope when the nodes have usable scopes,
            else depth). ``"scope"`` without usable scopes falls back to depth.
        max_groups: the most groups to make.

    Returns:
        ``(mode_used, groups, group_of)`` with ``group_of[node]`` the node's :class:`Group`.
    """
    keys = scope_keys(graph, max_groups) if mode in ("scope", "auto") else None
    used = "scope"
    if keys is None:
        used = "depth"
        bands = depth_bands(graph.nodes, graph.depth, max_groups)
        keys = {n: ("band", _band_name(lo, hi)) for n, (lo, hi) in bands.items()}
    groups: list[Group] = []
    by_key: dict = {}
    group_of: dict = {}
    for node in graph.nodes:  # topological order: deterministic group numbering
        key = keys[node]
        group = by_key.get(key)
        if group is None:
            d = graph.depth[node]
            group = Group(index=len(groups), name=key[1], min_depth=d, max_depth=d)
            by_key[key] = group
            groups.append(group)
        group.members.append(node)
        d = graph.depth[node]
        group.min_depth = min(group.min_depth, d)
        group.max_depth = max(group.max_depth, d)
        if not node.parents:
            group.leaves += 1
        group_of[node] = group
    return used, groups, group_of


def aggregate_norms(groups: list[Group]) -> None:
    """Fill ``group.norm`` = √(Σ ‖grad‖²) and ``group.rms`` = norm / √(members with a gradient).

    The aggregate norm grows with the size of the group (a band of 100 nodes whose gradients are
    all 1 has norm 10), so boxes are *coloured* by the rms, the typical gradient of one member.
    """
    for group in groups:
        magnitudes = [magnitude(n.grad) for n in group.members]
        group.norm = combine_norms(magnitudes)
        counted = sum(m is not None for m in magnitudes)
        group.rms = group.norm / math.sqrt(counted) if group.norm is not None and counted else None
