"""The classic experiments reproduce their papers' qualitative results, measured by our engine.

Every experiment runs once here in its ``quick`` form (seconds), writing its pictures into a
temporary folder; the assertions are the papers' claims with margins. The full-size versions
are under ``@pytest.mark.slow`` (run them with ``pytest -m slow``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import experiments
from tinygrad_edu.experiments import common, data, demo


@pytest.fixture(autouse=True)
def _slow_is_opt_in(request):
    """``@pytest.mark.slow`` tests run only when asked for with ``-m slow``."""
    if request.node.get_closest_marker("slow") and "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("full-size run: opt in with `pytest -m slow`")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("pictures")


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_CACHE: dict = {}


def run_example(script: str, out: Path) -> tuple[dict, str]:
    """Run ``examples/<script>.py --quick --out out`` in this process; its globals and its output."""
    argv, path = sys.argv, list(sys.path)
    sys.argv = [f"{script}.py", "--quick", "--out", str(out)]
    sys.path.insert(0, str(EXAMPLES))  # for the shared _args helper
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            namespace = runpy.run_path(str(EXAMPLES / f"{script}.py"), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = argv, path
    return namespace, printed.getvalue()


def quick(name: str, folder: Path) -> dict:
    """Each experiment runs once per session in its quick form, through its example script
    (so the examples are tested too); pictures go into ``folder``."""
    if name not in _CACHE:
        namespace, printed = run_example(name, folder)
        _CACHE[name] = (namespace["result"], printed, folder)
    return _CACHE[name][0]


# --- registry and schema ---------------------------------------------------------------------


def test_registry_lists_every_experiment_module():
    assert experiments.names() == [
        "nielsen",
        "glorot",
        "he",
        "clipping",
        "regression",
        "classification",
        "batchnorm",
        "paths",
        "rnn",
        "adding",
        "edge_of_chaos",
        "isometry",
    ]
    for name in experiments.names():
        module = experiments.load(name)
        assert module.NAME == name
        assert module.TITLE == experiments.REGISTRY[name]
        assert callable(module.run) and callable(module.table)
        assert "JSON" in module.__doc__  # the schema is documented in the module docstring


def test_unknown_experiment_lists_the_known_ones():
    with pytest.raises(experiments.UnknownExperiment, match="known experiments: nielsen, glorot"):
        experiments.load("nope")


@pytest.mark.parametrize("name", experiments.names())
def test_result_follows_the_documented_schema(name, folder):
    result = quick(name, folder)
    module = experiments.load(name)
    common.validate(result, module.RESULT_KEYS)
    assert result["experiment"] == name and result["seed"] == 0 and result["config"]["quick"] is True
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # strict JSON round trip
    table = module.table(result)
    assert len(table.splitlines()) >= 4
    assert table in _CACHE[name][1]  # the example printed the table ...
    assert _CACHE[name][1].replace(table, "").strip()  # ... and progress messages


@pytest.mark.parametrize(
    "name, pictures",
    [
        ("nielsen", ["nielsen_init.svg", "nielsen_training.svg"]),
        ("glorot", ["glorot_activations.svg", "glorot_gradients.svg"]),
        ("he", ["he_activations.svg", "he_gradients.svg", "he_training.svg"]),
        ("clipping", ["clipping_law.svg", "clipping_training.svg"]),
        ("regression", ["regression_fit.svg", "regression_flow.svg"]),
        ("classification", ["classification_boundary.svg", "classification_flow.svg"]),
        (
            "rnn",
            ["rnn_jacobian.svg", "rnn_gradient_over_time.svg", "rnn_lstm_unrolled.svg", "rnn_lstm_steps.svg"],
        ),
        (
            "adding",
            [
                "adding_training.svg",
                "adding_gradient_init.svg",
                "adding_gradient_trained.svg",
                "adding_orthogonal.svg",
            ],
        ),
    ],
)
def test_pictures_are_written(name, pictures, folder):
    quick(name, folder)
    for picture in pictures:
        path = _CACHE[name][2] / picture  # the folder of the run (another test file may have made it)
        assert path.stat().st_size > 1000
        assert path.read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize("name", ["regression", "classification"])
def test_dashboards_are_written_and_their_timeline_is_what_training_said(name, folder):
    """The checkpoints called report() *during* training; the dashboard's timeline, afterwards."""
    from test_dashboard import dashboard_data

    result = quick(name, folder)
    runs = dashboard_data((folder / f"{name}_dashboard.html").read_text(encoding="utf-8"))["runs"]
    assert [r["name"] for r in runs] == list(result["results"]["nets"])
    for run in runs:
        net = result["results"]["nets"][run["name"]]
        verdict_at = dict(zip(run["verdictSteps"], run["verdicts"]))
        assert net["health"], "no checkpoint to compare with"
        for check in net["health"]:
            assert verdict_at[check["step"]] == check["verdict"], (run["name"], check)
        assert run["verdict"] == net["verdict"]
        assert run["weight_grad"][run["layers"][0]] == net["weight_grad_norm_first"]
        assert run["weight_grad"][run["layers"][-1]] == net["weight_grad_norm_last"]


