"""Hochreiter & Schmidhuber (1997): the adding problem — a vanilla RNN cannot carry a value across T
steps, an LSTM (and a GRU) can; and which initialisation of a tanh RNN's W_hh lets gradient through.

Task (see :mod:`.sequences`): sequences of T ≥ 50 steps, two channels (a value in U(−1, 1) and a
marker picking two steps, one per half); the target is the sum of the two marked values. A
constant prediction scores the target's variance ≈ 2/3 (``baseline_mse``, measured on the test
set). Every model has the same hidden size, optimiser (Adam), clipping (``clip_grad_norm_``),
seed, training batches and number of steps; only the recurrent cell differs. The LSTM starts
with ``forget_bias = 1`` (Gers et al. 2000; Jozefowicz et al. 2015), the usual recipe.

Why the split: the loss sits at the last step, so the first marked value's gradient has to come
back through ≥ T/2 steps. The RNN multiplies it by ``diag(1 − h²)·W_hh`` at every step and it
fades (its ratio ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ is tiny at init and stays so), so the RNN learns only
what the last steps hold and stays near the baseline; the LSTM's cell path multiplies by
``f_t`` only, and training pushes f_t towards 1 on the units that store the value, so its ratio
rises during training.

**W_hh init** (``orthogonal_rnn``): the same tanh RNN with ``W_hh ~ N(0, 0.1²)`` (spectral radius
≈ 0.1·√H < 1: vanishing) against orthogonal ``W_hh`` (every singular value 1), and a ReLU RNN
with ``W_hh = I`` and zero biases (Le, Jaitly & Hinton 2015), on the same task and budget; their
gradients over time at init show the reason.

JSON (``tinygrad-edu experiment adding --json``)::

    {"experiment": "adding", "seed": 0, "config": {"T": 100, "hidden": 16, ...},
     "results": {
       "baseline_mse": 0.66,
       "rnn":  {"test_mse": 0.65, "relative_mse": 0.98, "solved": false, "ratio_at_init": 1e-12,
                "ratio_trained": 1e-9, "gradient_over_time_init": [...], "gradient_over_time_trained":
                [...], "test_curve": {"0": 0.7, "100": ...}, "final_train_loss": 0.6},
       "lstm": {...}, "gru": {...},
       "orthogonal_rnn": {"normal": {...}, "orthogonal": {...}, "identity_relu": {...}}}}

``relative_mse`` = test_mse / baseline_mse; ``solved`` = relative_mse < :data:`SOLVED_FRACTION`.
The ratios are ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ of one probe batch (the first 64 test sequences), read from
the step nodes' ``.grad`` after one backward (:func:`~tinygrad_edu.diagnostics.gradient_over_time`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import nn
from .common import Progress, format_table, make_result, number, rng, run_experiment, say
from .sequences import SequenceRegressor, adding_problem, baseline_mse, gradient_profile, train

NAME = "adding"
TITLE = "Hochreiter & Schmidhuber 1997: the adding problem: RNN at the baseline, LSTM/GRU solve it"
RESULT_KEYS = ("baseline_mse", "rnn", "lstm", "gru", "orthogonal_rnn")

#: A model solves the task when its test MSE is below this fraction of the baseline's.
SOLVED_FRACTION = 0.1

#: name → (kind, options): the three cells of the main comparison.
MODELS = {"rnn": ("RNN", {}), "lstm": ("LSTM", {"forget_bias": 1.0}), "gru": ("GRU", {})}
#: name → (kind, options): the W_hh comparison of tanh RNNs (and the IRNN).
VARIANTS = {
    "normal": ("RNN", {"weight_hh_init": nn.init.normal(std=0.1)}),
    "orthogonal": ("RNN", {"weight_hh_init": "orthogonal"}),
    "identity_relu": ("RNN", {"nonlinearity": "relu", "weight_hh_init": "identity", "bias_init": "zeros"}),
}
LABELS = {
    "rnn": "RNN (tanh)",
    "lstm": "LSTM",
    "gru": "GRU",
    "normal": "tanh RNN, W_hh ~ N(0, 0.1²)",
    "orthogonal": "tanh RNN, W_hh orthogonal",
    "identity_relu": "ReLU RNN, W_hh = I",
}


def settings(quick: bool) -> dict[str, Any]:
    """The run's sizes. Picked by profiling: the engine is Python-overhead bound (~20 µs per op,
    ~25 ops per LSTM step), so a step costs about T · 0.5 ms whatever the hidden size."""
    if quick:
        return {
            "T": 20,
            "hidden": 16,
            "batch": 32,
            "steps": 200,
            "variant_steps": 100,
            "lr": 0.02,
            "max_norm": 1.0,
            "test_size": 500,
            "every": 50,
        }
    return {
        "T": 100,
        "hidden": 16,
        "batch": 64,
        "steps": 600,
        "variant_steps": 300,
        "lr": 0.01,
        "max_norm": 1.0,
        "test_size": 1000,
        "every": 50,
    }


def run_model(
    name: str, kind: str, options: dict, config: dict, seed: int, steps: int, test, probe
) -> tuple[dict, SequenceRegressor]:
    """Build, profile at init, train, profile again: ``(row of the results, trained model)``."""
    model = SequenceRegressor(kind, 2, config["hidden"], rng=seed, name=name, **options)
    at_init = gradient_profile(model, *probe)
    trained = train(
        model,
        T=config["T"],
        batch=config["batch"],
        steps=steps,
        lr=config["lr"],
        max_norm=config["max_norm"],
        seed=seed + 1,
        test=test,
        every=config["every"],
    )
    after = gradient_profile(model, *probe)
    row = {
        "test_mse": trained["test_mse"],
        "relative_mse": trained["test_mse"] / config["baseline_mse"],
        "solved": trained["test_mse"] < SOLVED_FRACTION * config["baseline_mse"],
        "ratio_at_init": at_init["ratio"],
        "ratio_trained": after["ratio"],
        "gradient_over_time_init": at_init["norms"],
        "gradient_over_time_trained": after["norms"],
        "test_curve": trained["test_curve"],
        "final_train_loss": trained["final_train_loss"],
    }
    return row, model


def run(
    seed: int = 0, quick: bool = False, out: Any = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the experiment (see the module docstring); pictures go to ``out`` when given."""
    return run_experiment(measure, pictures, seed, quick, out, progress)


