"""The two theory experiments in quick mode: their claims with margins, and every number in their
JSON recomputed independently — gradients by a hand-written numpy backprop of the same weights,
Jacobians by the chain rule in numpy and by finite differences, predictions by a trapezoid rule.

They run once per session through their example scripts (shared with test_experiments.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_experiments import quick
from test_theory import trapezoid_mean

from tinygrad_edu import Tensor, nn
from tinygrad_edu.experiments import edge_of_chaos, isometry
from tinygrad_edu.modes import no_grad


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("theory_pictures")


PICTURES = {
    "edge_of_chaos": ("edge_of_chaos_phase.svg", "edge_of_chaos_gains.svg", "edge_of_chaos_flow.svg"),
    "isometry": ("isometry_spectra.svg", "isometry_spread.svg"),
}


def result_with_pictures(name, folder):
    """The quick result, with its pictures in ``folder`` (drawn again if the session's run put them
    elsewhere), each checked to be an SVG file."""
    result = quick(name, folder)
    if not all((folder / picture).exists() for picture in PICTURES[name]):
        {"edge_of_chaos": edge_of_chaos, "isometry": isometry}[name].pictures(result, folder)
    for picture in PICTURES[name]:
        assert (folder / picture).read_text(encoding="utf-8").lstrip().startswith("<?xml"), picture
    return result


def linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


# --- edge of chaos -------------------------------------------------------------------------------------


def numpy_delta_norms(model, x, readout, derivative):
    """‖∂L/∂h_l‖ by hand: h_l = x_{l−1}W_l + b_l, δ_last = R ⊙ φ′(h_last),
    δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ φ′(h_l)."""
    hs, a = [], x
    for linear in linears(model):
        h = a @ linear.weight.data + linear.bias.data
        hs.append(h)
        a = np.tanh(h)
    delta = readout * derivative(hs[-1])
    norms = [np.linalg.norm(delta)]
    for linear, h in zip(reversed(linears(model)[1:]), reversed(hs[:-1])):
        delta = (delta @ linear.weight.data.T) * derivative(h)
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def test_edge_of_chaos_ordered_side_vanishes_chaotic_side_explodes(folder):
    res = result_with_pictures("edge_of_chaos", folder)["results"]
    for point in res["grid"]:
        if point["sigma_w2"] == 0.5:  # deep in the ordered phase
            assert point["measured"] < 0.75 and point["log10_ratio"] < -3
        if point["sigma_w2"] == 4.0:  # deep in the chaotic phase
            assert point["measured"] > 1.1 and point["log10_ratio"] > 1
    agreement = res["agreement"]
    assert agreement["phase_agreement"] == 1.0
    assert agreement["median_relative_error"] < 0.02 and agreement["max_relative_error_at_depth"] < 0.03
    biased = next(c for c in res["crossings"] if c["sigma_b2"] == 0.05)
    assert biased["predicted"] == pytest.approx(1.76, abs=0.01)  # Schoenholz et al., Fig. 1
    assert biased["measured"] == pytest.approx(biased["predicted"], abs=0.2)  # quick grid: steps of 0.5


def test_edge_of_chaos_measurements_match_a_numpy_backprop_of_the_same_nets(folder):
    result = quick("edge_of_chaos", folder)
    config, grid = result["config"], result["results"]["grid"]
    for point in (grid[0], grid[len(grid) // 2 + 2], grid[-1]):
        i, j = config["sigma_w2"].index(point["sigma_w2"]), config["sigma_b2"].index(point["sigma_b2"])
        gains, ratios = [], []
        for replicate in range(config["seeds"]):
            generator = edge_of_chaos.net_generator(result["seed"], i, j, replicate)
            model = edge_of_chaos.random_net(
                point["sigma_w2"], point["sigma_b2"], config["width"], config["depth"], generator
            )
            x = generator.normal(size=(config["batch"], config["width"]))  # drawn as delta_norms does
            readout = generator.normal(size=(config["batch"], config["width"]))
            norms = numpy_delta_norms(model, x, readout, lambda h: 1 - np.tanh(h) ** 2)
            skip = config["skip"]
            gains.append((norms[skip] / norms[-1]) ** (1 / (len(norms) - 1 - skip)))
            ratios.append(math.log10(norms[0] / norms[-1]))
        np.testing.assert_allclose(point["measured_per_seed"], gains, rtol=1e-9)
        assert point["measured"] == pytest.approx(float(np.median(gains)), rel=1e-9)
        assert point["log10_ratio"] == pytest.approx(float(np.median(ratios)), rel=1e-9, abs=1e-12)


def tanh2(x):
    return np.tanh(x) ** 2


def sech4(x):
    return (1 - np.tanh(x) ** 2) ** 2


def test_edge_of_chaos_predictions_match_a_brute_force_mean_field(folder):
    """q* by iterating the length map with a trapezoid rule, then χ₁ and √χ₁ by the same rule;
    the finite-depth prediction layer by layer the same way."""
    result = quick("edge_of_chaos", folder)
    config = result["config"]
    for point in result["results"]["grid"][7::3]:
        w2, b2 = point["sigma_w2"], point["sigma_b2"]
        q, gains = w2 + b2, []
        for layer in range(300):
            if layer < config["depth"] - 1:
                gains.append(math.sqrt(w2 * trapezoid_mean(sech4, q, points=20_000)))
            q = w2 * trapezoid_mean(tanh2, q, points=20_000) + b2
        at_depth = float(np.exp(np.mean(np.log(gains[config["skip"] :]))))
        assert point["predicted_at_depth"] == pytest.approx(at_depth, rel=1e-6)
        assert point["predicted_log10_ratio"] == pytest.approx(math.log10(np.prod(gains)), rel=1e-6, abs=1e-9)
        if q < 1e-3:
            continue  # (q → 0 only like 1/l at σ_w² = 1, σ_b² = 0: covered in test_theory)
        assert point["q_star"] == pytest.approx(q, rel=1e-6)
        chi1 = w2 * trapezoid_mean(sech4, q)
        assert point["chi1"] == pytest.approx(chi1, rel=1e-7)
        assert point["predicted"] == pytest.approx(math.sqrt(chi1), rel=1e-7)


def test_edge_of_chaos_profiles_layer_by_layer(folder):
    """The three single nets: ‖∂L/∂h_l‖ by a numpy backprop of the same weights, and the predicted
    line by the trapezoid-rule length map, anchored at the last layer."""
    result = quick("edge_of_chaos", folder)
    config, profiles = result["config"], result["results"]["profiles"]
    assert [p["sigma_w2"] for p in profiles][::2] == [1.0, 3.0]
    assert profiles[1]["sigma_w2"] == pytest.approx(1.7609546, rel=1e-6)  # the edge of chaos at 0.05
    for k, p in enumerate(profiles):
        generator = edge_of_chaos.net_generator(result["seed"], 1000 + k, 0, 0)
        model = edge_of_chaos.random_net(
            p["sigma_w2"], p["sigma_b2"], config["width"], config["depth"], generator
        )
        x = generator.normal(size=(config["batch"], config["width"]))
        readout = generator.normal(size=(config["batch"], config["width"]))
        norms = numpy_delta_norms(model, x, readout, lambda h: 1 - np.tanh(h) ** 2)
        np.testing.assert_allclose(p["measured"], norms, rtol=1e-9)
        w2, b2, q, predicted = p["sigma_w2"], p["sigma_b2"], p["sigma_w2"] + p["sigma_b2"], [norms[-1]]
        gains = []
        for _ in range(config["depth"] - 1):
            gains.append(math.sqrt(w2 * trapezoid_mean(sech4, q, points=20_000)))
            q = w2 * trapezoid_mean(tanh2, q, points=20_000) + b2
        for gain in reversed(gains):
            predicted.append(predicted[-1] * gain)
        np.testing.assert_allclose(p["predicted"], predicted[::-1], rtol=1e-6)
        last_over_first = p["measured"][-1] / p["measured"][0]
        assert (last_over_first > 3) if k == 0 else (last_over_first < 1 / 3) if k == 2 else True
    critical = profiles[1]["measured"]
    assert 0.5 < critical[0] / critical[-1] < 2  # at the edge: neither vanishing nor exploding


def test_edge_of_chaos_summaries_recomputed_from_the_grid(folder):
    res = quick("edge_of_chaos", folder)["results"]
    grid = res["grid"]
    errors = [abs(p["measured"] / p["predicted"] - 1) for p in grid]
    assert res["agreement"]["max_relative_error"] == pytest.approx(max(errors))
    assert res["agreement"]["median_relative_error"] == pytest.approx(float(np.median(errors)))
    for crossing in res["crossings"]:  # by hand: where the measured log gain changes sign
        row = [p for p in grid if p["sigma_b2"] == crossing["sigma_b2"]]
        k = next(k for k in range(len(row) - 1) if row[k]["measured"] < 1 <= row[k + 1]["measured"])
        a, b = math.log(row[k]["measured"]), math.log(row[k + 1]["measured"])
        x = row[k]["sigma_w2"] + (row[k + 1]["sigma_w2"] - row[k]["sigma_w2"]) * a / (a - b)
        assert crossing["measured"] == pytest.approx(x, rel=1e-12)
    for entry in res["critical_line"][1::3]:  # χ₁ = 1 there, by the trapezoid rule
        w2, b2, q = entry["sigma_w2"], entry["sigma_b2"], 1.0
        for _ in range(400):
            q = w2 * trapezoid_mean(tanh2, q, points=20_000) + b2
        if q > 1e-3:
            assert w2 * trapezoid_mean(sech4, q) == pytest.approx(1.0, abs=1e-6)


# --- isometry -----------------------------------------------------------------------------------------


def numpy_jacobian(model, x, derivative):
    """∂x_L/∂x_0 by the chain rule in numpy: J = D_L W_Lᵀ ⋯ D_1 W_1ᵀ with D_l = diag(φ′(h_l))."""
    J, a = np.eye(x.size), x
    for linear in linears(model):
        h = a @ linear.weight.data + linear.bias.data
        J = (derivative(h)[:, None] * linear.weight.data.T) @ J
        a = np.maximum(h, 0) if isinstance(model[1], nn.ReLU) else np.tanh(h)
    return J


DERIVATIVES = {"tanh": lambda h: 1 - np.tanh(h) ** 2, "relu": lambda h: (h > 0).astype(float)}


@pytest.mark.parametrize("label", list(isometry.NETS))
def test_the_engines_jacobian_is_the_finite_difference_jacobian(label):
    net = isometry.settings()[label]
    generator = np.random.default_rng(5)
    model = isometry.make_net(net, width=5, depth=3, generator=generator)
    x = isometry.net_input(net, 5, generator)
    J = isometry.jacobian(model, x)
    eps = 1e-6
    with no_grad():
        columns = [
            (model(Tensor(x + eps * e)).data - model(Tensor(x - eps * e)).data) / (2 * eps)
            for e in np.eye(x.size)
        ]
    finite = np.stack(columns, axis=1)  # finite[k, i] = ∂out_k/∂x_i
    np.testing.assert_allclose(J, finite, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        np.linalg.svd(J, compute_uv=False), np.linalg.svd(finite, compute_uv=False), rtol=1e-6, atol=1e-8
    )


def test_isometry_orthogonal_tanh_stays_narrow_gaussian_and_relu_widen(folder):
    result = result_with_pictures("isometry", folder)
    res, depths = result["results"], [str(d) for d in result["config"]["depths"]]
    spread, summary = res["spread"], res["summary"]
    orthogonal, gaussian = "tanh, orthogonal", "tanh, Gaussian"
    for d in depths:  # dynamical isometry: nearly every σ within a factor 2 of 1, at every depth
        assert summary[orthogonal][d]["near_one"] >= 0.95 and spread[orthogonal][d] < 0.5
        assert summary[orthogonal][d]["mean_sigma2"] == pytest.approx(1.0, abs=0.3)  # χ₁ = 1
    assert spread[gaussian][depths[-1]] > 5 * spread[gaussian][depths[0]]  # Gaussian: widens with depth
    assert spread[gaussian][depths[-1]] > 100 * spread[orthogonal][depths[-1]]
    assert summary[gaussian][depths[-1]]["near_one"] < 0.1
    for relu in ("ReLU, Gaussian (He)", "ReLU, orthogonal"):  # ReLU: no isometry, orthogonal or not
        assert summary[relu][depths[-1]]["near_one"] < 0.2 and summary[relu][depths[-1]]["lost"] > 0.4


def test_isometry_tanh_nets_sit_on_the_edge_of_chaos(folder):
    """χ₁ = 1 at the tanh nets' (σ_w², q*), and q* their fixed point, by the trapezoid rule."""
    net = quick("isometry", folder)["config"]["nets"]["tanh, orthogonal"]
    w2, b2, q = net["sigma_w2"], net["sigma_b2"], net["q_star"]
    assert w2 * trapezoid_mean(tanh2, q) + b2 == pytest.approx(q, rel=1e-8)
    assert w2 * trapezoid_mean(sech4, q) == pytest.approx(1.0, abs=1e-8)


