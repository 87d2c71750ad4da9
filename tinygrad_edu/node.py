"""The node contract: what the backward loop, the graph tools and the pictures read from a node.

A node is one recorded operation ``y = f(x₁, …, xₙ)`` (or a leaf, with ``n = 0``). Backward
walks the graph from the output and, for each node ``y`` and each parent ``xᵢ``, adds

    xᵢ.grad += local_grads[i] * y.grad          (the chain rule, one edge at a time)

where ``local_grads[i]`` is ∂y/∂xᵢ evaluated at the forward values (a float for a
:class:`~tinygrad_edu.Value`, an array or a linear map for a :class:`~tinygrad_edu.Tensor`).
Nothing else is needed: :func:`tinygrad_edu.graph.chain_rule_steps`, :class:`~tinygrad_edu.graph.Graph`,
:mod:`tinygrad_edu.layers` and :mod:`viz` read only the slots below, so any object that has them
(``Value``, ``Tensor``, a user's own node) can be traced, differentiated and drawn.

``Value`` and ``Tensor`` satisfy :class:`Node` structurally (no inheritance): the Protocol is
documentation that a type checker enforces.

Every node, leaf or result, ``Value`` or ``Tensor``, built-in op or user op, gets its slots from
one function, :func:`fill_node`: ``Value(2.0)`` and ``Tensor(x)`` call it on themselves, and
every op (``scalar._binary``, ``tensor._binary``, the tensor rules, the losses, and
:func:`tinygrad_edu.apply` for user ops) computes its rule and then calls it on a new object.
What differs between ops (which rule, how a local is fitted to its edge, whether the mode records
the edge) is decided *before*; what a node *is* is decided here, once.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

from .modes import state

__all__ = ["Node", "fill_node"]


@runtime_checkable
class Node(Protocol):
    """The slots every graph node has (``Value`` and ``Tensor`` both have them).

    Attributes:
        data: the forward value (a float, or a numpy array).
        grad: ∂L/∂data after backward (``NO_GRAD`` before any gradient arrived).
        parents: the operands ``(x₁, …, xₙ)``; ``()`` for a leaf.
        local_grads: ``(∂y/∂x₁, …, ∂y/∂xₙ)`` at the forward values, one per parent;
            ``()`` for a leaf, or when the node was built without gradients (``no_grad``).
        op: the op name from the rule table (``"mul"``, ``"sigmoid"``); ``""`` for a leaf.
        label: the user's name for the node (``""`` if none).
        arg: the op's static argument (an exponent, axes, a shape), ``None`` if none,
            :data:`tinygrad_edu.formulas.LIFTED` for a number lifted into an op.
        scope: the name scope (module call) the node was built in, ``None`` outside any.
        requires_grad: whether backward computes a gradient for this node.
        NO_GRAD: what ``grad`` holds before a gradient arrives (``0.0`` for Value, ``None``
            for Tensor): the backward loop tests ``grad is NO_GRAD`` to start a fresh sum.
    """

    data: Any
    grad: Any
    parents: tuple
    local_grads: tuple
    op: str
    label: str
    arg: Any
    scope: Any
    requires_grad: bool
    NO_GRAD: Any

    def seed_grad(self, grad: Any) -> Any:
        """The gradient backward starts from at this node (``grad``, or 1 for a single number)."""
        ...


N = TypeVar("N", bound=Node)


def fill_node(
    node: N, data: Any, parents: tuple, local_grads: tuple, op: str, arg: Any, label: str, requires_grad: bool
) -> N:
    """Fill the slots of ``node`` (a new ``Value`` or ``Tensor``): the one place a node is made.

    ``parents`` and ``local_grads`` are the recorded edges, one local ∂node/∂parent per parent
    (both ``()`` for a leaf, or for a result built under ``no_grad()``); ``grad`` starts at the
    class's ``NO_GRAD``; ``scope`` is the name scope active now (``name_scope``, a module call).
    Nothing is checked here: the op checked its operands, and ``detect_anomaly()`` its result,
    before calling (this is the hot path of every op, so it does nothing else).

    Example (what ``Value(2.0) * Value(3.0)`` records)::

        fill_node(object.__new__(Value), 6.0, (a, b), (3.0, 2.0), "mul", None, "", True)
    """
    node.data = data
    node.grad = node.NO_GRAD
    node.parents = parents
    node.local_grads = local_grads
    node.op = op
    node.label = label
    node.arg = arg
    node.scope = state.scope
    node.requires_grad = requires_grad
    return node
