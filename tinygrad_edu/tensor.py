"""``Tensor``: a numpy array as a node of an explicit computation graph.

Same design as :class:`~tinygrad_edu.Value`: a node is plain data — ``data``, ``grad``,
``parents``, ``local_grads`` (∂self/∂parent at the forward values), ``op``, ``label``,
``arg``, ``scope`` — and ``backward()`` is the one loop of :mod:`tinygrad_edu.graph`, which
does ``parent.grad += local * upstream`` on every edge.

What the local derivative of a tensor edge looks like:

* elementwise ops (``+ − × ÷ ** exp tanh σ relu …``) reuse the rules of
  :mod:`tinygrad_edu.rules`: the local is the elementwise derivative array (``1 − tanh²(x)``),
  or the other operand for a product. If the operand was broadcast, the local is wrapped in
  :class:`~tinygrad_edu.jacobians.Unbroadcast`, which sums the product back to the operand's
  shape and whose ``note`` says over which axes ("summed over axes (0,)");
* ``@``, reductions, reshapes, indexing, softmax: a small linear map declared beside its
  forward in the op family's file of :mod:`tinygrad_edu.tensor_rules` (``products.py``:
  ``MatmulLeft`` stores W and applies ``·Wᵀ``).

dtypes: float64 by default; float32 stays float32 through every op and its gradient (Python
numbers in an op take the tensor's dtype); ints and bools become float64. Mixing float32 and
float64 tensors promotes as numpy does, and the gradient is cast back to each operand's dtype.

Memory: ``Tensor(array)`` copies the array (:func:`from_numpy` shares it, as in PyTorch).
Results of ``reshape``, ``transpose`` and basic slicing share memory with their input, as numpy
views do. A leaf's ``.grad`` is always its own array (an optimiser may scale it in place);
intermediate nodes may share their ``.grad`` with a child (``+`` hands the upstream gradient
on without copying it). Edges into a tensor
that does not require grad keep the rule's raw elementwise local: no gradient flows there.

Numbers follow IEEE semantics silently, as in the scalar engine: overflow gives inf, an
invalid operation nan, and numpy's RuntimeWarnings are off while an op computes (so
``-W error`` never turns them into exceptions mid-graph; ``detect_anomaly()`` is the way to
stop at the first non-finite value).

Bad arguments are refused before any node exists, with a message naming the op, the shapes
and the value: those checks live in :mod:`tinygrad_edu.tensor_checks`.

Example::

    >>> x = Tensor(np.ones((4, 3))); W = Tensor(np.full((3, 2), 0.5), requires_grad=True)
    >>> loss = (x @ W).relu().sum(); loss.backward()
    >>> W.grad.shape
    (3, 2)
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from . import formulas, graph, rules
from . import tensor_rules as trules
from .errors import GradError, ShapeError
from .jacobians import IDENTITY, Cast, Local, Unbroadcast, index_text
from .modes import state as _state
from .node import fill_node
from .numerics import ArrayMath as _AM
from .numerics import quiet_numpy, restore_numpy, to_float
from .scalar import Value, check_slope

# Validation and error messages live in tensor_checks (which works on shapes and arrays).
from .tensor_checks import (
    check_axis,
    check_broadcast,
    check_forward,
    new_shape,
    normalize_index,
    one_axis,
    permutation,
    reduce_arg,
    refuse_empty,
    to_array,
)

_new = object.__new__
_ndarray = np.ndarray
_asarray = np.asarray


class Tensor:
    """A numpy array in a computation graph. ``Tensor(data, requires_grad=False, label="")``.

    Args:
        data: numbers, nested lists, a numpy array or a Tensor (copied). float32 stays float32,
            other floats, ints and bools become float64.
        requires_grad: whether backward() should fill ``.grad`` for this tensor (and, for
            results, whether any input needs a gradient).
        label: a name shown in pictures and messages.

    Raises:
        TypeError: non-numeric data (strings, None, objects, complex, ragged lists), a
            ``Value``, a non-bool ``requires_grad`` or a non-str ``label``.
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
        "__weakref__",
    )
    # the node contract (tinygrad_edu.node.Node), for the type checker: the slots above
    data: np.ndarray
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
    #: ``ndarray ∘ Tensor`` must call Tensor's reflected operator, not make an object array.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, label: str = ""):
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"Tensor: requires_grad must be True or False, got {requires_grad!r}")
        if not isinstance(label, str):
            raise TypeError(f"Tensor: label must be a str, got {type(label).__name__}")
        fill_node(self, to_array(data, "Tensor"), (), (), "", None, label, bool(requires_grad))

    # --- array facts ---

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d Tensor")
        return self.data.shape[0]

    def __iter__(self):
        """The rows ``t[0], t[1], …`` (graph nodes, as PyTorch's); a 0-d Tensor has none to give."""
        if not self.data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # --- arithmetic: the elementwise rules of rules.py, with numpy broadcasting ---

    def __add__(self, other: Any) -> Tensor:
        return _binary("add", rules.add, self, other, "+")

    def __radd__(self, other: Any) -> Tensor:
        return _binary("add", rules.add, other, self, "+")

    def __sub__(self, other: Any) -> Tensor:
        return _binary("sub", rules.sub, self, other, "-")

    def __rsub__(self, other: Any) -> Tensor:
        return _binary("sub", rules.sub, other, self, "-")

    def __mul__(self, other: Any) -> Tensor:
        return _binary("mul", rules.mul, self, other, "*")

    def __rmul__(self, other: Any) -> Tensor:
        return _binary("mul", rules.mul, other, self, "*")

    def __truediv__(self, other: Any) -> Tensor:
        return _binary("div", rules.div, self, other, "/")

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary("div", rules.div, other, self, "/")

    def __pow__(self, exponent: Any) -> Tensor:
        """``x ** p``: a number exponent is a constant of the node (``arg``); a tensor exponent
        gets an edge (∂/∂p = xᵖ·ln x)."""
        kind = exponent.__class__
        if kind is float:
            return _unary("pow_const", rules.pow_const, self, exponent)
        if kind is int:  # an int beyond the float range is ±inf (IEEE), not an OverflowError
            return _unary("pow_const", rules.pow_const, self, to_float(exponent))
        if isinstance(exponent, (Tensor, Value, np.ndarray, list)):
            return _binary("pow", rules.pow_, self, exponent, "**")
        if isinstance(exponent, Real) and not isinstance(exponent, bool):
            value = exponent.item() if isinstance(exponent, np.generic) else exponent
            return _unary("pow_const", rules.pow_const, self, to_float(value))
        raise TypeError(
            f"Tensor ** exponent: the exponent must be a real number or a Tensor, "
            f"got {type(exponent).__name__} ({exponent!r:.40})"
        )

    def __rpow__(self, base: Any) -> Tensor:
        return _binary("pow", rules.pow_, base, self, "**")

    def __neg__(self) -> Tensor:
        return _unary("neg", rules.neg, self, quiet=False)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _unary("abs", rules.abs_, self, quiet=False)

    def __matmul__(self, other: Any) -> Tensor:
        return _matmul(self, _lift(other, self, "@"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return _matmul(_lift(other, self, "@"), self)

    # --- elementwise functions (maths in rules.py) ---

    def exp(self) -> Tensor:
        """eˣ; local derivative eˣ."""
        return _unary("exp", rules.exp, self)

    def log(self) -> Tensor:
        """ln x; local derivative 1/x."""
        return _unary("log", rules.log, self)

    def sqrt(self) -> Tensor:
        """√x; local derivative 1/(2√x)."""
        return _unary("sqrt", rules.sqrt, self)

    def tanh(self) -> Tensor:
        """tanh x; local derivative 1 − tanh²x."""
        return _unary("tanh", rules.tanh, self, quiet=False)

    def sigmoid(self) -> Tensor:
        """σ(x) (stable for ±1000); local derivative σ(x)(1 − σ(x)) ≤ 0.25."""
        return _unary("sigmoid", rules.sigmoid, self)

    def relu(self) -> Tensor:
        """max(x, 0); local derivative 1 where x > 0, else 0."""
        return _unary("relu", rules.relu, self, quiet=False)

    def leaky_relu(self, slope: float = 0.01) -> Tensor:
        """x where x > 0, else slope·x; local derivative 1 or slope."""
        return _unary("leaky_relu", rules.leaky_relu, self, check_slope(slope))

    def softplus(self) -> Tensor:
        """ln(1 + eˣ); local derivative σ(x)."""
        return _unary("softplus", rules.softplus, self)

    def log_sigmoid(self) -> Tensor:
        """ln σ(x) (stable for ±1000); local derivative 1 − σ(x)."""
        return _unary("log_sigmoid", rules.log_sigmoid, self)

    def abs(self) -> Tensor:
        """|x|; local derivative sign(x) (0 at 0)."""
        return _unary("abs", rules.abs_, self, quiet=False)

    def sin(self) -> Tensor:
        """sin x; local derivative cos x."""
        return _unary("sin", rules.sin, self)

    def cos(self) -> Tensor:
        """cos x; local derivative −sin x."""
        return _unary("cos", rules.cos, self)

    # --- reductions (tensor_rules/reductions.py) ---

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Σ over ``axis`` (None: all; int; tuple). Local derivative 1, spread back."""
        return _apply("sum", trules.sum_, (self,), reduce_arg("sum", self, axis, keepdims))

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis``. Local derivative 1/n."""
        arg = reduce_arg("mean", self, axis, keepdims)
        refuse_empty("mean", self, arg.axis)
        return _apply("mean", trules.mean, (self,), arg)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``. Local derivative: 1 at the arg-max; NOTE ties split evenly."""
        arg = reduce_arg("max", self, axis, keepdims)
        refuse_empty("max", self, arg.axis)
        return _apply("max", trules.max_, (self,), arg)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """ln Σ eˣ over ``axis``, stable (max subtracted). Local derivative softmax(x)."""
        arg = reduce_arg("logsumexp", self, axis, keepdims)
        refuse_empty("logsumexp", self, arg.axis)
        return _apply("logsumexp", trules.logsumexp, (self,), arg)

    def softmax(self, axis: int = -1) -> Tensor:
        """softmax along ``axis``, stable. Local derivative softmax(x)ᵢ(δᵢⱼ − softmax(x)ⱼ).

        An empty ``axis`` gives an empty result (PyTorch's behaviour: no output is undefined),
        where ``mean``/``max``/``logsumexp`` over an empty axis raise ShapeError.
        """
        return _apply("softmax", trules.softmax, (self,), one_axis("softmax", self, axis))

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log softmax along ``axis``, stable. Local derivative δᵢⱼ − softmax(x)ⱼ. An empty
        ``axis`` gives an empty result, as for :meth:`softmax`."""
        return _apply("log_softmax", trules.log_softmax, (self,), one_axis("log_softmax", self, axis))

    # --- shape ops ---

    def reshape(self, *shape: Any) -> Tensor:
        """Same elements in a new shape (``reshape(2, 3)`` or ``reshape((2, -1))``)."""
        return _apply("reshape", trules.reshape, (self,), new_shape(self, shape), quiet=False)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (``transpose()`` reverses them, as numpy)."""
        return _apply(
            "transpose", trules.transpose, (self,), permutation("transpose", self, axes), quiet=False
        )

    def permute(self, *axes: Any) -> Tensor:
        """Permute the axes into the given order (every axis named once)."""
        if not axes:
            raise TypeError("permute: give the new order of the axes, e.g. permute(1, 0)")
        return _apply("transpose", trules.transpose, (self,), permutation("permute", self, axes), quiet=False)

    @property
    def T(self) -> Tensor:
        """The axes reversed (a matrix transpose for 2-D)."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        """Basic slicing and integer/boolean array indexing, as numpy. Gradients of positions
        picked more than once accumulate."""
        index = normalize_index(index)
        try:
            return _apply("getitem", trules.getitem, (self,), index, quiet=False)
        except IndexError as error:
            raise IndexError(
                f"getitem: index [{index_text(index)}] does not fit a tensor of shape {self.shape}: {error}"
            ) from None

    # --- gradients ---

    def backward(self, grad: Any = None) -> None:
        """Fill ``.grad`` of every tensor this one depends on with ∂self/∂tensor.

        ``grad`` is the gradient to start from; it may be omitted only for a single-number
        tensor (it is then 1). Leaf gradients accumulate across calls, as in PyTorch.
        """
        graph.backward(self, grad)

    def seed_grad(self, grad: Any) -> np.ndarray:
        """The gradient the backward pass starts from (a fresh array of ``data``'s shape/dtype).

        Raises:
            GradError: nothing to differentiate, ``grad`` omitted on a tensor of more than one
                element, or ``grad`` of another shape.
            TypeError: non-numeric ``grad``.
        """
        shape = self.data.shape
        if not self.requires_grad:
            raise GradError(
                f"backward: {graph.describe(self)} (shape {shape}) does not require grad: no tensor it "
                "was computed from has requires_grad=True, or it was computed under no_grad()"
            )
        if grad is None:
            if self.data.size == 1:
                return np.ones(shape, self.data.dtype)
            raise GradError(
                f"backward: {graph.describe(self)} has shape {shape}, not a single number, so there is no "
                f"default gradient; pass backward(grad) with an array of shape {shape} "
                f"(e.g. np.ones({shape}) to differentiate the sum)"
            )
        if isinstance(grad, Tensor):
            grad = grad.data
        array = to_array(grad, "backward: grad")
        if array.shape != shape:
            raise GradError(
                f"backward: grad has shape {array.shape} but {graph.describe(self)} has shape {shape}; "
                "they must be equal"
            )
        return array.astype(self.data.dtype, copy=False)

    def zero_grad(self) -> None:
        """Set ``.grad`` of this tensor and of every tensor it depends on back to None."""
        graph.zero_grad(self)

    # --- conversions ---

    def item(self) -> float:
        """The single number of a one-element tensor, as a Python float."""
        if self.data.size != 1:
            raise ShapeError(
                f"item: only a tensor with one element is a number; this one has shape {self.shape}"
            )
        return float(self.data.reshape(()))

    def __float__(self) -> float:
        return self.item()

    def __bool__(self) -> bool:
        return bool(self.data)

    def numpy(self) -> np.ndarray:
        """The data array itself (shared, not copied)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside the graph (requires_grad False)."""
        return fill_node(_new(Tensor), self.data, (), (), "", LIFTED, self.label, False)

    def __repr__(self) -> str:
        parts = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        if self.requires_grad:
            parts.append("requires_grad=True")
        return f"Tensor({_data_text(self.data)}, {', '.join(parts)})"


# --- module-level ops -------------------------------------------------------------------------


def from_numpy(array: np.ndarray, requires_grad: bool = False, label: str = "") -> Tensor:
    """A leaf Tensor that *shares* ``array``'s memory, as ``torch.from_numpy`` does (no copy).

    ``Tensor(array)`` copies, so that nothing outside the graph can change a node's value; a
    training loop that wraps every batch pays that copy each step (a 128×784 batch is 0.4 MB in
    float32). ``from_numpy(batch)`` costs nothing instead, and the tensor and the array are the
    same numbers: writing into one in place (``t.data -= lr * t.grad``) changes the other, as in
    PyTorch. (The optimisers of :mod:`tinygrad_edu.optim` give a parameter a *new* ``.data``
    array each step, so after a step the two are separate.)

    Args:
        array: a numpy array of dtype float32 or float64 (the engine's dtypes).
        requires_grad: whether backward should fill ``.grad`` for this tensor.
        label: a name shown in pictures and messages.

    Raises:
        TypeError: ``array`` is not a numpy array, or of another dtype (``Tensor(array)``
            converts it, with a copy), or a non-bool ``requires_grad`` / non-str ``label``.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"from_numpy: expected a numpy array, got {type(array).__name__} ({array!r:.40}); "
            "Tensor(data) converts other data (with a copy)"
        )
    if array.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(
            f"from_numpy: the array has dtype {array.dtype}; the engine computes in float32 or float64 "
            "without converting shared memory: use Tensor(array), which converts a copy"
        )
    if not isinstance(requires_grad, (bool, np.bool_)):
        raise TypeError(f"from_numpy: requires_grad must be True or False, got {requires_grad!r}")
    if not isinstance(label, str):
        raise TypeError(f"from_numpy: label must be a str, got {type(label).__name__}")
    return fill_node(_new(Tensor), array, (), (), "", None, label, bool(requires_grad))


def _tensor_list(op: str, tensors: Any) -> list:
    """The inputs of ``concatenate``/``stack`` as a non-empty list of Tensors (arrays are converted)."""
    if isinstance(tensors, (Tensor, np.ndarray)) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ShapeError(f"{op}: needs at least one tensor")
    out = []
    for t in tensors:
        if isinstance(t, Value):
            raise TypeError(f"{op}: cannot mix Value and Tensor: got {t!r}")
        out.append(t if isinstance(t, Tensor) else Tensor(t))
    return out


def concatenate(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``; each input's gradient is its slice of the upstream."""
    tensors = _tensor_list("concatenate", tensors)
    ndim = tensors[0].ndim
    shapes = [t.shape for t in tensors]
    if ndim == 0 or any(t.ndim != ndim for t in tensors):
        raise ShapeError(
            f"concatenate: needs tensors with the same number (≥ 1) of axes, got shapes {shapes}"
        )
    axis = check_axis("concatenate", axis, tensors[0].shape)
    others = {s[:axis] + s[axis + 1 :] for s in shapes}
    if len(others) > 1:
        raise ShapeError(f"concatenate: shapes {shapes} must agree on every axis except axis {axis}")
    return _apply("concatenate", trules.concatenate, tuple(tensors), axis, quiet=False)


def stack(tensors: Any, axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new ``axis``; input i's gradient is upstream[..., i, ...]."""
    tensors = _tensor_list("stack", tensors)
    shapes = [t.shape for t in tensors]
    if len(set(shapes)) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {shapes}")
    axis = check_axis("stack", axis, shapes[0] + (1,))
    return _apply("stack", trules.stack, tuple(tensors), axis, quiet=False)


# --- operands: Python numbers and arrays as Tensors ----------------------------------------------


def _lift(other: Any, like: Tensor, symbol: str) -> Tensor:
    """``other`` as a Tensor operand: numbers become constants of ``like``'s dtype (so float32
    stays float32), arrays are converted; anything else is a TypeError."""
    kind = other.__class__
    if kind is Tensor:
        return other
    if kind is float:
        return _constant(other, like.data.dtype)
    if kind is int:
        try:
            return _constant(other, like.data.dtype)
        except OverflowError:  # an int beyond the float range: IEEE rounds it to ±inf
            return _constant(to_float(other), like.data.dtype)
    if isinstance(other, Tensor):
        return other
    if isinstance(other, Value):
        raise TypeError(
            f"cannot mix Value and Tensor in {symbol!r}: use Tensor(value.data), or tensor.item() for a Value"
        )
    if isinstance(other, (Real, np.bool_)) and not isinstance(other, np.ndarray):
        return _constant(to_float(other), like.data.dtype)
    if isinstance(other, (np.ndarray, list, tuple)):
        return Tensor(other)
    raise TypeError(
        f"unsupported operand for Tensor {symbol!r}: {type(other).__name__} ({other!r:.40}); "
        "expected a Tensor, a real number or a numpy array"
    )


LIFTED = formulas.LIFTED  # the ``arg`` of a constant made from a Python number inside an op


def _constant(value: Any, dtype: np.dtype) -> Tensor:
    return fill_node(_new(Tensor), _asarray(value, dtype), (), (), "", LIFTED, "", False)


# --- node construction (the hot path: no validation here) ---------------------------------------
#
# Every op computes its rule with numpy's warnings off, refuses a non-finite result under
# ``detect_anomaly()``, fits each local to its edge (:func:`_fit`) and hands
# the node to :func:`~tinygrad_edu.node.fill_node`. A result records its parents and locals only
# when some input requires grad and ``no_grad()`` is off; otherwise it is a leaf that does not
# require grad.


def _untracked(out: np.ndarray, op: str, arg: Any, inputs: tuple) -> Tensor:
    """A result that records no edges (no input requires grad, or under ``no_grad()``)."""
    if _state.anomaly:
        check_forward(op, out, inputs)
    return fill_node(_new(Tensor), out, (), (), op, arg, "", False)


#: The rules whose numpy calls raise no floating-point error on any input (±inf, nan, 1e308,
#: subnormals): sign flips, comparisons, indexing and copies. tanh's 1 − y² can only underflow,
#: which numpy ignores unless asked to (np.seterr(under=...)). Their ops skip silencing numpy
#: (``quiet=False``), which costs about 0.2 µs, as much as a tiny op's own arithmetic;
#: tests/test_numpy_warnings.py checks every op with warnings raised as errors.
SILENT = ("neg", "abs", "relu", "tanh", "reshape", "transpose", "getitem", "concatenate", "stack")


def _unary(op: str, compute: Any, x: Tensor, arg: Any = None, quiet: bool = True) -> Tensor:
    token = quiet_numpy() if quiet else None  # IEEE results (inf, nan) without numpy's warnings
    try:
        if arg is None:
            out, (local,) = compute(_AM, x.data)
        else:
            out, (local,) = compute(_AM, x.data, arg)
    finally:
        if token is not None:
            restore_numpy(token)
    if out.__class__ is not _ndarray:
        out = _asarray(out)
    if not (x.requires_grad and _state.grad_enabled):
        return _untracked(out, op, arg, (x,))
    if _state.anomaly:
        check_forward(op, out, (x,))
    if not out.shape:  # numpy gives bare scalars for 0-d products; a gradient is an ndarray
        local = Unbroadcast(local, (), ())
    return fill_node(_new(Tensor), out, (x,), (local,), op, arg, "", True)


def _binary(op: str, compute: Any, a: Any, b: Any, symbol: str) -> Tensor:
    """``a op b`` for an elementwise rule; one operand may be a number or an array (lifted)."""
    if a.__class__ is not Tensor or b.__class__ is not Tensor:  # one is the Tensor whose operator ran
        if isinstance(a, Tensor):
            b = _lift(b, a, symbol)
        else:
            a = _lift(a, b, symbol)
    ad = a.data
    bd = b.data
    token = quiet_numpy()  # IEEE results (inf, nan) without numpy's RuntimeWarnings
    try:
        out, local_grads = compute(_AM, ad, bd)
    except ValueError:
        check_broadcast(op, ad.shape, bd.shape)
        raise
    finally:
        restore_numpy(token)
    if out.__class__ is not _ndarray:
        out = _asarray(out)
    if not ((a.requires_grad or b.requires_grad) and _state.grad_enabled):
        return _untracked(out, op, None, (a, b))
    if _state.anomaly:
        check_forward(op, out, (a, b))
    # An edge into a number lifted by _lift never carries a gradient (nobody can ask for it),
    # so its local stays the rule's raw elementwise derivative: a cheaper node. Every other
    # edge gets a local of its operand's shape, even without requires_grad, so that switching
    # requires_grad on later cannot send a wrongly shaped gradient.
    shape = out.shape
    dtype = out.dtype
    la, lb = local_grads
    if shape and ad.shape == shape == bd.shape and ad.dtype is dtype and bd.dtype is dtype:
        # The common case, nothing broadcast or cast (a lifted number is 0-d, so never here):
        # only a 1.0 into an intermediate node changes, into IDENTITY (see _fit).
        if la.__class__ is float or lb.__class__ is float:  # + and − (locals ±1.0)
            if la.__class__ is float and la == 1.0 and a.parents:
                la = IDENTITY
            if lb.__class__ is float and lb == 1.0 and b.parents:
                lb = IDENTITY
            local_grads = (la, lb)
    else:
        if a.arg is not LIFTED:
            la = _fit(la, a, out)
        if b.arg is not LIFTED:
            lb = _fit(lb, b, out)
        local_grads = (la, lb)
    return fill_node(_new(Tensor), out, (a, b), local_grads, op, None, "", True)


def _fit(local: Any, parent: Tensor, out: np.ndarray) -> Any:
    """Adapt an elementwise rule's local to the edge into ``parent``.

    * 1.0 (``+``, ``−``) → :data:`IDENTITY`, which hands the upstream on without a copy, unless
      the parent is a leaf that would then share its ``.grad`` with another node;
    * operand broadcast (or a 0-d result) → :class:`Unbroadcast` (sums back to its shape);
    * narrower operand dtype → :class:`Cast` (the gradient gets the operand's dtype).
    """
    data = parent.data
    same_shape = data.shape == out.shape
    if (
        local.__class__ is float
        and local == 1.0
        and (parent.parents or not same_shape or data.dtype != out.dtype)
    ):
        local = IDENTITY
    if not same_shape or not out.shape:
        local = Unbroadcast(local, data.shape, out.shape)
    if data.dtype != out.dtype:
        local = Cast(local, data.dtype)
    return local


#: The ``arg`` of :func:`_apply` when the op takes none. A sentinel, not None, because None is a
#: real argument of some ops: ``t[None]`` indexes with None (a new axis).
NO_ARG = object()


def _apply(op: str, compute: Any, inputs: tuple, arg: Any = NO_ARG, quiet: bool = True) -> Tensor:
    """Build a node of a tensor rule (matmul, reductions, shape ops, softmax, losses)."""
    datas = [t.data for t in inputs]
    token = quiet_numpy() if quiet else None  # IEEE results (inf, nan) without numpy's warnings
    try:
        if arg is NO_ARG:
            out, locals_ = compute(_AM, *datas)
            arg = None  # what node.arg holds for an op without one
        else:
            out, locals_ = compute(_AM, *datas, arg)
    finally:
        if token is not None:
            restore_numpy(token)
    if out.__class__ is not _ndarray:
        out = _asarray(out)
    if not (_state.grad_enabled and any(t.requires_grad for t in inputs)):
        return _untracked(out, op, arg, inputs)
    if _state.anomaly:
        check_forward(op, out, inputs)
    dtype = out.dtype
    fitted = []
    for data, local in zip(datas, locals_):
        if not data.shape and not isinstance(local, Local):
            local = Unbroadcast(local, (), ())
        if data.dtype != dtype:
            local = Cast(local, data.dtype)
        fitted.append(local)
    return fill_node(_new(Tensor), out, inputs, tuple(fitted), op, arg, "", True)


# --- public node construction (tinygrad_edu.ops builds user ops with these) -------------------


def lift(other: Any, like: Tensor, symbol: str) -> Tensor:
    """Public: ``other`` as an operand next to ``like`` (numbers take ``like``'s dtype)."""
    return _lift(other, like, symbol)


def apply_elementwise(op: str, compute: Any, inputs: tuple, arg: Any = None) -> Tensor:
    """Build the node of an elementwise rule of any arity, exactly as ``+`` or ``tanh`` do.

    The operands broadcast as in numpy; each local is fitted to its edge as in :func:`_binary`
    (:class:`~tinygrad_edu.jacobians.Unbroadcast` when the operand was broadcast, ``Cast`` when
    its dtype is narrower); ``no_grad``, ``detect_anomaly`` and name scopes apply.
    """
    datas = [t.data for t in inputs]
    token = quiet_numpy()  # IEEE results (inf, nan) without numpy's RuntimeWarnings, as in _binary
    try:
        out, locals_ = compute(_AM, *datas) if arg is None else compute(_AM, *datas, arg)
    except ValueError:
        if len(datas) > 1:
            try:
                np.broadcast_shapes(*(d.shape for d in datas))
            except ValueError:
                shapes = " and ".join(str(d.shape) for d in datas)
                raise ShapeError(f"{op}: operands of shapes {shapes} do not broadcast together") from None
        raise
    finally:
        restore_numpy(token)
    if out.__class__ is not _ndarray:
        out = _asarray(out)
    inputs = tuple(inputs)
    if not (_state.grad_enabled and any(t.requires_grad for t in inputs)):
        return _untracked(out, op, arg, inputs)
    if _state.anomaly:
        check_forward(op, out, inputs)
    fitted = tuple(local if t.arg is LIFTED else _fit(local, t, out) for t, local in zip(inputs, locals_))
    return fill_node(_new(Tensor), out, inputs, fitted, op, arg, "", True)


def apply(op: str, compute: Any, inputs: tuple, arg: Any = NO_ARG) -> Tensor:
    """Build the node of a tensor rule whose locals are linear maps (``@``, reductions, ...);
    ``arg`` (omitted: :data:`NO_ARG`) is passed to ``compute`` after the input arrays."""
    return _apply(op, compute, tuple(inputs), arg)


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise ShapeError(
            f"matmul (@): both operands need at least 1 axis, got shapes {sa} and {sb}; use * to scale"
        )
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ShapeError(
            f"matmul (@): shapes {sa} and {sb} do not fit: the last axis of the left operand ({k_a}) must "
            f"equal the {'only' if len(sb) == 1 else 'second-to-last'} axis of the right one ({k_b})"
        )
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ShapeError(
            f"matmul (@): shapes {sa} and {sb}: the batch axes {sa[:-2]} and {sb[:-2]} do not broadcast"
        ) from None
    return _apply("matmul", trules.matmul, (a, b))


# --- text ------------------------------------------------------------------------------------------


def _data_text(data: np.ndarray) -> str:
    if data.size <= 8:
        return np.array2string(data, precision=4, separator=", ")
    with np.errstate(all="ignore"):
        return f"<min {np.min(data):.4g}, mean {np.mean(data):.4g}, max {np.max(data):.4g}>"