def test_isometry_spectra_match_a_numpy_chain_rule_of_the_same_nets(folder):
    result = quick("isometry", folder)
    config, res = result["config"], result["results"]
    for n, (label, net) in enumerate(config["nets"].items()):
        for d, depth in enumerate(config["depths"][:2]):
            values = []
            for replicate in range(config["seeds"]):
                generator = np.random.default_rng([result["seed"], n, d, replicate])
                model = isometry.make_net(net, config["width"], depth, generator)
                J = numpy_jacobian(
                    model, isometry.net_input(net, config["width"], generator), DERIVATIVES[net["activation"]]
                )
                values.append(np.linalg.svd(J, compute_uv=False))
            singular = np.sort(np.concatenate(values))[::-1]
            np.testing.assert_allclose(
                res["spectra"][label][str(depth)], singular, rtol=1e-7, atol=1e-12 * singular[0]
            )
            summary = res["summary"][label][str(depth)]
            assert summary["mean_sigma2"] == pytest.approx(np.mean(singular**2), rel=1e-9)
            assert summary["max"] == pytest.approx(singular[0], rel=1e-9)
            assert summary["lost"] == pytest.approx(np.mean(singular < 1e-9 * singular[0]), abs=1e-12)
            squares = singular**2
            assert res["spread"][label][str(depth)] == pytest.approx(
                np.var(squares) / np.mean(squares) ** 2, rel=1e-6
            )
            assert res["summary"][label][str(depth)]["near_one"] == pytest.approx(
                np.mean((singular >= 0.5) & (singular <= 2)), abs=1e-12
            )
