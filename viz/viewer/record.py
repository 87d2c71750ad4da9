"""Record one backward pass, edge by edge, as plain JSON-ready data for the HTML viewer.

The numbers come from the engine's own loop: :meth:`Graph.backward_steps` (the generator that
``backward()`` drains), never from a second implementation of backprop. Each yielded
:class:`~tinygrad_edu.graph.Step` becomes one entry of ``steps``::

    {"edge": "e5_0", "child": "n5", "parent": "n4", "index": 0,
     "upstream": V, "local": V, "contribution": V, "before": V, "accumulated": V, ...}

where ``contribution = local × upstream`` and ``accumulated = before + contribution`` is what
``parent.grad`` holds right after the step. A value ``V`` is a small object:

* a number: ``{"v": 0.25, "t": "0.25"}`` — ``v`` is the exact float (JSON writes Python's
  shortest round-trip ``repr``, so the browser reads back the very same double; ``nan``,
  ``inf`` and ``-inf`` are the strings ``"nan"``, ``"inf"``, ``"-inf"``), ``t`` the text the
  pictures print (:func:`viz.style.fmt`, 3 significant digits);
* an array: ``{"shape": [4, 3], "norm": ‖·‖, "t": "‖·‖ 0.53", "values": [...]}`` (``values``
  only for at most :data:`SMALL` elements);
* a local that is a linear map (matmul's ``·Wᵀ`` ...): ``{"map": "MatmulLeft", "t": summary}``;
* no gradient (a tensor branch not reached): ``{"none": true, "t": "none"}``.

What the recording does to the user's graph: nothing that lasts. It saves every node's
``.grad``, sets the leaves' gradients to "no gradient" (so the page shows **one** backward pass
from zero, as after ``zero_grad(); backward()``, even when the user already called
``backward()``), runs the pass, and restores every saved ``.grad`` — also when the pass raises
(e.g. :class:`~tinygrad_edu.AnomalyError` under ``detect_anomaly()``).
"""

from __future__ import annotations

import itertools
import math
from numbers import Real
from typing import Any

import numpy as np

from tinygrad_edu.graph import Edge, Graph

from .. import style
from ..grouping import combine_norms
from ..text import grad_text, local_text, node_rows, symbol
from .formulas import forward_formula, local_with_numbers, plugged

#: Arrays with at most this many elements are embedded value by value (else: shape and norm).
SMALL = 16


# --- values as JSON ----------------------------------------------------------------------


def exact(x: Any) -> float | str:
    """A real number as JSON can hold it exactly: the float itself, or ``"nan"``/``"inf"``/``"-inf"``."""
    x = float(x)
    if x != x:
        return "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    return x


def encode(x: Any) -> dict:
    """A gradient, upstream or contribution as a JSON-ready value object (see the module doc)."""
    if x is None:
        return {"none": True, "t": "none"}
    if isinstance(x, Real):
        return {"v": exact(x), "t": style.fmt(x)}
    arr = np.asarray(x)
    out: dict = {"shape": list(arr.shape), "norm": exact(style.magnitude(arr)), "t": grad_text(arr)}
    if arr.size <= SMALL:
        out["values"] = [exact(v) for v in arr.reshape(-1).tolist()]
    return out


def encode_local(local: Any) -> dict:
    """A local derivative: a number, an elementwise array, or a small linear map (by its summary)."""
    if isinstance(local, Real) or isinstance(local, np.ndarray):
        out = encode(local)
        if not isinstance(local, Real):
            out["t"] = local_text(local)
        return out
    return {"map": type(local).__name__, "t": local_text(local)}


# --- the recording -------------------------------------------------------------------------


