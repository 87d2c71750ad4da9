"""The ``paths`` experiment in quick mode: its claims with margins, its numbers recomputed independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor
from tinygrad_edu.experiments import common, paths
from tinygrad_edu.experiments.data import digits
from tinygrad_edu.losses import cross_entropy


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paths")
    return paths.run(seed=0, quick=True, out=folder), folder


def test_schema_pictures_and_table(quick):
    result, folder = quick
    common.validate(result, paths.RESULT_KEYS)
    for name in ("paths_lengths.svg", "paths_single.svg", "paths_training.svg"):
        assert (folder / name).stat().st_size > 1000
    text = paths.table(result)
    assert "90 % band" in text and "plain (no skips)" in text


def test_the_gradient_comes_from_short_paths(quick):
    result, _ = quick
    res, n = result["results"], result["config"]["blocks"]
    assert res["counts"] == [math.comb(n, k) for k in range(n + 1)]
    for key in ("init", "trained"):
        r = res[key]
        assert r["max_residual"] < 1e-12  # the components sum to the gradient
        assert sum(r["share"]) == pytest.approx(1.0)
        assert r["band"][1] <= 0.4 * n  # 90 % of the gradient below 0.4·n (measured: 6 and 7 of 20)
        assert r["mean_length"] < n / 4  # typical path far shorter than the typical n/2 (measured ≈ 4)
        # one path of length k shrinks with k: the long ones carry (almost) nothing
        assert r["path_norm_mean"][n] < 1e-6 * r["path_norm_mean"][0]
        # Veit's estimate counts·mean (no cancellation between paths) peaks later, still below n/2
        peak = int(np.argmax(r["veit_total"]))
        assert peak < 0.45 * n  # measured 6 of 20
        # paths of one length mostly cancel: the exact component is far below count × one path
        assert r["component_norms"][peak] < 0.1 * r["veit_total"][peak]
        # the two unique paths (k = 0: all skips; k = n: all branches) computed two ways agree:
        # by the sampler (one path sent down) and by the polynomial (its coefficients 0 and n)
        assert r["path_norm_mean"][0] == pytest.approx(r["component_norms"][0], rel=1e-10)
        assert r["path_norm_mean"][n] == pytest.approx(r["component_norms"][n], rel=1e-10)


def test_the_plain_twin_does_not_vanish_at_init_but_does_not_train(quick):
    result, _ = quick
    res = result["results"]
    assert res["plain"]["init_gradient_norm"] > 0.3 * res["init"]["gradient_norm"]
    final = res["training"]["final_loss"]
    assert final["plain"] > 1.8  # near chance, ln 10 = 2.30 (measured 2.1)
    assert final["residual"] < 0.5 * final["plain"]  # measured 0.53


def test_numbers_against_an_independent_backward(quick):
    """Rebuild the nets from the seed, backprop with the engine's own loop, compare."""
    result, _ = quick
    config, res = result["config"], result["results"]
    X, y = digits(config["train_size"])
    Xm, ym = X[: config["measure_size"]], y[: config["measure_size"]]
    for skip, key in ((True, "residual"), (False, "plain")):
        model = paths.build(config, 0, skip=skip)
        x = Tensor(Xm, requires_grad=True)
        cross_entropy(model(x), ym).backward()
        expected = res["init"]["gradient_norm"] if skip else res["plain"]["init_gradient_norm"]
        assert np.linalg.norm(x.grad) == pytest.approx(expected, rel=1e-10)
        # ‖∂L/∂h‖ of the first block's output, from a second graph cut there into a leaf
        h = model.blocks[0](model.input(Tensor(Xm)))
        leaf = Tensor(h.data, requires_grad=True)
        rest = leaf
        for block in list(model.blocks)[1:]:
            rest = block(rest)
        if model.norm is not None:
            rest = model.norm(rest)
        cross_entropy(model.output(rest), ym).backward()
        assert np.linalg.norm(leaf.grad) == pytest.approx(res["block_grad_norms"][key][0], rel=1e-10)
        # the first training loss: the first mini-batch drawn from the seed
        index = common.rng(0).choice(len(X), config["batch"], replace=False)
        first = cross_entropy(paths.build(config, 0, skip=skip)(Tensor(X[index])), y[index]).item()
        assert res["training"][key][0] == pytest.approx(first, rel=1e-12)
