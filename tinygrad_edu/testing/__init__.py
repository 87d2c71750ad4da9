"""Testing tools: a public :func:`gradcheck` and Hypothesis strategies for property-testing derivatives.

**gradcheck** compares the gradients ``backward()`` computes (analytic) with central finite
differences (numeric), for functions of :class:`~tinygrad_edu.Value` s or of
:class:`~tinygrad_edu.Tensor` s::

    >>> from tinygrad_edu import Value
    >>> from tinygrad_edu.testing import gradcheck
    >>> x = Value(0.5, label="x"); w = Value(-1.5, label="w")
    >>> gradcheck(lambda x, w: (w * x).tanh(), x, w).ok
    True

**Strategies** (need Hypothesis, installed by the ``dev`` extra) generate the inputs of property
tests: :func:`shapes`, :func:`broadcastable_shapes`, :func:`axes`, :func:`arrays`,
:func:`tensors` and :func:`expression_dags` (random scalar expression graphs that stay inside
every op's domain). A property test of your own op, built from engine ops, on every shape and
on broadcasting operands::

    from hypothesis import given, strategies as st
    from tinygrad_edu.testing import broadcastable_shapes, gradcheck, tensors

    def softsign(t):                         # t / (1 + |t|); kink of |t| at 0
        return t / (1 + t.abs())

    @given(tensors(domain="away_from_kinks"))
    def test_softsign_gradients(x):
        gradcheck(softsign, x)               # raises GradcheckError naming input, element and values

    @given(st.data())
    def test_weighted_log_broadcasts(data):
        a_shape, b_shape = data.draw(broadcastable_shapes())
        a = data.draw(tensors(a_shape))
        b = data.draw(tensors(b_shape, domain="positive"))   # log needs b > 0
        gradcheck(lambda a, b: a * b.log(), a, b)

**Your own op** (declared with :func:`tinygrad_edu.op`) is proved with one call of
:func:`check_op` (Values and Tensors, broadcasting, a random upstream, domains and kinks,
complex step, mutation, scalar vs tensor); :func:`check_edges` checks every edge of a traced
graph against a finite difference of its op alone (``viz.draw(root, check=True)`` marks the
failures); :func:`check_vjp` checks a hand-written numpy backward::

    from tinygrad_edu.testing import arrays, check_op, check_vjp
    check_op(softsign, exclude=0, domain=(-50, 50))
    check_vjp(layer_norm, layer_norm_vjp, arrays((3, 4)))

Hypothesis is imported only when a strategy is asked for, so ``gradcheck`` works without it.

The modules, one responsibility each:

* :mod:`~tinygrad_edu.testing.check` — :func:`gradcheck` itself: arguments, mode, restoring state;
* :mod:`~tinygrad_edu.testing.finite_differences` — perturbing inputs and comparing Jacobians
  (full mode), or random projections and spot-checked elements of uᵀJ (fast mode);
* :mod:`~tinygrad_edu.testing.report` — :class:`GradcheckReport`, :class:`InputCheck`,
  :class:`GradcheckError`;
* :mod:`~tinygrad_edu.testing.strategies` — :func:`shapes`, :func:`broadcastable_shapes`,
  :func:`axes`, :func:`arrays`, :func:`tensors` and their value :data:`DOMAINS`;
* :mod:`~tinygrad_edu.testing.check_op` — :func:`check_op`, :class:`OpCheckError`;
* :mod:`~tinygrad_edu.testing.vjp` — :func:`check_vjp`, :func:`check_edges` and their results;
* :mod:`~tinygrad_edu.testing.dags` — :func:`expression_dags`, :class:`ExpressionDag`,
  :class:`DagStep`, :class:`Const`, :func:`apply_op`, :data:`EXPRESSION_OPS` and the float64
  reference evaluator.
"""

from .check import FULL_MODE_MAX_EVALUATIONS, gradcheck
from .check_op import OpCheckError, OpCheckResult, check_op
from .dags import EXPRESSION_OPS, Const, DagStep, ExpressionDag, apply_op, expression_dags
from .finite_differences import LOCALIZE_MAX_ELEMENTS, PROJECTIONS, SPOT_CHECK_ELEMENTS
from .report import GradcheckError, GradcheckReport, InputCheck
from .strategies import DOMAINS, arrays, axes, broadcastable_shapes, shapes, tensors
from .vjp import ClaimedVJP, EdgeCheck, EdgeCheckResult, check_edges, check_vjp, vjp_node

__all__ = [
    "gradcheck",
    "check_op",
    "OpCheckError",
    "OpCheckResult",
    "check_vjp",
    "check_edges",
    "EdgeCheck",
    "EdgeCheckResult",
    "ClaimedVJP",
    "vjp_node",
    "GradcheckReport",
    "InputCheck",
    "GradcheckError",
    "FULL_MODE_MAX_EVALUATIONS",
    "LOCALIZE_MAX_ELEMENTS",
    "SPOT_CHECK_ELEMENTS",
    "PROJECTIONS",
    "DOMAINS",
    "shapes",
    "broadcastable_shapes",
    "axes",
    "arrays",
    "tensors",
    "expression_dags",
    "ExpressionDag",
    "DagStep",
    "Const",
    "EXPRESSION_OPS",
    "apply_op",
]
