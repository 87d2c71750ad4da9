"""A torch backward graph in our node protocol: one TorchNode per node, one RecordedLocal per edge.

:mod:`tinygrad_edu.graph` and the renderer read a node's ``data``, ``grad``, ``parents``,
``local_grads``, ``op``, ``label``, ``arg``, ``scope``, ``requires_grad``, ``NO_GRAD`` and
``seed_grad``; a :class:`TorchNode` has exactly these, filled from what torch's backward pass
really did (recorded by hooks), so ``trace``, ``Graph.edges``, ``Edge.gain`` and ``viz.draw``
work on it unchanged.

The local of a torch edge is *recorded, not a formula*. Our engine stores ∂child/∂parent and
computes ``contribution = local * upstream``; torch never exposes its Jacobians, only the
vector-Jacobian product it computed: the gradient that flowed on the edge. So the local of a
torch edge is an object whose product with the upstream *returns that recorded contribution*
(:class:`RecordedLocal`). ``Edge.upstream``, ``Edge.contribution`` and ``Edge.gain`` =
‖contribution‖ / ‖upstream‖ are then torch's real gradients. For an elementwise op
(``relu``, ``sigmoid``, ``mul`` ...) the contribution is ``local ⊙ upstream`` entry by entry,
so the elementwise local is recovered as ``contribution / upstream`` wherever the upstream is
nonzero (``nan`` where it is zero: there the recording says nothing about the local).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import GradError
from ..formatting import short_number
from ..node import fill_node
from ..numerics import norm

#: Ops whose backward is elementwise: ∂out_i/∂in_j = 0 for i ≠ j, so for an operand of the
#: output's shape the contribution is local ⊙ upstream and local = contribution / upstream.
ELEMENTWISE_OPS = frozenset(
    "abs add clamp clamp_min clamp_max cos div elu exp expm1 gelu hardsigmoid hardswish hardtanh "
    "leaky_relu log log1p log_sigmoid mish mul neg pow reciprocal relu rsqrt selu sigmoid silu sin "
    "softplus sqrt sub tanh threshold where".split()
)


def op_name(torch_class_name: str) -> str:
    """A readable op name from an autograd node's class name.

    ``AddmmBackward0`` → ``"addmm"``, ``NativeBatchNormBackward0`` → ``"native_batch_norm"``,
    ``MaxPool2DWithIndicesBackward0`` → ``"max_pool2d_with_indices"``, ``CopySlices`` →
    ``"copy_slices"``: drop the ``Backward<k>`` suffix, then CamelCase → snake_case
    (the name of the forward op torch recorded, as in ``torch.addmm``).
    """
    base = re.sub(r"Backward\d*$", "", torch_class_name) or torch_class_name
    return re.sub(r"(?<=[A-Za-z0-9])(?=[A-Z][a-z])", "_", base).lower()


#: Ops of our rule table whose formula does not hold for torch's op of the same name in general
#: (torch's ``softplus`` has a β, its losses a ``reduction``).
NOT_OUR_FORMULA = frozenset(
    {"softplus", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"}
)


def graph_op(torch_node: Any) -> str:
    """The ``op`` of a torch node in our graph: :func:`op_name`, unless that is an op of our rule
    table whose formula would be wrong here — then ``"torch.<name>"``, which has no formula.

    Pictures print the rule table's formula of an op in the graph's own operand names, so a
    torch node may carry our name only where that formula is torch's too: same operands (torch's
    ``pow`` with a number exponent has one, ours two), nothing the formula needs that torch does
    not record (``mean``'s 1/n needs the input's shape, a forward value we do not have), and
    the same maths (``add``/``sub`` with ``alpha ≠ 1``, a loss's ``reduction``).
    """
    from ..rules import RULES

    name = op_name(type(torch_node).__name__)
    entry = RULES.get(name)
    if entry is None:
        return name
    same = (
        len(entry.inputs) == len(torch_node.next_functions)
        and not entry.counts
        and name not in NOT_OUR_FORMULA
        and getattr(torch_node, "_saved_alpha", 1) == 1
    )
    return name if same else f"torch.{name}"


class RecordedLocal:
    """The local of one torch edge: *recorded, not a formula*.

    ``local * upstream`` returns the gradient torch sent along this edge (its ``grad_input``),
    whatever upstream is passed: torch computed ``contribution = Jᵀ · upstream`` without ever
    forming J, and this object only remembers the result. So the edge's ``contribution`` and
    ``gain`` are torch's own numbers, not a recomputation.

    Attributes:
        contribution: the recorded gradient that flowed to the parent (an array, or None when
            torch sent none).
        elementwise: for an elementwise op whose operand has the output's shape, the local
            derivative recovered entry by entry as ``contribution / upstream`` where the upstream
            is nonzero, ``nan`` where it is zero (the recording cannot tell the local there);
            None for other ops (their Jacobian is not elementwise and was never formed).
    """

    __slots__ = ("contribution", "upstream", "op", "_elementwise")
    #: ``ndarray * local`` must not become an object array: numpy defers to ``__rmul__``.
    __array_ufunc__ = None

    def __init__(self, op: str, contribution: np.ndarray | None, upstream: np.ndarray | None):
        self.op = op
        self.contribution = contribution
        self.upstream = upstream  # the child's recorded gradient (kept to recover the local)
        self._elementwise: Any = False  # not computed yet (drawing a big graph never needs most)

    @property
    def elementwise(self) -> np.ndarray | None:
        """``contribution / upstream`` where the upstream is nonzero, nan elsewhere (elementwise
        ops whose operand has the output's shape); None for every other edge."""
        if self._elementwise is False:
            self._elementwise = None
            up, contribution = self.upstream, self.contribution
            if (
                self.op.removeprefix("torch.") in ELEMENTWISE_OPS
                and contribution is not None
                and isinstance(up, np.ndarray)
                and up.shape == contribution.shape
            ):
                with np.errstate(all="ignore"):
                    nonzero = up != 0
                    ratio = contribution / np.where(nonzero, up, 1.0).astype(np.float64)
                    self._elementwise = np.where(nonzero, ratio, np.nan)
        return self._elementwise

    @property
    def note(self) -> str:
        return ""  # the summary already says "recorded"; a formula would claim more than we know

    def __mul__(self, upstream: Any) -> np.ndarray | None:
        return self.contribution

    __rmul__ = __mul__

    def summary(self) -> str:
        """One line for an edge label: the recovered elementwise local, or what was recorded."""
        if self.contribution is None:
            return "no gradient"
        local = self.elementwise
        if local is not None:
            known = np.isfinite(local)
            if not known.any():
                return "recorded (upstream all 0)"
            mean = float(np.mean(np.abs(local[known])))
            part = "" if known.all() else f" on {int(known.sum())}/{known.size}"
            return f"mean|·| {short_number(mean)}{part} (grad ÷ upstream)"
        return "recorded vjp"

    def __repr__(self) -> str:
        shape = None if self.contribution is None else self.contribution.shape
        return f"RecordedLocal({self.op!r}, contribution shape={shape})"


class TorchNode:
    """One autograd node (or one leaf) of a torch backward graph, in our node protocol.

    Attributes:
        data: the forward value when it was recorded (a leaf's tensor, the loss, a module's
            output under :func:`~tinygrad_edu.torch_scopes`), else None ("not recorded").
        grad: ∂loss/∂(this node's output) as torch's backward computed it (the node hook's
            ``grad_outputs``); for a node with several outputs that received a gradient, their
            gradients flattened and concatenated (its norm is ‖(g₀, g₁, …)‖), each kept in
            ``output_grads``. None when no gradient reached the node.
        parents: the nodes of ``next_functions``, in that order. A ``(None, 0)`` slot is a
            ``"constant"`` leaf with no data and no gradient: ``"absent"`` where the op's
            signature has an optional operand there (the bias of a ``Conv2d(bias=False)``),
            else ``"no grad"`` — a tensor that needs no gradient, such as the batch ``x``
            (outside every scope, so :meth:`Graph.layers` counts it as an input).
        label, name: a parameter's own name (``"weight"``, as our modules label theirs) and its
            full ``named_parameters()`` name (``"fc1.weight"``).
        local_grads: one :class:`RecordedLocal` per parent.
        op: the readable op name (``"addmm"``); "" for a leaf.
        kind: ``"op"``, ``"parameter"``, ``"input"`` (a leaf that requires grad but is not a
            parameter of the model) or ``"constant"`` (a slot without a gradient edge).
        torch_name: the autograd class (``"AddmmBackward0"``, ``"AccumulateGrad"``).
        sequence_nr: torch's creation number of the node (``grad_fn._sequence_nr()``), which
            ties a box to a tensor's ``grad_fn``; -1 for leaves and constants.
    """

    __slots__ = (
        "data",
        "grad",
        "parents",
        "local_grads",
        "op",
        "label",
        "arg",
        "scope",
        "requires_grad",
        "kind",
        "torch_name",
        "output_grads",
        "sequence_nr",
        "replay_refused",
        "name",
        "__weakref__",
    )

    # the node contract (tinygrad_edu.node.Node), for the type checker
    data: np.ndarray | None
    grad: np.ndarray | None
    parents: tuple
    local_grads: tuple
    op: str
    label: str
    arg: Any
    scope: Any
    requires_grad: bool

    #: What ``grad`` holds before any gradient arrives (read by the backward loop).
    NO_GRAD = None

    def __init__(self, kind: str, torch_name: str = "", label: str = "", op: str | None = None):
        self.kind = kind
        self.sequence_nr = -1
        self.name = label  # a parameter's full ``named_parameters()`` name; its label is the last part
        self.replay_refused = ""  # on the root: why replaying backward would be wrong ("" if exact)
        self.torch_name = torch_name
        self.output_grads: tuple = ()
        # the node contract's slots, as every node gets them (edges are linked by trace.py once
        # every adapter exists); data, grad and scope come from torch's recording
        fill_node(
            self,
            None,
            (),
            (),
            (op or op_name(torch_name)) if kind == "op" else "",
            None,
            label,
            kind != "constant",
        )
        self.scope = ""  # torch's module scope, set per op from the recording (not our name_scope)

    def seed_grad(self, grad: Any) -> np.ndarray:
        """The gradient a replay of the backward loop starts from (1 for the scalar loss).

        Replaying (``Graph.backward_steps()``, the viewer) would sum the recorded contributions
        into each node, which is what torch did; it is refused (a clear ``GradError``, nothing
        changed) when a node has several outputs with gradients (their contributions have
        different shapes and do not sum into one ``grad``) or when inner nodes have no recorded
        value (the backward loop checks every gradient against its node's value shape).
        """
        if self.replay_refused:
            raise GradError(self.replay_refused)
        if grad is not None:
            return np.asarray(grad, dtype=np.float64)
        if self.data is None or np.size(self.data) != 1:
            raise GradError(f"backward: the torch node {self.op or self.label!r} is not a scalar loss")
        return np.ones(np.shape(self.data), np.asarray(self.data).dtype)

    def __repr__(self) -> str:
        grad = "" if self.grad is None else f", ‖grad‖={short_number(norm(self.grad))}"
        name = self.label or self.op or self.kind
        scope = f"{self.scope}/" if self.scope else ""
        return f"TorchNode({scope}{name}, {self.torch_name or self.kind}{grad})"
