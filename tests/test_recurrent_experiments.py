"""The `rnn` and `adding` experiments: their claims with margins in quick mode, and their numbers
against independent numpy computations (hand-derived Jacobian products, a numpy RNN forward and
backward, a brute-force check of the task's data)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from test_experiments import quick  # one quick run per session, shared with the schema tests

from tinygrad_edu.experiments import adding, rnn, sequences


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("recurrent_pictures")


# --- numpy, derived by hand --------------------------------------------------------------------


def numpy_jacobian(W_hh, W_ih, x):
    """∂h_T/∂h_0 = J_T ⋯ J_1 with J_t = diag(1 − h_t²)·W_hh,
    for h_t = tanh(W_ih x_t + W_hh h_{t−1}) from h_0 = 0."""
    h = np.zeros(W_hh.shape[0])
    J = np.eye(W_hh.shape[0])
    for x_t in x:
        h = np.tanh(W_ih @ x_t + W_hh @ h)
        J = np.diag(1 - h**2) @ W_hh @ J
    return J


def numpy_regressor(state: dict, x: np.ndarray, y: np.ndarray):
    """A tanh RNN + Linear read-out of h_T by hand: (MSE, [‖∂L/∂h_t‖ for t = 1 … T])."""
    W_ih, W_hh = state["rnn.weight_ih_l0"], state["rnn.weight_hh_l0"]
    b = state["rnn.bias_ih_l0"] + state["rnn.bias_hh_l0"]
    W, c = state["head.weight"], state["head.bias"]  # Linear: ŷ = h_T W + c, W of shape (H, 1)
    hs = [np.zeros((x.shape[1], W_hh.shape[0]))]
    for x_t in x:
        hs.append(np.tanh(x_t @ W_ih.T + hs[-1] @ W_hh.T + b))
    error = hs[-1] @ W + c - y
    grads = [2 * error / error.size @ W.T]  # ∂/∂h_T of mean(error²)
    for t in range(len(x) - 1, 0, -1):
        grads.append((grads[-1] * (1 - hs[t + 1] ** 2)) @ W_hh)
    return float(np.mean(error**2)), [float(np.sqrt(np.sum(g**2))) for g in grads[::-1]]


# --- rnn -------------------------------------------------------------------------------------------


def test_rnn_jacobian_matches_the_hand_derived_product_and_stays_under_the_bound(folder):
    result = quick("rnn", folder)
    res, config = result["results"], result["config"]
    Q, W_ih, x = rnn.setup(0, config["hidden"], config["inputs"], max(config["lengths"]), config["input_std"])
    for row in res["jacobian"]:
        expected = np.linalg.norm(numpy_jacobian(row["rho"] * Q, W_ih, x[: row["T"]]), 2)
        assert row["measured"] == pytest.approx(expected, rel=1e-9), row
        assert row["bound"] == pytest.approx(row["rho"] ** row["T"], rel=1e-12)
        assert row["measured"] <= row["bound"] * (1 + 1e-9)  # ‖∏ diag(1 − h²)·W_hh‖ ≤ ρ^T
    rates = res["fitted_rate"]
    for rho in config["rhos"]:
        assert rates[str(rho)] < res["bound_rate"][str(rho)]  # tanh' < 1 on the trajectory
    assert rates["0.9"] < rates["1.0"] < rates["1.1"]
    # ρ = 1.1: the bound grows 45× by T = 40 while the measured norm shrinks (saturation)
    last = [r for r in res["jacobian"] if r["rho"] == 1.1][-1]
    assert last["bound"] > 10 and last["measured"] < 1


def test_rnn_gradient_over_time_at_init(folder):
    result = quick("rnn", folder)
    res, config = result["results"], result["config"]
    spec = config["over_time"]
    x, y = sequences.adding_problem(spec["batch"], spec["T"], np.random.default_rng(1))  # rng(seed + 1)
    model = sequences.SequenceRegressor("RNN", 2, config["hidden"], rng=0, name="rnn")
    _, norms = numpy_regressor(model.state_dict(), x, y)
    np.testing.assert_allclose(res["over_time"]["rnn"], norms, rtol=1e-9)
    assert res["ratio_at_init"]["rnn"] == pytest.approx(norms[0] / norms[-1], rel=1e-9)
    for name in ("rnn", "lstm", "gru"):  # PyTorch's default init: all three fade through time
        assert res["ratio_at_init"][name] < 1e-3
    assert res["ratio_at_init"]["lstm_forget3"] > 1e-2  # f_t ≈ σ(3) ≈ 0.95 carries it back
    assert res["ratio_at_init"]["lstm_forget3"] > 1000 * res["ratio_at_init"]["rnn"]


# --- adding -------------------------------------------------------------------------------------


def test_adding_problem_data_by_brute_force():
    x, y = sequences.adding_problem(50, 20, np.random.default_rng(3))
    assert x.shape == (20, 50, 2) and y.shape == (50, 1)
    for n in range(50):
        marked = [t for t in range(20) if x[t, n, 1] == 1.0]
        assert len(marked) == 2 and marked[0] < 10 <= marked[1]
        assert set(np.unique(x[:, n, 1])) == {0.0, 1.0}
        assert y[n, 0] == pytest.approx(x[marked[0], n, 0] + x[marked[1], n, 0])
        assert np.all(np.abs(x[:, n, 0]) <= 1)


def test_adding_rnn_stays_at_the_baseline_lstm_and_gru_solve_it(folder):
    result = quick("adding", folder)
    res = result["results"]
    assert abs(res["baseline_mse"] - 2 / 3) < 0.1  # Var(U(−1,1) + U(−1,1)) = 2/3
    assert res["rnn"]["relative_mse"] > 0.8 and not res["rnn"]["solved"]
    for name in ("lstm", "gru"):
        assert res[name]["relative_mse"] < 0.05 and res[name]["solved"]
        assert res[name]["test_mse"] == pytest.approx(res[name]["relative_mse"] * res["baseline_mse"])
    # after training, gradient reaches step 1 in the LSTM/GRU, not in the RNN
    assert res["lstm"]["ratio_trained"] > 100 * res["rnn"]["ratio_trained"]  # measured ≈ 3000×
    assert res["gru"]["ratio_trained"] > 100 * res["rnn"]["ratio_trained"]  # measured ≈ 8500×
    variants = res["orthogonal_rnn"]
    assert variants["orthogonal"]["ratio_at_init"] > 1e6 * variants["normal"]["ratio_at_init"]  # ≈ 1e7×
    for entry in [res[m] for m in adding.MODELS] + list(variants.values()):
        norms = entry["gradient_over_time_init"]
        assert len(norms) == result["config"]["T"]
        assert entry["ratio_at_init"] == pytest.approx(norms[0] / norms[-1])


def test_adding_numbers_of_a_trained_rnn_against_numpy():
    """run_model's test MSE and gradient ratios, recomputed by hand from the trained weights."""
    config = {"T": 12, "hidden": 4, "batch": 16, "lr": 0.01, "max_norm": 1.0, "every": 5}
    test = sequences.adding_problem(40, 12, np.random.default_rng(7))
    config["baseline_mse"] = sequences.baseline_mse(test[1])
    probe = (test[0][:, :8], test[1][:8])
    row, model = adding.run_model("rnn", "RNN", {}, config, seed=0, steps=10, test=test, probe=probe)
    mse, _ = numpy_regressor(model.state_dict(), *test)
    assert row["test_mse"] == pytest.approx(mse, rel=1e-12)
    assert row["test_curve"][10] == row["test_mse"]
    _, norms = numpy_regressor(model.state_dict(), *probe)
    assert row["ratio_trained"] == pytest.approx(norms[0] / norms[-1], rel=1e-9)
    np.testing.assert_allclose(row["gradient_over_time_trained"], norms, rtol=1e-9)
    assert config["baseline_mse"] == pytest.approx(np.var(test[1]))
    assert row["solved"] == (mse < adding.SOLVED_FRACTION * config["baseline_mse"])
    assert math.isfinite(row["final_train_loss"])


def test_unrolled_lstm_steps_through_in_the_viewer(tmp_path):
    import shutil

    import viz
    from tinygrad_edu import trace

    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("the system `dot` program is not installed")
    loss = rnn.unrolled_lstm(0)
    graph = trace(loss)
    cell_path = [e for e in graph.edges if e.child.label == "f⊙c_5" and e.parent.label == "c_4"]
    assert len(cell_path) == 1  # the cell path is its own edge, local f_5
    np.testing.assert_array_equal(
        np.asarray(cell_path[0].local), next(p for p in cell_path[0].child.parents if p.label == "f_5").data
    )
    page = viz.viewer(loss, tmp_path / "lstm.html").read_text(encoding="utf-8")
    steps = sum(1 for _ in graph.backward_steps())
    assert f"{len(graph.nodes)} nodes" in page and f"{steps} chain-rule steps" in page
    assert "f⊙c_5" in page and "c_4" in page