def test_validate_rejects_what_json_cannot_hold():
    good = common.make_result("x", 1, {"a": 1}, {"loss": [1.0, float("nan")]})
    assert good["results"]["loss"] == [1.0, None]  # NaN → null
    common.validate(good, ["loss"])
    for bad, match in (
        ({"experiment": "x", "seed": 1, "config": {}}, r"result keys must be \('experiment', 'seed'"),
        ({"experiment": "x", "seed": True, "config": {}, "results": {}}, r"result\['seed'\] must be an int"),
        (
            {"experiment": "x", "seed": 1, "config": {}, "results": {"a": float("inf")}},
            r"result\['results'\]\['a'\] is inf; non-finite numbers are written as null",
        ),
        (
            {"experiment": "x", "seed": 1, "config": {}, "results": {"a": object()}},
            r"result\['results'\]\['a'\] has type object",
        ),
    ):
        with pytest.raises(ValueError, match=match):
            common.validate(bad)
    with pytest.raises(ValueError, match="differ"):
        common.validate(good, ["other"])


def test_run_experiment_measures_then_draws_only_into_a_given_folder(tmp_path):
    calls = []

    def measure(seed, quick, progress):
        calls.append(("measure", seed, quick, progress))
        return {"seed": seed}, "extra"

    def pictures(result, extra, folder):
        calls.append(("pictures", result, extra, folder))

    assert common.run_experiment(measure, pictures, 3, True, None, print) == {"seed": 3}
    assert calls == [("measure", 3, True, print)]  # out=None: nothing drawn
    calls.clear()
    out = tmp_path / "new" / "folder"
    assert common.run_experiment(measure, pictures, 4, False, out, None) == {"seed": 4}
    assert calls == [("measure", 4, False, None), ("pictures", {"seed": 4}, "extra", out)]
    assert out.is_dir()
    drawn = []
    result = common.run_experiment(
        lambda *args: {"only": 1}, lambda *args: drawn.append(args), 0, False, out, None
    )
    assert result == {"only": 1} and drawn == [({"only": 1}, out)]  # a plain dict: no extras


# --- the papers' claims -----------------------------------------------------------------------


def test_nielsen_early_layers_learn_slower(folder):
    res = quick("nielsen", folder)["results"]
    for k, speeds in res["at_init"].items():
        assert len(speeds) == int(k)
        assert all(a < b for a, b in zip(speeds, speeds[1:])), f"{k} hidden: {speeds}"
    # Nielsen: with 4 hidden layers the first learns ~100× slower than the last (we ask for > 10×)
    assert res["ratio_last_to_first"]["4"] > 10
    assert res["ratio_last_to_first"]["4"] > res["ratio_last_to_first"]["3"] > res["ratio_last_to_first"]["2"]
    # still true while training
    after = res["after_training"]["4"]
    assert after[-1] / after[0] > 10
    history = res["training"]["4"]
    assert len(history["speeds"]) == len(history["epochs"]) == len(history["accuracy"])