class Boxes:
    """What each box of the picture says about gradients, kept up to date step by step.

    A box is a node (ungrouped view) or a group (grouped view). Each box shows the norm of the
    gradients of the nodes it ``shows`` (see :class:`viz.views.NodeView`): a node its own
    gradient; a layer ‖∂L/∂out‖ over its outputs; a band of depths √Σ‖grad‖² over its members,
    coloured by their rms — exactly the numbers the picture shows once the pass is done.
    """

    def __init__(self, graph: Graph, scene: Any, reference: float):
        self.grouped = bool(scene.grouped)
        self.decades = scene.options.decades
        self.reference = reference
        self.members = {view.id: list(view.members) for view in scene.nodes}
        self.shows = {view.id: list(view.shows or view.members) for view in scene.nodes}
        self.colour = {view.id: view.colour for view in scene.nodes}
        self.box_of = {m: box for box, members in self.members.items() for m in members}
        self.grad: dict = {}  # node id -> current gradient object
        self.reached: set = set()  # node ids that a gradient has reached (the root from the start)
        self.takes_grad = {f"n{graph.ids[n]}": bool(getattr(n, "requires_grad", True)) for n in graph.nodes}

    def view(self, box: str) -> dict:
        """``{"text", "fill", "font", "reached"}`` of a box in the current state."""
        if not self.grouped:
            g = self.grad[box]
            reached = box in self.reached
            if g is None:
                text = "none" if self.takes_grad[box] else "not required"
            else:
                text = grad_text(g)
            m = style.magnitude(g)
        else:
            shown = self.shows[box]
            magnitudes = [style.magnitude(self.grad[m]) for m in shown]
            reached = any(m in self.reached for m in self.members[box])
            norm = combine_norms(magnitudes)
            counted = sum(m is not None for m in magnitudes)
            m = norm
            if self.colour[box] == "rms":  # a band of depths is coloured by its members' rms
                m = norm / math.sqrt(counted) if norm is not None and counted else None
            text = "none" if norm is None else style.fmt(norm)
        if reached:
            fill, font = style.node_colours(m, self.reference, self.decades)
        else:  # pre-pass state: no gradient has arrived, whatever grad holds (0.0 for a Value)
            fill, font = style.NO_GRAD_FILL, "#000000"
        return {"text": text, "fill": fill, "font": font, "reached": reached}


def record_pass(
    graph: Graph, scene: Any, *, grad: Any = None, max_paths: int = 64, root_name: str | None = None
) -> dict:
    """Run one backward pass of ``graph`` step by step and return everything the page shows.

    Args:
        graph: the traced graph.
        scene: its :func:`viz.build_scene` (gives box ids, groups and group edges).
        grad: the seed gradient (needed for a tensor root of more than one element).
        max_paths: a scalar leaf with more root→leaf paths than this lists no path products.
        root_name: what to call the root in ``∂L/∂x`` (default: its label, else ``"L"``).

    Returns:
        a dict of JSON-ready data (see the module docstring). The user's ``.grad`` values are
        restored before it returns.
    """
    ids = graph.ids
    nodes = graph.nodes
    key = {node: f"n{ids[node]}" for node in nodes}
    box_edge_of = {member: e.id for e in scene.edges for member in e.members}  # graph edge -> arrow

    saved = [node.grad for node in nodes]
    steps: list[dict] = []
    step_of: dict = {}  # (child id, operand index) -> step number (1-based)
    try:
        for leaf in graph.leaves:
            leaf.grad = leaf.NO_GRAD  # one pass from zero: see the module docstring
        passing = graph.backward_steps(grad)
        first = next(passing, None)  # starting the generator seeds the root's gradient
        seed = graph.root.grad
        m_seed = style.magnitude(seed)
        reference = m_seed if m_seed is not None and style.status(m_seed) == "finite" else 1.0
        boxes = Boxes(graph, scene, reference)
        for node in nodes:
            boxes.grad[key[node]] = node.NO_GRAD
        boxes.grad[key[graph.root]] = seed
        boxes.reached.add(key[graph.root])
        initial = {box: boxes.view(box) for box in boxes.members}
        flows: dict = {}  # box edge id -> magnitudes that flowed along it so far

        for step in itertools.chain([first] if first is not None else [], passing):
            number = len(steps) + 1
            child, parent = key[step.node], key[step.parent]
            before = boxes.grad[parent]
            boxes.grad[parent] = step.accumulated
            boxes.reached.add(parent)
            box = boxes.box_of[parent]
            flowed = style.magnitude(step.contribution)
            edge_id = f"e{ids[step.node]}_{step.index}"
            box_edge = box_edge_of.get(edge_id)
            entry = {
                "edge": edge_id,
                "child": child,
                "parent": parent,
                "index": step.index,
                "formula": Edge(step.parent, step.node, step.index, graph.naming).formula,
                "upstream": encode(step.upstream),
                "local": encode_local(step.local),
                "contribution": encode(step.contribution),
                "before": encode(before),
                "accumulated": encode(step.accumulated),
                "box": box,
                "boxEdge": box_edge,
                "view": boxes.view(box),
            }
            if box_edge is not None:
                seen = flows.setdefault(box_edge, [])
                seen.append(flowed)
                m = combine_norms(seen) if scene.grouped else flowed
                entry["line"] = {
                    "colour": style.edge_colour(m, reference, scene.options.decades),
                    "width": style.edge_width(m, reference, scene.options.decades),
                }
            steps.append(entry)
            step_of[(ids[step.node], step.index)] = number
    finally:
        for node, saved_grad in zip(nodes, saved):
            node.grad = saved_grad

    name = {key[n]: graph.names[n] for n in nodes}
    root = graph.root
    info = {
        key[n]: {
            "name": name[key[n]],
            "symbol": symbol(n),
            "scope": n.scope,
            "box": boxes.box_of[key[n]],
            "leaf": not n.parents,
        }
        for n in nodes
    }
    leaves = [
        _leaf_record(graph, leaf, key, name, step_of, scene, max_paths)
        for leaf in graph.leaves
        if getattr(leaf, "requires_grad", True) and leaf is not root
    ]
    forward = [_forward_record(n, key, graph.names, boxes.box_of[key[n]]) for n in nodes]
    edges = {}
    for e in graph.edges:
        edge_id = f"e{ids[e.child]}_{e.index}"
        formula = e.formula
        edges[edge_id] = {
            "child": key[e.child],
            "parent": key[e.parent],
            "formula": formula,
            "text": local_with_numbers(formula, plugged(e.child, e.index), e.local),
            "local": encode_local(e.local),
            "step": step_of.get((ids[e.child], e.index)),
        }
    deepest = max(leaves, key=lambda leaf: graph.depth[nodes[int(leaf["id"][1:])]], default=None)
    return {
        "kind": scene.kind,
        "grouped": scene.grouped,
        "root": key[root],
        "rootName": root_name or (root.label or "L"),
        "seed": encode(seed),
        "reference": exact(reference),
        "nodes": info,
        "boxes": {box: {"initial": view} for box, view in initial.items()},
        "forward": forward,
        "edges": edges,
        "steps": steps,
        "leaves": leaves,
        "defaultLeaf": deepest["id"] if deepest else "",
        "legend": [list(stop) for stop in style.legend_stops(scene.options.decades)],
    }


