"""Tensor-only derivative rules: ``@``, reductions, shape ops, indexing, softmax and the losses.

They join the elementwise rules of :mod:`tinygrad_edu.rules` in the same :data:`RULES` table,
with the same shape: ``compute(m, *inputs[, arg]) -> (output, locals)``, forward next to local
derivative, plus the formulas that pictures print. ``inputs`` are numpy arrays, ``arg`` is the
node's static parameter (the axes, the new shape, the index ...), passed only when the op has
one (``getitem`` always gets its index, which may be None itself: ``t[None]``), so a node of
an op with an argument can be recomputed as
``RULES[node.op].compute(ArrayMath, *[p.data for p in node.parents], node.arg)``.

A local here is either an array (the elementwise or gradient array, when the output is a
single number, e.g. a loss) or a small linear map that the backward loop applies by
``local * upstream``. Each op family keeps its forward and its linear maps in one file:

* :mod:`.products`: ``@`` (``MatmulLeft`` ·Wᵀ, ``MatmulRight`` Xᵀ·);
* :mod:`.reductions`: sum, mean, max, logsumexp (``Expand``);
* :mod:`.shapes`: reshape, transpose, indexing, concatenate, stack (``Reshape``, ``Permute``,
  ``Scatter``, ``Select``);
* :mod:`.softmax`: softmax, log_softmax (``SoftmaxJacobian``, ``LogSoftmaxJacobian``);
* :mod:`.losses`: the fused losses (their locals are plain arrays).

The shared machinery (``Local``, ``Identity``, ``Unbroadcast``, ``Cast``) is in
:mod:`tinygrad_edu.jacobians`.

Validation (types, shapes, axes) happens in :mod:`tinygrad_edu.tensor_checks` before these run, and
they run with numpy's floating-point warnings off (IEEE results, silently: log 0 = −inf).
"""

from __future__ import annotations

from .losses import (
    LOSSES,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from .products import MatmulLeft, MatmulRight, matmul
from .reductions import Expand, ReduceArg, logsumexp, max_, mean, reduce_size, sum_
from .shapes import Permute, Reshape, Scatter, Select, concatenate, getitem, reshape, stack, transpose
from .softmax import LogSoftmaxJacobian, SoftmaxJacobian, log_softmax, softmax

__all__ = [
    "ReduceArg",
    "LOSSES",
    "reduce_size",
    "matmul",
    "sum_",
    "mean",
    "max_",
    "logsumexp",
    "reshape",
    "transpose",
    "getitem",
    "concatenate",
    "stack",
    "softmax",
    "log_softmax",
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "MatmulLeft",
    "MatmulRight",
    "Expand",
    "Reshape",
    "Permute",
    "Scatter",
    "Select",
    "SoftmaxJacobian",
    "LogSoftmaxJacobian",
]
