"""The gradient of a residual net split exactly by path length (Veit, Wilber & Belongie 2016).

A residual block maps ``x ↦ post(x + F(x))``; its Jacobian (row-vector convention, the way a
gradient travels) is ``(I + J_F)·P`` with ``P`` the Jacobian of ``post`` (I when there is no
post-norm). For n blocks the gradient at the input is

    g = u · Π_{i=n..1} P_i (I + J_i) · J_in          (u = ∂L/∂(last block output))

and multiplying the product out gives 2ⁿ terms, one per subset S of blocks whose *branch* the
path goes through (it takes the skip at every other block). Veit et al. estimated how much of
the gradient paths of each length k = |S| carry by sampling paths. Here it is computed exactly:

**The formal-variable trick.** Put a formal variable t on every branch: the block becomes
``(I + t·J_i)·P_i``. The backward pass then carries a polynomial in t, a stack of n + 1
coefficient arrays ``c_0 … c_n`` instead of one gradient. Through a block, coefficient k goes
through ``P`` and then splits: the skip hands it on as coefficient k (``c_k · I``), the branch
adds ``vjp_F(c_k)`` to coefficient k + 1 (multiplying by t shifts the index by one). At the
input, ``c_k`` is exactly the sum of the gradients of all C(n, k) paths through k branches, and
setting t = 1 shows ``Σ_k c_k = g``. Cost: block i (counted from the output) carries i nonzero
coefficients, so n(n + 1)/2 vector–Jacobian products through branches — O(n²), not 2ⁿ.

Every vector–Jacobian product here is the engine's own chain rule: :class:`Segment` walks the
nodes between a block's input and its output and does ``local * upstream`` on every edge with
the ``local_grads`` the forward pass stored — the loop of :func:`tinygrad_edu.graph.chain_rule_steps`,
except that gradients stay in a private dict (no ``.grad`` of the model is touched).

**Sampling single paths**, as Veit did: for a length k, draw subsets S of k blocks, send one
gradient down through the branches in S and the skips elsewhere; the mean of its norm is the
typical magnitude of *one* path of length k (all C(n, k) paths when there are at most
``samples`` of them). ``counts[k] · path_norm_mean[k]`` is Veit's "total gradient magnitude"
at length k.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GradError, ShapeError
from ..losses import cross_entropy
from ..numerics import norm
from ..tensor import Tensor

__all__ = ["Segment", "PathLengths", "path_lengths", "path_counts"]


class Segment:
    """The subgraph from ``start`` to ``end``: its vector–Jacobian product ``v ↦ v·∂end/∂start``.

    Built once (the nodes on some path ``start → … → end``, parents first) and then run for as
    many upstream arrays as needed, each time with the edge locals stored in the graph.
    """

    def __init__(self, end: Any, start: Any):
        self.end, self.start = end, start
        order: list = []
        seen = {id(end)}
        stack = [(end, iter(() if end is start else end.parents))]
        while stack:  # depth-first, parents before children; do not walk below ``start``
            node, pending = stack[-1]
            for parent in pending:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(() if parent is start else parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
        on_path = {id(start)}  # nodes that depend on start: the only ones a gradient must reach
        for node in order:
            if any(id(parent) in on_path for parent in node.parents):
                on_path.add(id(node))
        if id(end) not in on_path:
            raise GradError(f"Segment: {end!r} does not depend on {start!r}")
        self.nodes = [node for node in order if id(node) in on_path]
        self.on_path = on_path

    def vjp(self, upstream: np.ndarray) -> np.ndarray:
        """``upstream · ∂end/∂start``: the chain rule, ``contribution = local * upstream`` per edge."""
        grads = {id(self.end): upstream}
        for node in reversed(self.nodes):
            if node is self.start:
                continue
            g = grads.pop(id(node), None)
            if g is None:
                continue
            for index, parent in enumerate(node.parents):
                if id(parent) not in self.on_path:  # a weight, a constant: not our question
                    continue
                contribution = node.local_grads[index] * g
                previous = grads.get(id(parent))
                grads[id(parent)] = contribution if previous is None else previous + contribution
        found = grads.get(id(self.start))
        return np.zeros_like(self.start.data) if found is None else found


def path_counts(skips: Sequence[bool]) -> list[int]:
    """``counts[k]``: how many paths go through exactly k branches — the coefficients of
    Π (1 + t) over blocks with a skip and Π t over plain blocks (C(n, k) for n skip blocks)."""
    counts = [1]
    for skip in skips:
        shifted = [0] + counts  # through the branch: t · …
        counts = [a + b for a, b in zip(counts + [0], shifted)] if skip else shifted
    return counts


@dataclass
class PathLengths:
    """The result of :func:`path_lengths` (every array has the shape of the inputs).

    Attributes:
        components: ``components[k]`` for k = 0..n, the gradient at the input carried by the
            paths through exactly k branches; they sum to ``gradient``.
        gradient: ∂L/∂inputs, by one ordinary chain-rule pass through the whole graph.
        counts: ``counts[k]`` = the number of such paths (C(n, k)).
        component_norms: ‖components[k]‖.
        path_norm_mean: the mean ‖gradient of one path of length k‖ over sampled paths (None
            where no sample was drawn); ``path_samples``: how many per length.
        loss: the loss value the gradient is of.
    """

    components: list[np.ndarray]
    gradient: np.ndarray
    counts: list[int]
    path_norm_mean: list[float | None]
    path_samples: list[int]
    loss: float
    component_norms: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.component_norms = [norm(c) for c in self.components]

    @property
    def blocks(self) -> int:
        return len(self.components) - 1

    def residual(self) -> float:
        """‖Σ_k components[k] − gradient‖ / ‖gradient‖ (float rounding only)."""
        total = np.sum(self.components, axis=0)
        return norm(total - self.gradient) / max(norm(self.gradient), np.finfo(float).tiny)

    def share(self) -> list[float]:
        """‖components[k]‖ / Σ_j ‖components[j]‖: the fraction of gradient magnitude at length k."""
        total = sum(self.component_norms)
        return [value / total if total > 0 else 0.0 for value in self.component_norms]

    def effective_band(self, fraction: float = 0.9) -> tuple[int, int]:
        """The shortest range [lo, hi] of path lengths holding ``fraction`` of the gradient
        magnitude Σ_k ‖components[k]‖ (Veit's "effective paths")."""
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"effective_band: fraction must be in (0, 1], got {fraction!r}")
        share = self.share()
        best = (0, len(share) - 1)
        for lo in range(len(share)):
            total = 0.0
            for hi in range(lo, len(share)):
                total += share[hi]
                if total >= fraction - 1e-12:
                    if hi - lo < best[1] - best[0]:
                        best = (lo, hi)
                    break
        return best

    def mean_length(self) -> float:
        """Σ_k k·share[k]: the typical length of the paths the gradient comes from."""
        return float(sum(k * s for k, s in enumerate(self.share())))


