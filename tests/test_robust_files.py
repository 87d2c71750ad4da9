"""Files and folders on the way out: every command that takes a name, every writer, one check.

Tests run as root in CI, and root ignores permission bits, so "a folder that refuses files" is
made of places that refuse even root: ``/proc`` (no new files, ENOENT) and ``/sys`` (EACCES), and
a path that goes through a regular file. Each is probed first and the test skips, naming the
reason, only where the place cannot be set up on this machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pytest

import viz
from tinygrad_edu import Value, errors
from tinygrad_edu.cli import main
from tinygrad_edu.experiments import common
from tinygrad_edu.outputs import MAX_NAME_BYTES, file_name, output_folder
from viz.viewer import add_viewer_arguments, run_viewer_command


def _refuses_new_files(folder: str) -> bool:
    """Whether ``folder`` exists and refuses a new file, for this user (root too)."""
    if not os.path.isdir(folder):
        return False
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


#: Folders that refuse new files even for root, where this machine has them.
REFUSING = [d for d in ("/proc", "/sys") if _refuses_new_files(d)]
needs_refusing_folder = pytest.mark.skipif(
    not REFUSING, reason="no folder here refuses new files for this user (/proc, /sys)"
)


def a_graph() -> Value:
    x = Value(0.5, label="x")
    return (x * 3).tanh()


# --- --name: one check for every command that takes a name --------------------------------------

ESCAPING_NAMES = ["../../x", "../x", "sub/x", "/tmp/tinygrad-edu-x", "a\\b", "C:x", "..", ".", "", "a\nb"]
NAME_COMMANDS = [
    ["graph", "x*2", "--set", "x=1"],
    ["viewer", "--demo", "chain"],
    ["viewer", "x*2", "--set", "x=1"],
]


@pytest.mark.parametrize("command", NAME_COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("name", ESCAPING_NAMES, ids=repr)
def test_every_name_that_leaves_out_is_refused_with_exit_2(capsys, tmp_path, command, name):
    out = tmp_path / "deep" / "out"
    code = main([*command, "--out", str(out), "--name", name])
    err = capsys.readouterr().err
    assert code == 2
    assert "argument --name:" in err and "Traceback" not in err
    assert not (tmp_path / "deep" / "out").exists()  # refused before anything was created
    assert not any(tmp_path.rglob("*.html")) and not any(tmp_path.rglob("*.svg"))
    assert not Path("/tmp/tinygrad-edu-x.html").exists()


def test_the_standalone_viewer_parser_checks_names_the_same_way():
    parser = add_viewer_arguments(argparse.ArgumentParser(exit_on_error=False))
    with pytest.raises(argparse.ArgumentError, match="without folders"):
        parser.parse_args(["--demo", "chain", "--name", "../../x"])


def test_run_viewer_command_refuses_a_bad_name_given_without_the_parser(capsys, tmp_path):
    args = add_viewer_arguments(argparse.ArgumentParser()).parse_args(["--demo", "chain"])
    args.name, args.out = "../escaped", str(tmp_path / "out")
    assert run_viewer_command(args) == 2
    assert "without folders" in capsys.readouterr().err
    assert not (tmp_path / "escaped.html").exists()


def test_plain_names_are_accepted_as_they_are():
    for name in ("graph", "my graph", "ünïcode-名前", ".hidden", "a.b", "x" * MAX_NAME_BYTES):
        assert file_name(name) == name


def test_a_name_too_long_for_the_file_system_is_refused_before_work():
    with pytest.raises(errors.OutputNameError, match="bytes long"):
        file_name("é" * 200)  # 400 bytes in UTF-8
    with pytest.raises(errors.OutputNameError):
        file_name(42)


def test_a_plain_name_is_written_inside_out(capsys, tmp_path):
    assert main(["viewer", "--demo", "chain", "--out", str(tmp_path), "--name", "chain page", "--quiet"]) == 0
    assert (tmp_path / "chain page.html").stat().st_size > 1000


# --- --out and the Python writers: typed errors that name the user's path ------------------------

OUT_COMMANDS = [
    ["demo", "--quick"],
    ["graph", "x", "--set", "x=1"],
    ["experiment", "glorot", "--quick"],
    ["viewer", "--demo", "chain"],
]


@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: c[0])
def test_out_naming_an_existing_file_says_it_is_a_file(capsys, tmp_path, command):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    code = main([*command, "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--out {str(target)!r} is a file, not a folder" in err
    assert "File exists" not in err and "Traceback" not in err
    assert target.read_text() == "keep me"


@needs_refusing_folder
@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: c[0])
def test_out_in_a_folder_that_refuses_files_exits_2(capsys, command):
    out = REFUSING[0]
    code = main([*command, "--out", out])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--out {out!r} cannot be written to" in err and "Traceback" not in err


@needs_refusing_folder
@pytest.mark.parametrize("folder", REFUSING)
@pytest.mark.parametrize(
    "write, who, suffix",
    [
        (lambda y, path: viz.render(y, path), "render", ".dot"),
        (lambda y, path: viz.render(y, path), "render", ".svg"),
        (lambda y, path: viz.viewer(y, path), "viewer", ".html"),
    ],
    ids=["render dot", "render svg", "viewer"],
)
def test_writers_into_a_folder_that_refuses_files_raise_output_path_error(folder, write, who, suffix):
    target = os.path.join(folder, f"tinygrad-edu-picture{suffix}")
    with pytest.raises(viz.OutputPathError) as caught:
        write(a_graph(), target)
    message = str(caught.value)
    assert message.startswith(f"{who}: cannot write {target!r}: ")
    assert ".tmp" not in message  # the user's path, never the hidden temporary file
    assert isinstance(caught.value, errors.OutputPathError) and isinstance(caught.value, OSError)


@needs_refusing_folder
def test_the_gradient_flow_chart_into_a_refusing_folder_is_an_output_path_error():
    pytest.importorskip("matplotlib")
    target = os.path.join(REFUSING[0], "tinygrad-edu-flow.svg")
    with pytest.raises(viz.OutputPathError, match=f"^gradient_flow_chart: cannot write {target!r}"):
        viz.gradient_flow_chart({"layer 1": [1.0, 0.5], "layer 2": [2.0, 1.0]}, target)


def test_a_failing_write_names_the_target_not_the_temp_file(tmp_path, monkeypatch):
    """Any OSError while writing (full disk …) becomes the documented error, old file kept."""
    import viz.output as output_module

    target = tmp_path / "y.dot"
    target.write_text("old")

    def full_disk(fd, mode="r", *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output_module.os, "fdopen", full_disk)
    with pytest.raises(viz.OutputPathError, match=r"render: cannot write .*y\.dot'.*No space left"):
        viz.render(a_graph(), target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["y.dot"]  # the temporary file is gone


def test_output_folder_messages(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("")
    with pytest.raises(errors.OutputPathError, match="is a file, not a folder"):
        output_folder(a_file)
    with pytest.raises(errors.OutputPathError, match="a part of the path is a file"):
        output_folder(a_file / "sub")
    with pytest.raises(TypeError):
        output_folder(3)
    assert output_folder(tmp_path / "new" / "deeper").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "new"]  # the probe file is gone


def test_experiments_refuse_an_unwritable_out_before_measuring(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("")
    measured = []

    def measure(seed, quick, progress):
        measured.append(seed)
        return {}

    with pytest.raises(errors.OutputPathError, match="is a file, not a folder"):
        common.run_experiment(measure, lambda result, folder: None, 0, True, a_file, None)
    assert measured == []  # no long work was done for nothing
