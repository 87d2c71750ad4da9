"""ResidualMLP and the exact path-length decomposition: components sum to the gradient (property),
and equal a brute-force sum over all 2ⁿ subsets of block Jacobians built by finite differences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, nn, no_grad, trace
from tinygrad_edu.diagnostics import path_lengths
from tinygrad_edu.diagnostics.paths import path_counts
from tinygrad_edu.losses import cross_entropy


def _data(batch, features, classes, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, features)), np.arange(batch) % classes


@given(
    blocks=st.integers(1, 5),
    width=st.integers(2, 4),
    norm=st.sampled_from([None, "layer", "batch"]),
    placement=st.sampled_from(["pre", "post"]),
    activation=st.sampled_from(["relu", "tanh"]),
    seed=st.integers(0, 10_000),
)
def test_components_sum_to_the_gradient_of_the_engine(blocks, width, norm, placement, activation, seed):
    model = nn.ResidualMLP(
        3, width, 2, blocks, activation=activation, norm=norm, placement=placement, rng=seed
    )
    X, y = _data(4, 3, 2, seed)
    result = path_lengths(model, X, y)
    assert all(p.grad is None for p in model.parameters())  # it leaves the model's .grad alone
    x = Tensor(X, requires_grad=True)
    cross_entropy(model(x), y).backward()  # the ordinary backward: x.grad is the reference
    scale = max(np.abs(x.grad).max(), 1e-300)
    np.testing.assert_allclose(result.gradient, x.grad, rtol=1e-12, atol=1e-14 * scale)
    np.testing.assert_allclose(np.sum(result.components, axis=0), x.grad, rtol=1e-9, atol=1e-12 * scale)
    assert result.counts == [math.comb(blocks, k) for k in range(blocks + 1)]


def _jacobian(fn, at, eps=1e-6):
    """J[o, i] = ∂fn(at)_o / ∂at_i by central differences (flattened)."""
    columns = []
    for i in range(at.size):
        step = np.zeros(at.size)
        step[i] = eps
        plus = fn(at + step.reshape(at.shape)).ravel()
        minus = fn(at - step.reshape(at.shape)).ravel()
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1)


def _brute_force(model, X, y):
    """Σ over all subsets S of the blocks of u·Π P_i (J_i if i ∈ S else I)·J_in, by |S|."""
    with no_grad():
        stream = [model.input(Tensor(X)).data]
        for block in model.blocks:
            stream.append(block(Tensor(stream[-1])).data)

        def head(h):
            h = Tensor(h)
            if model.norm is not None:
                h = model.norm(h)
            return np.array(cross_entropy(model.output(h), y).item())

        u = _jacobian(head, stream[-1])[0]
        size = stream[0].size
        J_in = _jacobian(lambda a: model.input(Tensor(a)).data, X)
        branch, post = [], []
        for block, a in zip(model.blocks, stream[:-1]):
            branch.append(_jacobian(lambda v, b=block: b.branch(Tensor(v)).data, a))
            if block.post is None:
                post.append(np.eye(size))
            else:
                total = (a + block.branch(Tensor(a)).data) if block.skip else block.branch(Tensor(a)).data
                post.append(_jacobian(lambda v, b=block: b.post(Tensor(v)).data, total))
    n = len(model.blocks)
    components = [np.zeros(X.size) for _ in range(n + 1)]
    for size_k in range(n + 1):
        for subset in itertools.combinations(range(n), size_k):
            g = u
            for i in reversed(range(n)):
                g = g @ post[i]
                g = g @ branch[i] if i in subset else g
            components[size_k] += g @ J_in
    return [c.reshape(X.shape) for c in components]


@pytest.mark.parametrize(
    "blocks, norm, placement",
    [(8, None, "pre"), (5, "layer", "pre"), (4, "layer", "post"), (4, "batch", "pre"), (3, "batch", "post")],
)
def test_components_equal_the_brute_force_sum_over_all_subsets(blocks, norm, placement):
    model = nn.ResidualMLP(3, 3, 2, blocks, activation="tanh", norm=norm, placement=placement, rng=blocks)
    X, y = _data(3, 3, 2, seed=blocks)
    result = path_lengths(model, X, y)
    expected = _brute_force(model, X, y)
    scale = max(np.abs(c).max() for c in expected)
    for k in range(blocks + 1):
        np.testing.assert_allclose(result.components[k], expected[k], atol=1e-6 * scale, err_msg=f"k={k}")


def test_a_plain_net_has_one_path_through_every_branch():
    model = nn.ResidualMLP(3, 4, 2, 5, norm="layer", skip=False, rng=0)
    X, y = _data(4, 3, 2, 0)
    result = path_lengths(model, X, y, samples=3)
    assert result.counts == [0, 0, 0, 0, 0, 1]
    assert all(np.all(c == 0) for c in result.components[:5])
    np.testing.assert_allclose(result.components[5], result.gradient, rtol=1e-12)
    assert result.path_norm_mean[5] == pytest.approx(np.linalg.norm(result.gradient))
    assert path_counts([True, False, True]) == [0, 1, 2, 1]


def test_sampled_single_paths_are_the_brute_force_paths():
    """With samples ≥ C(n, k) every path of length k is taken: check its mean norm by hand."""
    model = nn.ResidualMLP(3, 3, 2, 3, activation="tanh", rng=4)
    X, y = _data(3, 3, 2, 4)
    result = path_lengths(model, X, y, samples=10)
    with no_grad():
        stream = [model.input(Tensor(X)).data]
        for block in model.blocks:
            stream.append(block(Tensor(stream[-1])).data)
    u = _jacobian(lambda h: np.array(cross_entropy(model.output(Tensor(h)), y).item()), stream[-1])[0]
    J_in = _jacobian(lambda a: model.input(Tensor(a)).data, X)
    branch = [_jacobian(lambda v, b=b: b.branch(Tensor(v)).data, a) for b, a in zip(model.blocks, stream)]
    for k in range(4):
        norms = []
        for subset in itertools.combinations(range(3), k):
            g = u
            for i in reversed(range(3)):
                g = g @ branch[i] if i in subset else g
            norms.append(np.linalg.norm(g @ J_in))
        assert result.path_samples[k] == math.comb(3, k)
        assert result.path_norm_mean[k] == pytest.approx(np.mean(norms), rel=1e-6)


def test_effective_band_and_shares():
    model = nn.ResidualMLP(3, 4, 2, 6, norm="layer", rng=1)
    result = path_lengths(model, *_data(5, 3, 2, 1))
    share = result.share()
    assert sum(share) == pytest.approx(1.0)
    lo, hi = result.effective_band(0.9)
    assert sum(share[lo : hi + 1]) >= 0.9 - 1e-12
    width = hi - lo  # every window one length shorter holds less than 90 %
    assert all(sum(share[a : a + width]) < 0.9 for a in range(len(share) - width + 1))
    assert result.effective_band(1.0) == (0, 6)  # every length carries some gradient


def test_blocks_run_in_scopes_with_the_branch_inside():
    model = nn.ResidualMLP(3, 4, 2, 2, norm="layer", rng=0)
    loss = cross_entropy(model(Tensor(np.ones((2, 3)))), np.array([0, 1]))
    scopes = {node.scope for node in trace(loss).nodes}
    assert {"resmlp.blocks.0.branch.0", "resmlp.blocks.0.branch.2", "resmlp.blocks.1"} <= scopes
    add = model.blocks[1].last_sum
    assert add.op == "add" and add.scope == "resmlp.blocks.1"
    assert add.parents[0] is model.blocks[1].last_input  # the skip edge
    loss.backward()
    (block,) = [layer for layer in trace(loss).layers() if str(layer.scope) == "resmlp.blocks.1"]
    routes = {str(route.source.scope): route for route in block.routes}
    assert set(routes) == {"resmlp.blocks.0", "resmlp.blocks.1.branch.2"}  # the skip and the branch
    assert routes["resmlp.blocks.0"].gain == pytest.approx(1.0)  # the skip passes the gradient on


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="norm"):
        nn.ResidualMLP(3, 4, 2, 2, norm="group")
    with pytest.raises(ValueError, match="placement"):
        nn.ResidualMLP(3, 4, 2, 2, placement="middle")
    with pytest.raises(ValueError, match="blocks"):
        nn.ResidualMLP(3, 4, 2, 0)
    with pytest.raises(TypeError, match="residual blocks"):
        path_lengths(nn.MLP([3, 4, 2]), np.ones((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="samples"):
        path_lengths(nn.ResidualMLP(3, 4, 2, 2), np.ones((2, 3)), np.array([0, 1]), samples=-1)