def _blocks(model: Any) -> list:
    blocks = list(getattr(model, "blocks", ()) or ())
    needed = ("last_input", "last_branch", "last_sum", "last_output", "skip")
    if not blocks or not all(all(hasattr(b, a) for a in needed) for b in blocks):
        raise TypeError(
            f"path_lengths: {type(model).__name__} has no residual blocks; expected a model with "
            "`.blocks` of nn.ResidualBlock (e.g. nn.ResidualMLP)"
        )
    return blocks


def _add_parts(block: Any) -> tuple[Any, Any]:
    """The skip's and the branch's local on the ``x + F(x)`` node (checked to be that node)."""
    total = block.last_sum
    if total.parents != (block.last_input, block.last_branch) or total.op != "add":
        raise GradError(f"path_lengths: block {block.name!r} did not compute x + branch(x) in its last call")
    return total.local_grads[0], total.local_grads[1]


def path_lengths(
    model: Any,
    inputs: Any,
    targets: Any,
    loss_fn: Callable[[Tensor, Any], Tensor] = cross_entropy,
    samples: int = 0,
    rng: Any = 0,
) -> PathLengths:
    """Split ∂loss/∂inputs of a residual net into the paths through exactly k branches, k = 0..n.

    Args:
        model: a net with ``.blocks`` of :class:`~tinygrad_edu.nn.ResidualBlock` run in order on
            the way from the input to the loss (e.g. :class:`~tinygrad_edu.nn.ResidualMLP`).
        inputs: the batch (array or Tensor; a fresh leaf is made of it).
        targets: what ``loss_fn(model(inputs), targets)`` compares with (class labels for the
            default softmax cross-entropy).
        samples: how many single paths to sample per length (0: none), as Veit et al. did.
        rng: seed or numpy Generator for the sampled paths.

    The model runs one forward pass in its current train/eval mode (so a BatchNorm in training
    mode updates its running statistics, as any forward pass does); its parameters' ``.grad``
    are left as they were.
    """
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
        raise ValueError(f"path_lengths: samples must be an int ≥ 0, got {samples!r}")
    blocks = _blocks(model)
    data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs, dtype=np.float64)
    x = Tensor(data, requires_grad=True, label="inputs")
    loss = loss_fn(model(x), targets)
    if not isinstance(loss, Tensor) or loss.size != 1:
        raise ShapeError(
            f"path_lengths: the loss must be a single number, got {getattr(loss, 'shape', loss)!r}"
        )
    seed = np.ones(loss.shape, loss.data.dtype)
    gradient = Segment(loss, x).vjp(seed)  # the full gradient: one pass over the whole graph
    top = Segment(loss, blocks[-1].last_output).vjp(seed)
    steps = [_BlockStep(block) for block in reversed(blocks)]  # output side first
    coefficients: list[np.ndarray | None] = [top]  # the polynomial Σ_k c_k t^k, c_k at a block output
    for step in steps:
        coefficients = step.polynomial(coefficients)
    into_input = Segment(blocks[0].last_input, x)
    components = [np.zeros_like(x.data) if c is None else into_input.vjp(c) for c in coefficients]
    counts = path_counts([block.skip for block in blocks])
    means, drawn = _sample_paths(steps, top, into_input, counts, samples, rng)
    return PathLengths(components, gradient, counts, means, drawn, loss.item())


