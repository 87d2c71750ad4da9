"""The explicit computation graph: traversal, the one backward loop, edges, paths and chain-rule text.

Every node (a :class:`~tinygrad_edu.Value` or a :class:`~tinygrad_edu.Tensor`) is plain data:

* ``node.parents`` — the inputs, one entry per operand (``a*a`` lists ``a`` twice);
* ``node.local_grads`` — per input, the local derivative ∂node/∂parent at the forward values;
* ``node.grad`` — ∂root/∂node after ``backward()``.

Backprop is then one loop (:func:`chain_rule_steps`): walk the nodes from the root towards the
leaves and, on every edge, do ``parent.grad += local * node.grad``. ``backward()`` and
``backward_steps()`` both run that same generator, so what a learner steps through is exactly
what training uses. Everything is iterative: a chain of a million nodes needs no recursion.

This module never imports the node classes: it only reads the attributes above, plus
``requires_grad`` and the class attribute ``NO_GRAD`` (what ``grad`` holds before any
gradient arrives: ``0.0`` for ``Value``, ``None`` for ``Tensor``).
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from . import formulas
from .errors import AnomalyError, GradShapeError, PathLimitError
from .formatting import short_value
from .layers import build_layers
from .modes import state
from .node import Node
from .numerics import norm, quiet_numpy, restore_numpy

# --- traversal -----------------------------------------------------------------------


def topological_order(root: Node) -> list[Node]:
    """All ancestors of ``root`` (and ``root``), every parent before its children; root last.

    Iterative depth-first search with an explicit stack: no recursion limit, linear time.
    The order is deterministic: parents are visited in operand order.
    """
    order: list = []
    seen = {root}
    path = [root]  # the nodes being visited, root first ...
    pending = [iter(root.parents)]  # ... and, for each, its parents not yet looked at
    while path:
        for parent in pending[-1]:
            if parent not in seen:
                seen.add(parent)
                if not parent.parents:  # a leaf is placed at once (what a push and pop would do)
                    order.append(parent)
                    continue
                path.append(parent)
                pending.append(iter(parent.parents))
                break
        else:  # every parent of the deepest node is placed: it can follow them
            pending.pop()
            order.append(path.pop())
    return order


# --- the one backward loop -------------------------------------------------------------


def chain_rule_steps(order: list[Node], seed: Any, steps: bool = True) -> Iterator[tuple]:
    """Backpropagate ``seed`` from ``order[-1]`` (the root): the chain rule, one edge per step.

    Yields ``(node, index, parent, upstream, local, contribution)`` right after doing
    ``parent.grad += contribution`` where ``contribution = local * upstream``. With
    ``steps=False`` it runs the same loop without handing out the steps (it yields nothing):
    that is how :func:`backward` runs it, since handing out a step costs as much as a scalar
    edge's own arithmetic.

    Gradients of leaves (nodes without parents) accumulate across calls, as in PyTorch;
    gradients of intermediate nodes are reset first, so after the pass they hold this pass's
    ∂root/∂node (and the loop never re-propagates an older pass's gradient).

    Two guards run before a contribution is added: on a tensor edge it must have the parent's
    shape (one comparison per edge; a hand-built node with a wrongly shaped local is refused,
    naming the edge: :func:`_refuse_shape`), and under ``detect_anomaly()`` it must be finite. Under
    ``detect_anomaly()`` the grads as they were before the pass are kept (``before``), and a
    failing guard puts them all back first, so a pass that raises changes nothing.
    """
    anomaly = state.anomaly
    before = [(node, node.grad) for node in order] if anomaly else ()
    for node in order:
        if node.parents:
            node.grad = node.NO_GRAD
    root = order[-1]
    root.grad = seed if root.grad is None else root.grad + seed
    for node in reversed(order):
        upstream = node.grad
        if upstream is None:  # a tensor branch no gradient reached
            continue
        for index, parent in enumerate(node.parents):
            if not parent.requires_grad:
                continue
            local = node.local_grads[index]
            contribution = local * upstream  # the chain rule: one product per edge
            if contribution.__class__ is not float and (  # a Value's is a float: nothing to check
                getattr(contribution, "shape", None) != getattr(parent.data, "shape", ())
            ):
                _refuse_shape(node, index, parent, upstream, local, contribution, before)
            if anomaly:
                _check_contribution(node, index, parent, upstream, local, contribution, before)
            accumulated = parent.grad
            parent.grad = contribution if accumulated is None else accumulated + contribution
            if steps:
                yield node, index, parent, upstream, local, contribution


@contextmanager
def collector_paused():
    """Pause Python's cycle collector while the engine walks a graph.

    Why: the engine creates no reference cycles (nodes point only to their parents), so the
    collector has nothing to free here; left on, every few hundred allocations it re-traverses
    all live nodes, which makes walking a deep graph super-linear. Reference counting still
    frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def backward(root: Node, grad: Any = None) -> None:
    """Fill ``.grad`` of every node that ``root`` depends on with ∂root/∂node.

    IEEE semantics, silently: numpy's RuntimeWarnings are off for the pass (inf × 0 is nan).
    """
    seed = root.seed_grad(grad)
    token = quiet_numpy()
    try:
        with collector_paused():
            deque(chain_rule_steps(topological_order(root), seed, steps=False), maxlen=0)
    finally:
        restore_numpy(token)


def quietly(steps: Iterator) -> Iterator:
    """The items of ``steps``, each computed with numpy's RuntimeWarnings off; the caller's code
    between two items runs with the caller's own settings."""
    while True:
        token = quiet_numpy()
        try:
            item = next(steps, None)
        finally:
            restore_numpy(token)
        if item is None:
            return
        yield item


def zero_grad(root: Node) -> None:
    """Reset the gradient of ``root`` and of every node it depends on."""
    with collector_paused():
        for node in topological_order(root):
            node.grad = node.NO_GRAD


def _refuse(error: Exception, before: Any) -> None:
    """Put back the grads the pass changed (``before``: under ``detect_anomaly()``), then raise."""
    for node, grad in before:
        node.grad = grad
    raise error


def _refuse_shape(node, index, parent, upstream, local, contribution, before) -> None:
    """Raise GradShapeError for the edge ``parent → node`` whose contribution does not fit.

    A tensor's gradient must have its shape; a Value's must be a single number (shape ``()``).
    """
    shape = getattr(contribution, "shape", None)
    expected = getattr(parent.data, "shape", ())
    _refuse(
        GradShapeError(
            f"backward: the edge {describe(parent)} → {describe(node)} (operand {index} of op "
            f"{node.op!r}) gives a gradient of shape {shape} to a parent of shape {expected}: its local "
            f"{type(local).__name__} times the upstream of shape {getattr(upstream, 'shape', ())} must "
            f"have the parent's shape (is local_grads[{index}] of a hand-built node wrong?)",
            op=node.op,
            index=index,
            shape=shape,
            expected=expected,
        ),
        before,
    )


def _is_finite(x: Any) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    return bool(np.all(np.isfinite(x)))


def _check_contribution(node, index, parent, upstream, local, contribution, before=()) -> None:
    if _is_finite(contribution):
        return
    _refuse(
        AnomalyError(
            f"backward: non-finite gradient on the edge {describe(parent)} → {describe(node)} "
            f"(operand {index} of op {node.op!r}): local {fmt(local)} × upstream "
            f"{fmt(upstream)} = {fmt(contribution)}",
            op=node.op,
            phase="backward",
        ),
        before,
    )


# --- the graph as data ----------------------------------------------------------------


class Edge:
    """One operand edge ``parent → child`` (``child.parents[index] is parent``).

    Attributes are read from the nodes, so an edge is always up to date: ``local`` is the
    stored local derivative; after backward, ``upstream`` (∂root/∂child), ``contribution``
    (``local * upstream``, the gradient that flowed along this edge) and ``gain``
    (‖contribution‖ / ‖upstream‖, the factor by which this edge shrinks or grows the gradient)
    are computed on demand, so recording a graph costs nothing extra.
    """

    __slots__ = ("parent", "child", "index", "naming")

    def __init__(self, parent: Node, child: Node, index: int, naming: formulas.Naming | None = None):
        self.parent = parent
        self.child = child
        self.index = index
        self.naming = naming  # the graph's node names (formulas name operands by them)

    @property
    def local(self) -> Any:
        """∂child/∂parent at the forward values."""
        return self.child.local_grads[self.index]

    @property
    def formula(self) -> str:
        """The local derivative in maths, in the graph's own names (plus any note of the local).

        ``w → ×`` of ``w*x`` reads ``x``; ``h4 → σ`` reads ``σ(h4)(1−σ(h4))`` — the formula the
        number :attr:`local` is, evaluated at those operands (see :mod:`tinygrad_edu.formulas`).
        """
        if self.naming is None:  # an edge made by hand: name the nodes among themselves
            nodes = [*self.child.parents, self.child]
            self.naming = formulas.Naming(nodes, {node: i for i, node in enumerate(nodes)})
        text = formulas.edge_formula(self.child, self.index, self.naming.names)
        note = getattr(self.local, "note", "")
        return f"{text} {note}".strip() if note else text

    @property
    def upstream(self) -> Any:
        """∂root/∂child, the gradient arriving at the child (None before backward)."""
        return self.child.grad

    @property
    def contribution(self) -> Any:
        """``local * upstream``: the gradient that flowed to the parent along this edge."""
        upstream = self.child.grad
        if upstream is None or not self.parent.requires_grad:
            return None
        token = quiet_numpy()  # as in the backward loop: 1e200 × 1e200 is inf, silently
        try:
            return self.local * upstream
        finally:
            restore_numpy(token)

    @property
    def gain(self) -> float | None:
        """‖contribution‖ / ‖upstream‖ (nan when the upstream is zero, None before backward)."""
        contribution = self.contribution
        if contribution is None:
            return None
        upstream = norm(self.child.grad)
        return norm(contribution) / upstream if upstream else math.nan

    def __repr__(self) -> str:
        return f"Edge({describe(self.parent)} → {describe(self.child)}, local={fmt(self.local)})"


class Step(NamedTuple):
    """One chain-rule product of the backward pass, as :meth:`Graph.backward_steps` yields it.

    ``contribution = local * upstream`` was just added into ``parent.grad``, which now holds
    ``accumulated``.
    """

    node: Any
    index: int  # type: ignore[assignment]  # the operand index (a public field; shadows tuple.index)
    parent: Any
    upstream: Any
    local: Any
    contribution: Any
    accumulated: Any


class Path(NamedTuple):
    """A root → leaf path: its edges (root side first) and the product of their locals."""

    edges: tuple
    product: Any


class Graph:
    """A traced graph: ``nodes`` in topological order (root last), ``edges``, ``depth``.

    ``depth[node]`` is the length of the longest path from the root to the node (root: 0), so
    every edge goes from a deeper parent to a shallower child and drawings can rank by it.
    """

    def __init__(self, root: Node):
        self.root = root
        with collector_paused():
            self._build(root)

    def _build(self, root: Node) -> None:
        self.nodes: list = topological_order(root)
        self.ids: dict = {node: i for i, node in enumerate(self.nodes)}
        self.naming = formulas.Naming(self.nodes, self.ids)
        self.edges: list[Edge] = [
            Edge(parent, node, i, self.naming) for node in self.nodes for i, parent in enumerate(node.parents)
        ]
        depth = {root: 0}
        for node in reversed(self.nodes):
            below = depth[node] + 1
            for parent in node.parents:
                if depth.get(parent, -1) < below:
                    depth[parent] = below
        self.depth: dict = depth

    def layers(self) -> list:
        """The graph cut into layers, input side first: one :class:`~tinygrad_edu.layers.Layer`
        per module call or name scope, with ‖∂L/∂out‖, the gain and the parameter gradients of
        each, read from the nodes' gradients as they are now (call it after ``backward()``).

        See :mod:`tinygrad_edu.layers` for what each number is.
        """
        return build_layers(self)

    @property
    def names(self) -> dict:
        """node → its unique name in this graph, as pictures draw it (``x``, ``z #12``, ``+ #5``)."""
        return self.naming.names

    @property
    def leaves(self) -> list:
        """Nodes without parents (inputs, parameters, constants), in topological order."""
        return [node for node in self.nodes if not node.parents]

    def find(self, label: str) -> Any:
        """The node with this label (``KeyError`` if none, ``ValueError`` if several)."""
        found = [node for node in self.nodes if node.label == label]
        if not found:
            raise KeyError(f"no node labelled {label!r} in this graph")
        if len(found) > 1:
            raise ValueError(f"{len(found)} nodes are labelled {label!r}; pass the node itself")
        return found[0]

    def backward(self, grad: Any = None) -> None:
        """Same as ``root.backward(grad)``."""
        backward(self.root, grad)

    def backward_steps(self, grad: Any = None) -> Iterator[Step]:
        """Run backward one edge at a time: the very loop ``backward()`` runs.

        Each yielded :class:`Step` has already been accumulated, so pausing in a debugger
        shows ``parent.grad`` including it. Consuming all steps equals one ``backward()``.
        """
        seed = self.root.seed_grad(grad)
        for node, index, parent, upstream, local, contribution in quietly(chain_rule_steps(self.nodes, seed)):
            yield Step(node, index, parent, upstream, local, contribution, parent.grad)

    def count_paths(self, leaf: Node) -> int:
        """How many distinct root → ``leaf`` paths there are (edges with multiplicity)."""
        return self._path_counts(leaf)[self.root]

    def _path_counts(self, leaf: Node) -> dict[Node, int]:
        """node → how many distinct node → ``leaf`` paths there are (1 at ``leaf``, 0 off its cone).

        Counted in one pass in topological order: a node's count is the sum of its parents'.
        """
        if leaf not in self.ids:
            raise ValueError(f"{describe(leaf)} is not part of this graph")
        count = {node: 0 for node in self.nodes}
        count[leaf] = 1
        for node in self.nodes[self.ids[leaf] + 1 :]:
            count[node] = sum(count[parent] for parent in node.parents)
        return count

    def paths(self, leaf: Node, limit: int = 10_000) -> list[Path]:
        """Every root → ``leaf`` path with its edges and the product of their local derivatives.

        For a scalar graph ``sum(p.product for p in paths) == leaf.grad`` (the chain rule as a
        sum over paths). Raises :class:`PathLimitError` *before* enumerating when there are
        more than ``limit`` paths: their number can grow exponentially with depth.
        """
        count = self._path_counts(leaf)
        total = count[self.root]
        if total > limit:
            raise PathLimitError(
                f"{total} paths lead from the root to {describe(leaf)}, more than limit={limit}; "
                "pass a larger limit or inspect edges and gains instead",
                count=total,
                limit=limit,
            )
        found: list[Path] = []
        stack: list[tuple[Any, tuple]] = [(self.root, ())]
        while stack:
            node, edges = stack.pop()
            if node is leaf:
                found.append(Path(edges, _product(e.local for e in edges)))
                continue
            # reversed so that operand 0's paths come first
            for index in reversed(range(len(node.parents))):
                parent = node.parents[index]
                if count[parent]:
                    stack.append((parent, edges + (Edge(parent, node, index, self.naming),)))
        return found

    def chain_rule_text(self, leaf: Any, limit: int = 50) -> str:
        """The chain rule for one leaf, as text: one product per path, then their sum.

        Example (a scalar graph)::

            dL/dx = 0.197 × 0.25 × 0.105 = 0.00517    [L ← tanh ← σ ← x]

        In a tensor graph a local is a linear map, not a number, so each path is printed as its
        formulas in the graph's names (root side first), followed by the leaf's ``.grad``.
        Nodes are named as pictures name them (:attr:`names`).
        """
        paths = self.paths(leaf, limit=limit)
        top, bottom = self._root_name(), self.names[leaf]
        lhs = f"d{top}/d{_wrapped(bottom)}"
        if any(_product(e.local for e in path.edges) is None for path in paths):
            return self._tensor_chain_text(leaf, paths, lhs)
        lines = []
        for path in paths:
            factors = " × ".join(fmt(e.local) for e in path.edges) or "1"
            lines.append(f"{lhs} = {factors} = {fmt(path.product)}    [{self._route(path)}]")
        total = _product_sum(p.product for p in paths)
        if len(paths) != 1:
            terms = " + ".join(fmt(p.product) for p in paths) or "0"
            lines.append(f"{lhs} = {terms} = {fmt(total)}    (sum over {len(paths)} paths)")
        if isinstance(leaf.grad, float):
            lines.append(f"{bottom}.grad = {fmt(leaf.grad)} after backward()")
        return "\n".join(lines)

    def _tensor_chain_text(self, leaf: Any, paths: list[Path], lhs: str) -> str:
        lines = []
        for path in paths:
            factors = " ∘ ".join(f"[{e.formula or type(e.local).__name__}]" for e in path.edges) or "1"
            lines.append(f"{lhs} along [{self._route(path)}]: {factors}")
        if len(paths) != 1:
            lines.append(f"{lhs} = the sum of these {len(paths)} paths, applied to the seed")
        grad = leaf.grad
        if grad is None:
            lines.append(f"{self.names[leaf]}.grad: none (no backward yet, or it needs no gradient)")
        else:
            lines.append(
                f"{self.names[leaf]}.grad: shape {np.shape(grad)}, ‖·‖ = {fmt(norm(grad))} after backward()"
            )
        return "\n".join(lines)

    def _root_name(self) -> str:
        """The root's name in chain-rule text: its label, else ``L`` unless that means another node."""
        if self.root.label or any(node.label == "L" for node in self.nodes):
            return _wrapped(self.names[self.root])
        return "L"

    def _route(self, path: Path) -> str:
        return " ← ".join([self._root_name()] + [self.names[e.parent] for e in path.edges])

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"Graph(root={describe(self.root)}, nodes={len(self.nodes)}, edges={len(self.edges)})"


def trace(root: Node) -> Graph:
    """Walk the graph that produced ``root`` and return it as data (:class:`Graph`)."""
    if not hasattr(root, "parents") or not hasattr(root, "local_grads"):
        raise TypeError(f"trace: expected a Value or Tensor, got {type(root).__name__}")
    return Graph(root)


# --- small text helpers ----------------------------------------------------------------


#: The one number/array text of this module's messages, reprs and chain-rule text
#: (:func:`tinygrad_edu.formatting.short_value`); public as ``graph.fmt``, the name it has always had.
fmt = short_value


def _wrapped(name: str) -> str:
    """A name as it reads after ``d`` in ``dL/dx``: in parentheses when it has spaces."""
    return f"({name})" if " " in name else name


def describe(node: Node) -> str:
    """A short human name for a node: its label, else its op, with its scope."""
    name = node.label or node.op or "leaf"
    return f"{node.scope}/{name}" if getattr(node, "scope", "") else name


def _product(factors) -> Any:
    result: Any = 1.0
    for factor in factors:
        if not isinstance(factor, (float, int)):
            return None  # tensor locals are linear maps, not numbers
        result = result * factor
    return result


def _product_sum(products) -> Any:
    total = 0.0
    for product in products:
        if product is None:
            return None
        total += product
    return total