def _forward_record(node: Any, key: dict, names: dict, box: str) -> dict:
    """One forward step: the node's value appears, with its op's formula in the operands' names.

    ``named`` is e.g. ``σ(h3)``, ``numbers`` the same with the operands' values (scalars only),
    ``definition`` the rule's whole formula in the graph's names (``σ(h3) = 1/(1+exp(−h3))``, or
    ""), ``value`` the node's data (exact, as in the backward steps) and ``valueText`` the text of
    its value row in the picture (the page hides it while the node is not computed yet).
    """
    value_text = next((text for row, text in node_rows(node, False) if row == "data"), "")
    entry = {"node": key[node], "box": box, "value": encode(node.data), "valueText": value_text}
    if node.parents:
        named, numbers, definition = forward_formula(node, names)
        entry.update(named=named, numbers=numbers, definition=definition)
    return entry


def _leaf_record(graph, leaf, key, name, step_of, scene, max_paths) -> dict:
    """A leaf for the "chain rule so far" panel: its paths' factors and running products.

    For a scalar graph drawn node by node, every root → leaf path is listed (up to
    ``max_paths``) with, per edge, the step that processes it and its local derivative, and the
    running product of the locals from the root. Backprop processes a path's edges root side
    first, so after step k a path's processed edges are a prefix and its running product so
    far is one of these numbers. ``completed`` gives the sum of the products of the paths whose
    last edge has been processed, step by step: at the end it is the chain rule's sum over
    paths, equal to the leaf's gradient up to rounding.
    """
    record: dict = {"id": key[leaf], "name": name[key[leaf]], "paths": None, "pathCount": None, "note": ""}
    if scene.kind != "scalar":
        record["note"] = "tensor locals are linear maps, not numbers: the gradients that arrive are listed"
        return record
    if scene.grouped:
        record["note"] = "grouped view: the gradients that arrive are listed (no path products)"
        return record
    count = graph.count_paths(leaf)
    record["pathCount"] = count
    if count > max_paths:
        record["note"] = f"{count} paths lead from the root to {name[key[leaf]]}: too many to list"
        return record
    ids = graph.ids
    paths, products = [], []
    for path in graph.paths(leaf, limit=max_paths):
        product = 1.0
        running, factors, numbers = [], [], []
        for edge in path.edges:
            product = product * edge.local  # the same order as Graph.paths: root side first
            running.append(encode(product))
            factors.append(encode(edge.local))
            numbers.append(step_of[(ids[edge.child], edge.index)])
        route = [name[key[graph.root]]] + [name[key[e.parent]] for e in path.edges]
        paths.append({"route": route, "steps": numbers, "factors": factors, "running": running})
        products.append(product)
    order = sorted(range(len(paths)), key=lambda i: (paths[i]["steps"][-1], i))
    total = 0.0
    completed = []
    for i in order:  # in the order the paths complete
        total = total + products[i]
        completed.append([paths[i]["steps"][-1], encode(total)])
    record["paths"] = paths
    record["completed"] = completed
    return record
