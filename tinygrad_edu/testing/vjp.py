"""``check_vjp`` and ``check_edges``: vector-Jacobian products against finite differences.

Both reduce to one question, asked of :func:`~tinygrad_edu.testing.gradcheck`: given a forward
function ``f`` and a claimed VJP ``u ↦ uᵀ·∂f/∂xᵢ``, is the VJP the gradient of ⟨u, f(x)⟩? The
claim is wrapped as a one-node graph (:func:`vjp_node`) whose forward is ``f`` and whose local
on each edge is the claimed VJP (a :class:`ClaimedVJP`, a linear map as in
:mod:`tinygrad_edu.jacobians`); gradcheck then differentiates ``(node * u).sum()`` by backward
(the claim) and by central differences of ``f`` (the truth). No second finite-difference routine.

* :func:`check_vjp` — for code that does not use the engine at all: a numpy function and a
  hand-written backward, under Hypothesis, with a random upstream (not ones);
* :func:`check_edges` — every edge of a traced graph: its *stored* local against finite
  differences of that op alone (``RULES[op].compute``) at the inputs it recorded. One wrong
  local in a graph of thousands of nodes is named, with the numbers; ``viz.draw(root,
  check=True)`` marks it on the picture.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import scalar, tensor
from ..formatting import short_number
from ..graph import Edge, Graph, describe, trace
from ..jacobians import Local
from ..rules import RULES
from ..scalar import Value
from ..tensor import Tensor
from .check import gradcheck
from .check_op import OpCheckError, example_text


class ClaimedVJP(Local):
    """The local of an edge whose gradient is whatever ``vjp(upstream, *inputs)[index]`` says."""

    __slots__ = ("vjp", "inputs", "index", "shape")

    def __init__(self, vjp: Callable, inputs: tuple, index: int, shape: tuple):
        self.vjp, self.inputs, self.index, self.shape = vjp, inputs, index, shape

    def __mul__(self, upstream: np.ndarray) -> np.ndarray:
        grads = self.vjp(upstream, *self.inputs)
        grad = grads if isinstance(grads, np.ndarray) and len(self.inputs) == 1 else grads[self.index]
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != self.shape:
            raise ValueError(
                f"the vjp's gradient for input {self.index} has shape {grad.shape}, but the input has "
                f"shape {self.shape}"
            )
        return grad.copy()

    def summary(self) -> str:
        return "claimed vjp"


class _Forward:
    """``compute(m, *datas)`` of a one-node graph: forward ``f``, locals the claimed VJP."""

    def __init__(self, f: Callable, vjp: Callable):
        self.f, self.vjp = f, vjp

    def __call__(self, m: Any, *datas: Any) -> tuple:
        out = np.asarray(self.f(*datas), dtype=np.float64)
        kept = tuple(np.array(d, dtype=np.float64) for d in datas)  # gradcheck perturbs in place
        return out, tuple(ClaimedVJP(self.vjp, kept, i, d.shape) for i, d in enumerate(kept))


def vjp_node(f: Callable, vjp: Callable, *inputs: Tensor) -> Tensor:
    """A one-node graph: forward ``f(*arrays)``, backward the claimed ``vjp(upstream, *arrays)``."""
    return tensor.apply("vjp", _Forward(f, vjp), inputs)


def check_vjp(
    f: Callable,
    vjp: Callable,
    *inputs: Any,
    max_examples: int = 20,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> int:
    """Check a hand-written VJP against finite differences of ``f``, under Hypothesis.

    Args:
        f: ``f(*arrays) -> array``, plain numpy (float64).
        vjp: ``vjp(upstream, *arrays) -> tuple of gradients``, one per input, each of its input's
            shape (a single array is accepted for one input): uᵀ·∂f/∂xᵢ.
        *inputs: per input, a numpy array (held as given) or a Hypothesis strategy of arrays
            (e.g. ``arrays((4, 3))``). The upstream u is drawn at random (entries ±[0.25, 2]).
        max_examples, eps, atol, rtol: as in :func:`check_op` / :func:`gradcheck`.

    Returns:
        the number of examples run.

    Raises:
        OpCheckError: the VJP disagrees (the input, element, analytic and numeric values and the
            drawn arrays are named; Hypothesis shrinks to the simplest case), f or vjp changed an
            input or the upstream, or a gradient has the wrong shape.
    """
    if not callable(f) or not callable(vjp):
        raise TypeError("check_vjp: f and vjp must be callable: check_vjp(f, vjp, *inputs)")
    if not inputs:
        raise TypeError("check_vjp: give the inputs of f (arrays or strategies of arrays)")
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    name = getattr(f, "__name__", "f")
    count = [0]

    @settings(
        max_examples=max_examples,
        deadline=None,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data):
        count[0] += 1
        arrays = [
            np.array(
                data.draw(x, label=f"input {k}") if isinstance(x, st.SearchStrategy) else x, dtype=np.float64
            )
            for k, x in enumerate(inputs)
        ]
        kept = [a.copy() for a in arrays]
        out = np.asarray(f(*arrays), dtype=np.float64)
        elements = st.floats(0.25, 2.0).flatmap(lambda v: st.sampled_from((v, -v)))
        upstream = data.draw(
            hnp.arrays(np.float64, out.shape, elements=elements, fill=st.nothing()), label="upstream"
        )
        context = example_text(arrays, upstream)
        u = upstream.copy()
        grads = vjp(u, *arrays)
        grads = (grads,) if isinstance(grads, np.ndarray) and len(arrays) == 1 else tuple(grads)
        for k, (a, before) in enumerate(zip(arrays, kept)):
            if not np.array_equal(a, before, equal_nan=True):
                raise OpCheckError(
                    f"check_vjp {name!r}: f or vjp changed input {k}\n{context}", name, "mutation", k
                )
        if not np.array_equal(u, upstream, equal_nan=True):
            raise OpCheckError(
                f"check_vjp {name!r}: vjp changed the upstream gradient\n{context}", name, "mutation"
            )
        if len(grads) != len(arrays):
            raise OpCheckError(
                f"check_vjp {name!r}: vjp returned {len(grads)} gradient(s) for {len(arrays)} "
                f"input(s)\n{context}",
                name,
                "shape",
            )
        for k, (g, a) in enumerate(zip(grads, arrays)):
            if np.shape(g) != a.shape:
                raise OpCheckError(
                    f"check_vjp {name!r}: the gradient for input {k} has shape {np.shape(g)}, the input "
                    f"has shape {a.shape}\n{context}",
                    name,
                    "shape",
                    k,
                )
        report = _claim_check(f, vjp, arrays, upstream, range(len(arrays)), eps, atol, rtol)
        if not report.ok:
            worst = report.failures[0]
            raise OpCheckError(
                f"check_vjp {name!r}: the vjp disagrees with central finite differences of f: input "
                f"{worst.position}, element {worst.index}: vjp {worst.analytic:.10g}, numeric "
                f"{worst.numeric:.10g} (difference {short_number(worst.difference)})\n{context}",
                name,
                "gradient",
                worst.position,
                worst.index,
                worst.analytic,
                worst.numeric,
            )

    run()
    return count[0]


def _claim_check(f, vjp, arrays, upstream, checked, eps, atol, rtol):
    """gradcheck of ⟨u, f(x)⟩ through :func:`vjp_node`, for the inputs in ``checked``."""
    leaves = [Tensor(a, requires_grad=k in checked, label=f"x{k}") for k, a in enumerate(arrays)]
    weight = Tensor(np.asarray(upstream, dtype=np.float64))
    return gradcheck(
        lambda *xs: (vjp_node(f, vjp, *xs) * weight).sum(),
        *leaves,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=False,
    )


# --- check_edges ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeCheck:
    """One edge's check: the stored local (``got``, applied to ``upstream``) against a finite
    difference of its op alone (``expected``), at the element ``index`` of the parent where they
    differ most."""

    edge: Edge
    ok: bool
    got: float
    expected: float
    index: tuple | None

    def describe(self) -> str:
        e = self.edge
        where = f", element {self.index}" if self.index not in (None, ()) else ""
        return (
            f"{describe(e.parent)} → {describe(e.child)} (op {e.child.op!r}, operand {e.index}){where}: "
            f"local gives {self.got:.8g}, finite difference of {e.child.op} {self.expected:.8g}"
        )


@dataclass(frozen=True)
class EdgeCheckResult:
    """What :func:`check_edges` found. ``bool(result)`` is True when no checked edge failed.

    Attributes:
        checks: one :class:`EdgeCheck` per checked edge. skipped: edges not checked (into a
            constant or a tensor that takes no gradient, or of an op not in ``RULES``).
    """

    checks: tuple
    skipped: tuple

    @property
    def failures(self) -> tuple:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = (
            f"check_edges: {len(self.checks)} edges checked, {len(self.failures)} failed, "
            f"{len(self.skipped)} skipped"
        )
        return "\n".join([head] + ["  ✗ " + c.describe() for c in self.failures])


def check_edges(
    source: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0
) -> EdgeCheckResult:
    """Check every edge's stored local against a finite difference of its op alone.

    For the edge ``parent → child`` (operand i of ``child``), the op is re-run as
    ``RULES[child.op].compute`` on the inputs ``child`` recorded (``p.data`` of its parents and
    ``child.arg``), with only operand i perturbed; the stored local applied to a random upstream
    u (tensors; 1 for a scalar graph) must equal the central difference of ⟨u, output⟩. So a
    wrong rule, a wrong user op or a local edited by hand is found where it is, not somewhere
    downstream in the gradient.

    Args:
        source: a traced :class:`~tinygrad_edu.Graph`, or a root ``Value``/``Tensor``.
        eps, atol, rtol: as in :func:`~tinygrad_edu.testing.gradcheck`.
        seed: seeds the random upstreams.

    Returns:
        an :class:`EdgeCheckResult` (``.failures`` lists the wrong edges with both numbers).
    """
    graph = source if isinstance(source, Graph) else trace(source)
    rng = np.random.default_rng(seed)
    checks, skipped = [], []
    for edge in graph.edges:
        child = edge.child
        rule = RULES.get(child.op)
        if rule is None or not edge.parent.requires_grad or _is_lifted(edge.parent):
            skipped.append(edge)
            continue
        checks.append(_check_edge(edge, rule, rng, eps, atol, rtol))
    return EdgeCheckResult(tuple(checks), tuple(skipped))


def _is_lifted(node: Any) -> bool:
    return not node.parents and node.arg == "lifted number"


class _Recorded:
    """``compute(m, *datas)`` giving the rule's forward and the child's *stored* locals."""

    def __init__(self, rule: Any, arg: Any, stored: tuple):
        self.rule, self.arg, self.stored = rule, arg, stored

    def __call__(self, m: Any, *datas: Any) -> tuple:
        args = (
            (*datas, self.arg) if self.arg is not None or _takes_arg(self.rule.compute, len(datas)) else datas
        )
        with np.errstate(all="ignore"):
            out, _ = self.rule.compute(m, *args)
        return out, self.stored


def _takes_arg(compute: Any, n_inputs: int) -> bool:
    """Whether ``compute`` takes a static argument after its inputs (``t[None]`` records None)."""
    try:
        parameters = inspect.signature(compute).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return False
    return len(parameters) > 1 + n_inputs


def _check_edge(edge: Edge, rule: Any, rng, eps, atol, rtol) -> EdgeCheck:
    child, i = edge.child, edge.index
    compute = _Recorded(rule, child.arg, child.local_grads)
    leaves: list[Value] | list[Tensor]
    if isinstance(child, Value):
        leaves = [Value(p.data) for p in child.parents]

        def fn(*xs):
            return scalar.apply(child.op, compute, xs, None)

        report = gradcheck(fn, *leaves, eps=eps, atol=atol, rtol=rtol, raise_exception=False)
        found = report.inputs[i]
    else:
        leaves = [Tensor(p.data, requires_grad=(k == i)) for k, p in enumerate(child.parents)]
        upstream = Tensor(rng.choice((-1.0, 1.0), child.data.shape) * rng.uniform(0.5, 1.5, child.data.shape))

        def fn(*xs):
            return (tensor.apply(child.op, compute, xs) * upstream).sum()

        report = gradcheck(fn, *leaves, eps=eps, atol=atol, rtol=rtol, raise_exception=False)
        found = report.inputs[0]
    return EdgeCheck(edge, found.ok, found.analytic, found.numeric, found.index)
