"""Residual MLPs: blocks ``x + branch(x)`` with pre- or post-normalisation, and their plain twins.

A residual block hands its input on twice: along the **skip** (the identity, local derivative 1)
and through the **branch** (Linear, activation, maybe a norm). By the chain rule the block's
Jacobian is ``I + J_branch``, and a stack of n blocks has the Jacobian ``Π (I + J_i)``:
multiplied out, a sum of 2ⁿ products, one per *path* — the set of branches it passes through
(Veit, Wilber & Belongie 2016). :func:`tinygrad_edu.diagnostics.path_lengths` splits the
gradient of a :class:`ResidualMLP` into those paths, grouped by length, exactly.

Where the norm goes (``placement``):

* ``"pre"`` (He et al. 2016b "identity mappings", pre-LN transformers):
  ``out = x + Linear(act(norm(x)))`` — the skip is a clean identity all the way down, and a
  final norm sits before the output layer;
* ``"post"`` (the original ResNet and transformer): ``out = norm(x + act(Linear(x)))`` — the
  norm is on the main route, so every path passes through all n of them.

``skip=False`` builds the plain net of the same depth: ``out = x ↦ branch(x)`` (pre) or
``norm(branch(x))`` (post), the same layers without the identity route.

Every block runs in its own name scope (``resmlp.blocks.3``) with the branch inside it
(``resmlp.blocks.3.branch``), so the graph and the layer view show the two routes: the branch's
nodes are in the ``branch`` scope, the skip is the ``add`` node's edge from the block input.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from ..modes import is_grad_enabled
from ..tensor import Tensor
from . import init as init_
from .activations import check_activation, make_activation
from .layers import Linear, resolve_init
from .module import Module, Sequential
from .normalization import BatchNorm1d, LayerNorm

__all__ = ["ResidualBlock", "ResidualMLP", "NORMS", "PLACEMENTS"]

#: ``norm=`` names: no norm, :class:`LayerNorm`, :class:`BatchNorm1d`.
NORMS = (None, "layer", "batch")
#: ``placement=`` names: the norm inside the branch (``"pre"``) or after the add (``"post"``).
PLACEMENTS = ("pre", "post")


def make_norm(norm: str | None, width: int, dtype: Any) -> Module | None:
    if norm is None:
        return None
    if norm == "layer":
        return LayerNorm(width, dtype=dtype)
    if norm == "batch":
        return BatchNorm1d(width, dtype=dtype)
    raise ValueError(f"unknown norm {norm!r}; valid: None, 'layer', 'batch'")


def _check(norm: Any, placement: Any, skip: Any, where: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"{where}: norm must be None, 'layer' or 'batch', got {norm!r}")
    if placement not in PLACEMENTS:
        raise ValueError(f"{where}: placement must be 'pre' or 'post', got {placement!r}")
    if not isinstance(skip, bool):
        raise TypeError(f"{where}: skip must be True or False, got {skip!r}")


class ResidualBlock(Module):
    """One block: ``x + branch(x)`` (pre) or ``norm(x + branch(x))`` (post); see the module doc.

    Attributes (set on every call made with gradients enabled, read by ``path_lengths``):
        last_input: the block's input x (a graph node);
        last_branch: the branch's output;
        last_sum: ``x + branch(x)`` (with ``skip=False``: the branch output);
        last_output: what the block hands on (``post(last_sum)``).
    """

    # declared here: mypy defers an __init__ that narrows an int with isinstance(.., Integral)
    placement: str
    skip: bool
    branch: Sequential
    post: Module | None

    def __init__(
        self,
        width: int,
        activation: Any = "relu",
        norm: str | None = None,
        placement: str = "pre",
        skip: bool = True,
        init: Any = "he",
        rng: Any = None,
        dtype: Any = None,
        name: str | None = None,
    ):
        _check(norm, placement, skip, "ResidualBlock")
        check_activation(activation)
        if not isinstance(width, Integral) or isinstance(width, bool) or width <= 0:
            raise ValueError(f"ResidualBlock: width must be a positive int, got {width!r}")
        act = make_activation(activation)
        weight_init = resolve_init(init, gain=act.gain() if hasattr(act, "gain") else None)
        super().__init__(name)
        self.placement, self.skip = placement, skip
        linear = Linear(width, width, init=weight_init, rng=rng, dtype=dtype)
        branch_norm = make_norm(norm, width, dtype) if placement == "pre" else None
        if placement == "pre":
            layers = ([branch_norm] if branch_norm is not None else []) + [act, linear]
        else:
            layers = [linear, act]
        self.branch = Sequential(*layers)
        self.post = make_norm(norm, width, dtype) if placement == "post" else None
        for attribute in ("last_input", "last_branch", "last_sum"):
            object.__setattr__(self, attribute, None)

    def forward(self, x: Any) -> Tensor:
        branch = self.branch(x)
        total = x + branch if self.skip else branch  # the skip: ∂(x + F)/∂x = I + J_F
        out = self.post(total) if self.post is not None else total
        if is_grad_enabled():
            object.__setattr__(self, "last_input", x)
            object.__setattr__(self, "last_branch", branch)
            object.__setattr__(self, "last_sum", total)
        return out

    def extra_repr(self) -> str:
        return f"placement={self.placement!r}, skip={self.skip}"


class ResidualMLP(Module):
    """``Linear(in → width) → n ResidualBlocks → [final norm] → Linear(width → out)``.

    Args:
        in_features, width, out_features: sizes (the blocks are ``width`` wide).
        blocks: n, the number of residual blocks (≥ 1).
        activation: the branch nonlinearity ("relu", "tanh", ... as in :class:`MLP`).
        norm: ``None``, ``"layer"`` (:class:`LayerNorm`) or ``"batch"`` (:class:`BatchNorm1d`).
        placement: ``"pre"`` or ``"post"`` (see the module docstring). With ``"pre"`` and a norm,
            a final norm of the same kind precedes the output layer.
        skip: ``False`` gives the plain net of the same depth (no identity routes).
        init: the weight init of every Linear (default He, with the activation's gain).
        rng: numpy Generator or int seed; dtype: float64 (default) or float32.

    Children: ``input``, ``blocks`` (a :class:`Sequential`, ``blocks.0`` nearest the input),
    ``norm`` (or None) and ``output``.
    """

    # declared here: mypy defers an __init__ that narrows an int with isinstance(.., Integral)
    settings: dict[str, Any]
    input: Linear
    blocks: Sequential
    norm: Module | None
    output: Linear

    def __init__(
        self,
        in_features: int,
        width: int,
        out_features: int,
        blocks: int,
        activation: Any = "relu",
        norm: str | None = None,
        placement: str = "pre",
        skip: bool = True,
        init: Any = "he",
        rng: Any = None,
        dtype: Any = None,
        name: str | None = None,
    ):
        _check(norm, placement, skip, "ResidualMLP")
        if not isinstance(blocks, Integral) or isinstance(blocks, bool) or blocks < 1:
            raise ValueError(f"ResidualMLP: blocks must be an int ≥ 1, got {blocks!r}")
        check_activation(activation)
        generator = init_.as_generator(rng)
        options = {"activation": activation, "norm": norm, "placement": placement, "skip": skip}
        super().__init__(name or "resmlp")
        self.settings = dict(options, blocks=int(blocks), width=width)
        self.input = Linear(in_features, width, init=init, rng=generator, dtype=dtype)
        self.blocks = Sequential(
            *(ResidualBlock(width, init=init, rng=generator, dtype=dtype, **options) for _ in range(blocks))
        )
        self.norm = make_norm(norm, width, dtype) if placement == "pre" else None
        self.output = Linear(width, out_features, init=init, rng=generator, dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        h = self.blocks(self.input(x))  # a Sequential, so nodes carry "resmlp.blocks.3"
        if self.norm is not None:
            h = self.norm(h)
        return self.output(h)

    def extra_repr(self) -> str:
        s = self.settings
        return (
            f"blocks={s['blocks']}, width={s['width']}, activation={s['activation']!r}, norm={s['norm']!r}, "
            f"placement={s['placement']!r}, skip={s['skip']}"
        )
