"""Failing edges of :func:`tinygrad_edu.testing.check_edges` marked on a drawing (``check=``).

``viz.draw(root, check=True)`` runs ``check_edges`` on the graph; ``check=result`` draws a
result computed before. Every arrow that stands for a failing edge is drawn thick in
:data:`CHECK_LINE` with a ``✗ check`` row (the local's value against the finite difference of its
op); in a grouped drawing, where the edge may lie inside a box, the box of the failing edge's node
gets the same outline and row. One legend line says what the colour means and names the edges.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tinygrad_edu.graph import Graph

from . import style

#: The colour of an edge (or a group box) whose stored local fails check_edges: green is on
#: neither end of the blue–red gradient scale, nor the orange of highlight mode.
CHECK_LINE = "#00a651"


def failing_edges(graph: Graph, check: Any) -> dict:
    """``{"e{k}_{i}": EdgeCheck}`` of the failing edges of ``graph`` (``check`` True or a result)."""
    if check is True:
        from tinygrad_edu.testing import check_edges

        check = check_edges(graph)
    failures = getattr(check, "failures", None)
    if failures is None:
        raise TypeError(
            f"draw: check must be True (run check_edges) or a check_edges result, got {type(check).__name__}"
        )
    found = {}
    for failed in failures:
        child = failed.edge.child
        if child in graph.ids:
            found[f"e{graph.ids[child]}_{failed.edge.index}"] = failed
    return found


def mark(scene: Any, graph: Graph, check: Any) -> Any:
    """``scene`` with the failing edges of ``check`` drawn in :data:`CHECK_LINE` and explained."""
    failing = failing_edges(graph, check)
    shown: set = set()
    edges = []
    for edge in scene.edges:
        hits = [failing[m] for m in edge.members if m in failing]
        if hits:
            shown.update(m for m in edge.members if m in failing)
            edge = replace(
                edge,
                colour=CHECK_LINE,
                width=max(edge.width, 4.0),
                faded=False,
                failed=True,
                rows=edge.rows + (("✗ check", _numbers(hits[0])),),
            )
        edges.append(edge)
    node_of = {key: f"n{key[1:].split('_')[0]}" for key in failing}
    nodes = []
    for node in scene.nodes:
        hidden = [failing[k] for k in failing if k not in shown and node_of[k] in node.members]
        if hidden:
            rows = node.rows + (("✗ check", f"{len(hidden)} edge(s) inside: {_numbers(hidden[0])}"),)
            node = replace(node, failed=True, rows=rows)
        nodes.append(node)
    names = ", ".join(_edge_name(graph, failing[k]) for k in list(failing)[:3])
    more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
    if failing:
        note = (
            f"green ✗ = {len(failing)} edge(s) whose stored local disagrees with a finite difference "
            f"of its op (check_edges): {names}{more}"
        )
    else:
        note = "check_edges: every edge's local agrees with a finite difference of its op"
    return replace(scene, nodes=tuple(nodes), edges=tuple(edges), notes=scene.notes + (note,))


def _numbers(failed: Any) -> str:
    return f"local {style.fmt(failed.got)} ≠ finite diff. {style.fmt(failed.expected)}"


def _edge_name(graph: Graph, failed: Any) -> str:
    edge = failed.edge
    return f"{graph.names[edge.parent]} → {graph.names[edge.child]}"