class _BlockStep:
    """One block's part of the backward pass, with its segments built once."""

    def __init__(self, block: Any):
        self.skip = block.skip
        self.post = (
            None if block.last_output is block.last_sum else Segment(block.last_output, block.last_sum)
        )
        self.branch = Segment(block.last_branch, block.last_input)
        self.skip_local: Any
        self.branch_local: Any  # the locals on the x + F(x) node (None without the skip)
        self.skip_local, self.branch_local = _add_parts(block) if block.skip else (None, None)

    def through_post(self, g: np.ndarray) -> np.ndarray:
        return g if self.post is None else self.post.vjp(g)

    def through_branch(self, g: np.ndarray) -> np.ndarray:
        return self.branch.vjp(g if self.branch_local is None else self.branch_local * g)

    def through_skip(self, g: np.ndarray) -> np.ndarray:
        return self.skip_local * g

    def polynomial(self, coefficients: list) -> list:
        """c_k ↦ skip: c_k at index k, branch: vjp(c_k) at index k + 1 (the factor t)."""
        out: list = [None] * (len(coefficients) + 1)
        for k, c in enumerate(coefficients):
            if c is None:
                continue
            g = self.through_post(c)
            out[k + 1] = _add(out[k + 1], self.through_branch(g))
            if self.skip:
                out[k] = _add(out[k], self.through_skip(g))
        return out


def _add(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else a + b


def _sample_paths(steps, top, into_input, counts, samples, rng) -> tuple[list, list]:
    """Mean ‖gradient of one path‖ per length k: all paths when C(n, k) ≤ samples, else a sample."""
    n = len(steps)
    means: list[float | None] = [None] * (n + 1)
    drawn = [0] * (n + 1)
    if samples == 0:
        return means, drawn
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    optional = [i for i, step in enumerate(steps) if step.skip]  # blocks where a path may skip
    forced = [i for i, step in enumerate(steps) if not step.skip]
    for k in range(n + 1):
        if counts[k] == 0:
            continue
        free = k - len(forced)
        if counts[k] <= samples:
            subsets = [set(c) | set(forced) for c in itertools.combinations(optional, free)]
        else:
            subsets = [
                set(generator.choice(optional, free, replace=False)) | set(forced) for _ in range(samples)
            ]
        norms = []
        for subset in subsets:
            g = top
            for i, step in enumerate(steps):
                g = step.through_post(g)
                g = step.through_branch(g) if i in subset else step.through_skip(g)
            norms.append(norm(into_input.vjp(g)))
        means[k] = float(np.mean(norms))
        drawn[k] = len(subsets)
    return means, drawn
