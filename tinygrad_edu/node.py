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
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Node"]


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
