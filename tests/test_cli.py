"""The ``tinygrad-edu`` command: every subcommand at small sizes, and bad input → exit 2, no traceback."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tinygrad_edu import experiments
from tinygrad_edu.cli import main, worked_example
from tinygrad_edu.experiments import common


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_module(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


# --- help --------------------------------------------------------------------------------------


def test_help_lists_the_subcommands(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in ("demo", "graph", "experiment", "viewer"):
        assert command in out


@pytest.mark.parametrize("command", ["demo", "graph", "experiment", "viewer"])
def test_each_subcommand_has_help_with_seed_and_out(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert "--seed" in out and "--out" in out


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.startswith("tinygrad-edu ")


# --- bad input: exit 2, one message, no traceback ----------------------------------------------------


def _file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


BAD = [
    ([], "required"),
    (["frobnicate"], "invalid choice"),
    (["experiment", "nope"], "unknown experiment 'nope'; known experiments: nielsen"),
    (["experiment"], "give an experiment NAME"),
    (["experiment", "clipping", "--seed", "abc"], "invalid int value"),
    (["experiment", "clipping", "--seed", "-1"], "must be ≥ 0"),
    (["graph", "x", "--set", "x=1", "--name", "../escape"], "without folders"),
    (["graph", "tanh(w*x"], "bad syntax"),
    (["graph", "foo(x)", "--set", "x=1"], "unknown function 'foo'"),
    (["graph", "x.real", "--set", "x=1"], "attribute access"),
    (["graph", "x + y", "--set", "x=1"], "no value for y"),
    (["graph", "x", "--set", "x=abc"], "must be a number"),
    (["graph", "x", "--set", "x"], "expected NAME=NUMBER"),
    (["graph", "x", "--set", "x=1", "--set", "x=2"], "given twice"),
    (["graph", "x", "--set", "x=1", "--wrt", "y"], "not a variable"),
    (["graph", "x", "--set", "x=1", "--format", "gif"], "invalid choice"),
    (["demo", "--bogus"], "unrecognized arguments"),
    (["viewer", "tanh(w*x"], "bad syntax"),
    (["viewer", "--demo", "nope"], "invalid choice"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) or "<none>" for a, _ in BAD])
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--quick"],
        ["graph", "x", "--set", "x=1"],
        ["experiment", "glorot"],
        ["viewer", "--demo", "chain"],
    ],
)
def test_unwritable_out_exits_2_before_any_work(capsys, tmp_path, command):
    target = _file(tmp_path) / "sub"  # a folder inside a regular file cannot exist
    code, out, err = run_cli(capsys, *command, "--out", str(target))
    assert code == 2
    assert f"--out {str(target)!r}: a part of the path is a file, not a folder" in err
    assert "Traceback" not in err and out == ""


def test_bad_input_through_python_dash_m_has_no_traceback(tmp_path):
    for argv, message in [
        (["experiment", "nope"], "unknown experiment"),
        (["graph", "__import__('os').system('echo hi')"], "only the functions"),
        (["graph", "x", "--set", "x=1", "--out", str(_file(tmp_path))], "is a file, not a folder"),
        (["--no-such-flag"], "usage:"),
    ]:
        process = run_module(*argv, cwd=tmp_path)
        assert process.returncode == 2, (argv, process.stderr)
        assert message in process.stderr
        assert "Traceback" not in process.stderr


# --- graph -------------------------------------------------------------------------------------------

#: the worked example's neuron with its values, as the README writes it
NEURON = ("tanh(w*x + b)", "--set", "x=0.5", "--set", "w=-1.5", "--set", "b=0.8")


def test_graph_renders_and_prints_the_chain_rule(capsys, tmp_path):
    code, out, err = run_cli(capsys, "graph", *NEURON, "--out", str(tmp_path))
    assert code == 0, err
    assert "f = tanh(w*x + b)" in out
    # by hand: f = tanh(z), z = w·x + b, so df/dw = (1 − tanh²z)·x, df/dx = (1 − tanh²z)·w, df/db = 1 − tanh²z
    d = 1 - math.tanh(-1.5 * 0.5 + 0.8) ** 2
    for name, grad in (("w", d * 0.5), ("x", d * -1.5), ("b", d)):
        assert f"df/d{name} = " in out
        assert f"\n{name}.grad = {grad:.3g} after backward()\n" in out
    svg = (tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "tanh" in svg


def test_graph_wrt_and_dot_format(capsys, tmp_path):
    code, out, _ = run_cli(
        capsys,
        "graph",
        "sigmoid(x)**2 / (1 + exp(-y))",
        "--set",
        "x=0.5",
        "--set",
        "y=1",
        "--wrt",
        "y",
        "--format",
        "dot",
        "--name",
        "g",
        "--out",
        str(tmp_path),
    )
    assert code == 0
    assert "df/dy" in out and "df/dx" not in out
    assert (tmp_path / "g.dot").read_text(encoding="utf-8").startswith("digraph")


def test_graph_shared_variable_sums_its_paths(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "graph", "x*x", "--set", "x=3", "--format", "dot", "--out", str(tmp_path))
    assert code == 0
    assert "(sum over 2 paths)" in out and "x.grad = 6 after backward()" in out


# --- experiment ------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["experiment", "list"], ["experiment", "--list"]])
def test_experiment_list(capsys, argv):
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == experiments.names()


def test_experiment_prints_a_table_and_writes_pictures(capsys, tmp_path):
    code, out, err = run_cli(capsys, "experiment", "clipping", "--quick", "--out", str(tmp_path))
    assert code == 0
    assert "fitted ρ" in out and "clip_grad_norm_" in out
    assert "[clipping]" in err  # progress goes to stderr
    assert (tmp_path / "clipping_law.svg").exists()


def test_experiment_json_is_only_json_on_stdout(tmp_path):
    process = run_module("experiment", "clipping", "--quick", "--json", "--out", str(tmp_path))
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout)  # nothing else on stdout
    common.validate(result, experiments.load("clipping").RESULT_KEYS)
    assert result["experiment"] == "clipping" and result["config"]["quick"] is True
    assert "[clipping]" in process.stderr


def test_experiment_seed_and_no_pictures(capsys, tmp_path):
    code, out, err = run_cli(
        capsys,
        "experiment",
        "glorot",
        "--quick",
        "--json",
        "--seed",
        "3",
        "--no-pictures",
        "--quiet",
        "--out",
        str(tmp_path),  # where the pictures would go without --no-pictures
    )
    assert code == 0 and err == ""
    assert json.loads(out)["seed"] == 3
    assert not any(tmp_path.iterdir())


# --- demo ----------------------------------------------------------------------------------------------


def test_demo_quick(capsys, tmp_path):
    code, out, err = run_cli(capsys, "demo", "--quick", "--out", str(tmp_path))
    assert code == 0, err
    assert "relu / sigmoid" in out
    assert worked_example() in out
    for name in ("sigmoid_mlp.svg", "relu_mlp.svg", "gradient_flow.svg", "sigmoid_chain.svg"):
        assert (tmp_path / name).exists()
    assert "[demo]" in err


def test_worked_example_is_the_chain_rule_of_one_neuron():
    text = worked_example()
    assert text.startswith("L = tanh(h·h), h = σ(w·x + b)")
    assert "dL/dw" in text and "(sum over 2 paths)" in text


def test_viewer_writes_one_html_page(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "viewer", *NEURON, "--out", str(tmp_path), "--name", "neuron")
    assert code == 0
    page = tmp_path / "neuron.html"
    assert str(page) in out
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