def measure(seed: int, quick: bool, progress: Progress | None) -> dict[str, Any]:
    config = settings(quick)
    test = adding_problem(config["test_size"], config["T"], rng(seed + 1000))
    probe = (test[0][:, :64], test[1][:64])
    config["baseline_mse"] = baseline_mse(test[1])
    results: dict[str, Any] = {"baseline_mse": config["baseline_mse"]}
    for name, (kind, options) in MODELS.items():
        say(progress, f"training {LABELS[name]} on T = {config['T']} for {config['steps']} steps")
        results[name], _ = run_model(name, kind, options, config, seed, config["steps"], test, probe)
        say(progress, f"{LABELS[name]}: test MSE {number(results[name]['test_mse'])}")
    results["orthogonal_rnn"] = {}
    for name, (kind, options) in VARIANTS.items():
        say(progress, f"training {LABELS[name]} for {config['variant_steps']} steps")
        results["orthogonal_rnn"][name], _ = run_model(
            name, kind, options, config, seed, config["variant_steps"], test, probe
        )
    config = {**config, "quick": quick, "lstm_forget_bias": 1.0, "solved_fraction": SOLVED_FRACTION}
    return make_result(NAME, seed, config, results)


def pictures(result: dict, folder: Path) -> list[Path]:
    """``adding_training.svg`` (test MSE against step), ``adding_gradient_init.svg`` and
    ``adding_gradient_trained.svg`` (‖∂L/∂h_t‖ against t), ``adding_orthogonal.svg``."""
    import viz

    from .pictures import line_chart

    res = result["results"]
    T = result["config"]["T"]
    steps = result["config"]["steps"]
    curves = {
        "constant predictor": {0: res["baseline_mse"], steps: res["baseline_mse"]}
    }  # drawn first: under
    curves.update({LABELS[m]: {int(k): v for k, v in res[m]["test_curve"].items()} for m in MODELS})
    variants = res["orthogonal_rnn"]
    return [
        line_chart(
            curves,
            folder / "adding_training.svg",
            title=f"adding problem, T = {T}: test MSE",
            xlabel="training step",
            ylabel="test MSE",
        ),
        viz.gradient_over_time_chart(
            {LABELS[m]: res[m]["gradient_over_time_init"] for m in MODELS},
            folder / "adding_gradient_init.svg",
            title=f"‖∂L/∂h_t‖ at initialisation (T = {T})",
        ),
        viz.gradient_over_time_chart(
            {LABELS[m]: res[m]["gradient_over_time_trained"] for m in MODELS},
            folder / "adding_gradient_trained.svg",
            title=f"‖∂L/∂h_t‖ after training (T = {T})",
        ),
        viz.gradient_over_time_chart(
            {LABELS[v]: variants[v]["gradient_over_time_init"] for v in VARIANTS},
            folder / "adding_orthogonal.svg",
            title=f"W_hh init: ‖∂L/∂h_t‖ at initialisation (T = {T})",
        ),
    ]


def _row(name: str, entry: dict) -> list:
    return [
        LABELS[name],
        entry["test_mse"],
        entry["relative_mse"],
        entry["solved"],
        entry["ratio_at_init"],
        entry["ratio_trained"],
    ]


def table(result: dict) -> str:
    res, c = result["results"], result["config"]
    headers = ["model", "test MSE", "/ baseline", "solved", "‖∂L/∂h_1‖/‖∂L/∂h_T‖ init", "trained"]
    main = format_table(
        headers,
        [_row(m, res[m]) for m in MODELS] + [["constant predictor", res["baseline_mse"], 1.0, "—", "—", "—"]],
        title=f"Adding problem, T = {c['T']}, hidden {c['hidden']}, Adam lr {c['lr']}, "
        f"clip_grad_norm_({c['max_norm']}), batch {c['batch']}, {c['steps']} steps, "
        f"test set {c['test_size']}",
    )
    variants = format_table(
        headers,
        [_row(v, res["orthogonal_rnn"][v]) for v in VARIANTS],
        title=f"W_hh initialisation, same task, {c['variant_steps']} steps",
    )
    return f"{main}\n\n{variants}"