def test_glorot_standard_init_shrinks_both_ways_normalised_does_not(folder):
    res = quick("glorot", folder)["results"]
    assert res["activation_shrink"]["standard"] > 4  # ≈ (1/√3)⁻⁴ ≈ 9
    assert res["gradient_shrink"]["standard"] > 4
    assert res["activation_shrink"]["normalised"] < 2
    assert res["gradient_shrink"]["normalised"] < 2
    # Glorot's observation: the weight gradients are of similar size in every layer anyway
    weight = np.array(res["weight_gradient_std"]["standard"])
    assert weight.max() / weight.min() < 2


def test_he_trains_the_30_layer_relu_net_xavier_stalls(folder):
    res = quick("he", folder)["results"]
    assert len(res["activation_std"]["he"]) == 30
    assert res["activation_shrink"]["xavier"] > 1000  # ≈ 2^15 / something: halved variance per layer
    assert res["activation_shrink"]["he"] < 10
    xavier, he = res["final"]["xavier"], res["final"]["he"]
    assert abs(xavier["train_loss"] - math.log(10)) < 0.01  # stuck at chance
    assert he["train_loss"] < xavier["train_loss"] - 0.15
    assert he["test_accuracy"] > xavier["test_accuracy"]


def test_clipping_rho_to_the_t_and_clipping_saves_the_run(folder):
    result = quick("clipping", folder)
    res = result["results"]
    assert res["max_relative_error"] < 1e-9
    for row in res["law"]:
        assert row["largest"] == pytest.approx(row["rho"] ** row["T"], rel=1e-9)
        assert row["smallest"] == pytest.approx(row["rho"] ** row["T"], rel=1e-9)
    for rho, fitted in res["fitted_rho"].items():
        assert fitted == pytest.approx(float(rho), rel=1e-9)
    unclipped, clipped = res["unclipped"], res["clipped"]
    assert unclipped["first_nonfinite_step"] is not None and unclipped["final_loss"] is None
    assert clipped["first_nonfinite_step"] is None
    assert all(v is not None for v in clipped["losses"])
    assert clipped["final_loss"] < 1e-3 * clipped["losses"][0]
    assert max(clipped["grad_norms"]) > 100 * result["config"]["train"]["max_norm"]  # it did clip


def test_regression_health(folder):
    res = quick("regression", folder)["results"]
    healthy, vanishing = res["nets"]["tanh_xavier"], res["nets"]["sigmoid_small_init"]
    assert healthy["verdict"] == "healthy" and vanishing["verdict"] == "vanishing"
    assert healthy["final_loss"] < 0.1 * res["target_variance"]
    assert vanishing["final_loss"] > 0.9 * res["target_variance"]
    assert vanishing["health"][0]["weight_grad_ratio"] < 1e-6
    assert all(check["verdict"] == "vanishing" for check in vanishing["health"])


def test_classification_health(folder):
    res = quick("classification", folder)["results"]
    healthy, vanishing = res["nets"]["relu_he"], res["nets"]["sigmoid_small_init"]
    assert healthy["verdict"] == "healthy" and vanishing["verdict"] == "vanishing"
    assert healthy["test_accuracy"] > 0.9
    assert vanishing["test_accuracy"] < 0.65
    assert vanishing["final_loss"] == pytest.approx(math.log(2), abs=0.01)


# --- examples -----------------------------------------------------------------------------------


def test_there_is_one_example_per_experiment_and_a_tour():
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(experiments.names()) | {"scalar_graph_tour", "torch_model", "own_op"}


def test_scalar_graph_tour_example(tmp_path):
    namespace, printed = run_example("scalar_graph_tour", tmp_path)
    assert "dL/dw" in printed and "(sum over 2 paths)" in printed
    assert namespace["w"].grad == pytest.approx(sum(p.product for p in namespace["g"].paths(namespace["w"])))
    assert (tmp_path / "tour.svg").stat().st_size > 1000


# --- the demo ----------------------------------------------------------------------------------


def test_demo_quick_measures_and_draws(tmp_path):
    messages: list[str] = []
    report = demo.run(seed=0, quick=True, out=tmp_path, progress=messages.append)
    sigmoid, relu = report["gradients"]["sigmoid"], report["gradients"]["relu"]
    assert list(sigmoid) == list(relu) == [f"L{i}" for i in range(1, 6)]
    assert sigmoid["L1"] / sigmoid["L5"] < 1e-2  # vanishing towards the input
    assert relu["L1"] / relu["L5"] > 0.1
    chain = report["chain"]
    assert len(chain["locals"]) == demo.CHAIN_LENGTH
    assert all(0 < local <= 0.25 for local in chain["locals"])
    assert chain["gradient"] == pytest.approx(math.prod(chain["locals"]), rel=1e-12)
    for name in ("sigmoid_mlp.svg", "relu_mlp.svg", "gradient_flow.svg", "sigmoid_chain.svg"):
        assert (tmp_path / name).stat().st_size > 1000
    assert str(tmp_path / "sigmoid_chain.svg") in report["files"]
    text = demo.text(report)
    assert "relu / sigmoid" in text and "dh6/dx" in text
    assert messages


def test_demo_gains_are_the_ratios_of_the_activation_gradients():
    """The table's gains (and the grouped picture's arrows) against the modules' own .grad."""
    from tinygrad_edu import Tensor, cross_entropy

    X, labels = data.moons(64, 0.1, np.random.default_rng(0))
    for activation in demo.NETS:
        net = demo.build_net(activation, 4, 8, 0)
        loss = cross_entropy(net(Tensor(X, label="x")), labels)
        loss.backward()
        gains = demo.layer_gains(loss)
        outputs = [m.last_output for m in net.layers]  # Linear, act, Linear, act, ..., Linear
        norms = [float(np.linalg.norm(h.grad)) for h in outputs]
        for k in range(2, 5):  # L2..L4: Linear at 2k−2, its activation at 2k−1 (0-based)
            linear, act = 2 * k - 2, 2 * k - 1
            assert gains[f"L{k}"]["activation"] == pytest.approx(norms[linear] / norms[act], rel=1e-12)
            assert gains[f"L{k}"]["layer"] == pytest.approx(norms[linear - 1] / norms[act], rel=1e-12)
        assert "layer" not in gains["L1"]  # x needs no gradient: no layer gain for L1
        if activation == "sigmoid":
            assert all(entry["activation"] < 0.25 for entry in gains.values() if "activation" in entry)


# --- data -------------------------------------------------------------------------------------


def test_digits_are_the_bundled_set_scaled_to_unit_interval():
    X, y = data.digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    first, labels = data.digits(10)
    assert np.array_equal(first, X[:10]) and np.array_equal(labels, y[:10])


def test_generated_sets_are_deterministic():
    a = data.spirals(50, 0.05, np.random.default_rng(3))
    b = data.spirals(50, 0.05, np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    X, y = data.moons(51, 0.1, np.random.default_rng(0))
    assert X.shape == (51, 2) and sorted(set(y.tolist())) == [0, 1]
    x, noisy, clean = data.noisy_curve(20, 0.1, np.random.default_rng(0))
    assert np.all(np.diff(x[:, 0]) >= 0) and np.allclose(clean, data.curve(x))


def test_format_table_and_describe_sizes():
    text = common.format_table(["a", "b"], [["x", 1.5], ["yy", None]], title="T")
    assert text.splitlines()[0] == "T"
    assert text.splitlines()[-1].endswith("nan")
    assert common.describe_sizes([1, 32, 32, 32, 1]) == "1-32×3-1"
    assert common.describe_sizes([64, 10]) == "64-10"


# --- full size (opt-in) --------------------------------------------------------------------------


@pytest.mark.slow
def test_full_nielsen_deeper_nets_plateau_longer():
    res = experiments.run("nielsen", seed=0)["results"]
    assert res["ratio_last_to_first"]["4"] > 30
    half = res["epochs_to_half_accuracy"]
    assert half["2"] is not None and half["4"] is None


@pytest.mark.slow
def test_full_he_reaches_high_accuracy_xavier_chance():
    res = experiments.run("he", seed=0)["results"]
    assert res["final"]["he"]["test_accuracy"] > 0.7
    assert res["final"]["xavier"]["test_accuracy"] < 0.2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["glorot", "clipping", "regression", "classification"])
def test_full_size_runs_follow_the_schema(name):
    module = experiments.load(name)
    common.validate(module.run(seed=1), module.RESULT_KEYS)
