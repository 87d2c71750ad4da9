"""Files and folders on the way out: every command that takes a name, every writer, one check.

Tests run as root in CI, and root ignores permission bits, so "a folder that refuses files" is
made of places that refuse even root: ``/proc`` (no new files, ENOENT) and ``/sys`` (EACCES), and
a path that goes through a regular file. Each is probed first and the test skips, naming the
reason, only where the place cannot be set up on this machine.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import viz
from tinygrad_edu import Value, errors, nn
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


# --- Module.save / Module.load: any name round-trips, every broken file is a LoadError ----------


class OddNames(nn.Module):
    """Parameters named like np.savez's own arguments, names that are not identifiers, and a
    child whose dotted name ends in ``.npy`` (the suffix of the archive's members)."""

    NAMES = ("file", "allow_pickle", "args", "kwds", "w/x", "ünï")

    def __init__(self, fill: float = 0.0, child: bool = True):
        super().__init__()
        for index, name in enumerate(self.NAMES):
            self.register_parameter(name, nn.Parameter(np.full(index + 1, fill + index)))
        if child:
            self.weight = OddNames(fill + 100.0, child=False)
            self.weight.register_parameter("npy", nn.Parameter(np.full((2, 2), fill - 1.0)))


def test_save_then_load_without_suffix_round_trips(tmp_path):
    source = nn.MLP([3, 4, 2], rng=0)
    written = source.save(tmp_path / "w")
    assert written == tmp_path / "w.npz" and written.is_file()
    target = nn.MLP([3, 4, 2], rng=1)
    target.load(tmp_path / "w")  # the same rule as save: reads w.npz
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left


def test_every_parameter_name_round_trips(tmp_path):
    source, target = OddNames(fill=10.0), OddNames(fill=0.0)
    # an independent expectation: what OddNames(fill=10) was built with
    expected = {name: np.full(i + 1, 10.0 + i) for i, name in enumerate(OddNames.NAMES)}
    expected |= {f"weight.{name}": np.full(i + 1, 110.0 + i) for i, name in enumerate(OddNames.NAMES)}
    expected["weight.npy"] = np.full((2, 2), 9.0)
    assert sorted(source.state_dict()) == sorted(expected)
    source.save(tmp_path / "odd.npz")
    with np.load(tmp_path / "odd.npz", allow_pickle=False) as archive:  # numpy reads the file too
        assert sorted(archive.files) == sorted(expected)
    target.load(tmp_path / "odd.npz")
    loaded = target.state_dict()
    for name, array in expected.items():
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


def test_load_reads_a_file_named_exactly_as_given_when_there_is_no_npz(tmp_path):
    source = nn.Linear(2, 3, rng=0)
    source.save(tmp_path / "model.npz")
    (tmp_path / "model.npz").rename(tmp_path / "model.bin")
    target = nn.Linear(2, 3, rng=1)
    target.load(tmp_path / "model.bin")
    np.testing.assert_array_equal(target.weight.data, source.weight.data)
    with pytest.raises(FileNotFoundError, match=r"no saved state at '.*missing\.npz' or '.*missing'"):
        target.load(tmp_path / "missing")


def _saved_bytes(tmp_path) -> bytes:
    path = nn.Linear(2, 3, rng=0).save(tmp_path / "good.npz")
    return path.read_bytes()


def _bad_crc(data: bytes) -> bytes:
    """Flip one byte inside the first member's array data (after its .npy header)."""
    start = data.index(b"\x93NUMPY")
    header_len = int.from_bytes(data[start + 8 : start + 10], "little")
    damaged = bytearray(data)
    damaged[start + 10 + header_len + 3] ^= 0xFF
    return bytes(damaged)


BROKEN_FILES = {
    "empty": (lambda good: b"", "is not a saved state: it is an empty file"),
    "text": (lambda good: b"weight = 1, 2, 3\n", "it is a text file"),
    "pickle": (lambda good: pickle.dumps({"weight": [1.0]}), "it is a pickle"),
    "npy": (None, "a single numpy array (.npy)"),
    "truncated": (lambda good: good[: len(good) // 2], "is damaged (truncated or corrupt)"),
    "bad crc": (_bad_crc, "the entry 'weight' is damaged (Bad CRC-32"),
    "objects": (None, "the entry 'weight' is not a plain numeric array"),
    "not npy members": (None, "member 'readme.txt' is not a .npy array"),
    "nan": (None, "'weight' holds 1 nan/inf value(s) of 6"),
    "inf": (None, "'bias' holds 3 nan/inf value(s) of 3"),
    "binary": (lambda good: bytes(range(256)) * 4, "it starts with the bytes"),
    "duplicate entry": (None, "the entry 'bias' appears twice"),
}


def _write_broken(kind: str, path: Path, good: bytes) -> None:
    make, _ = BROKEN_FILES[kind]
    if make is not None:
        path.write_bytes(make(good))
    elif kind == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.ones((2, 3)))
    elif kind == "objects":
        np.savez(path, weight=np.array([object()] * 6).reshape(2, 3), bias=np.zeros(3))
    elif kind == "duplicate entry":
        with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns "Duplicate name"
            for name in ("weight", "bias", "bias"):
                buffer = io.BytesIO()
                np.save(buffer, np.zeros((2, 3) if name == "weight" else 3))
                archive.writestr(f"{name}.npy", buffer.getvalue())
    elif kind == "not npy members":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    elif kind in ("nan", "inf"):
        state = nn.Linear(2, 3, rng=0).state_dict()
        if kind == "nan":
            state["weight"][1, 2] = np.nan
        else:
            state["bias"][:] = np.inf
        np.savez(path, **state)


@pytest.mark.parametrize("kind", list(BROKEN_FILES))
def test_every_broken_file_is_a_load_error_naming_the_file_and_the_model_is_unchanged(tmp_path, kind):
    path = tmp_path / f"{kind.replace(' ', '_')}.npz"
    _write_broken(kind, path, _saved_bytes(tmp_path))
    model = nn.Linear(2, 3, rng=7)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(errors.LoadError) as caught:
        model.load(path)
    message = str(caught.value)
    assert message.startswith(f"load: {str(path)!r}") and BROKEN_FILES[kind][1] in message
    assert caught.value.path == str(path) and isinstance(caught.value, ValueError)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


def test_nonfinite_weights_load_when_asked_for(tmp_path):
    path = tmp_path / "nan.npz"
    _write_broken("nan", path, b"")
    model = nn.Linear(2, 3, rng=7)
    model.load(path, allow_nonfinite=True)
    assert np.isnan(model.weight.data[1, 2]) and np.isfinite(model.weight.data[0]).all()


def test_errors_of_load_state_dict_name_the_file(tmp_path):
    path = nn.Linear(2, 3, rng=0).save(tmp_path / "small")
    model = nn.Linear(2, 4, rng=1)
    with pytest.raises(errors.ShapeError, match=r"^load '.*small\.npz': load_state_dict: shape mismatch"):
        model.load(path)


def test_save_into_a_folder_that_cannot_take_it_is_an_output_path_error(tmp_path):
    model = nn.Linear(2, 3, rng=0)
    with pytest.raises(errors.OutputPathError, match="does not exist"):
        model.save(tmp_path / "missing" / "w.npz")
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(errors.OutputPathError, match="is a folder"):
        model.save(tmp_path / "folder.npz")
    with pytest.raises(errors.LoadError, match="is a folder"):
        model.load(tmp_path / "folder.npz")
    if REFUSING:
        target = os.path.join(REFUSING[0], "w.npz")
        with pytest.raises(errors.OutputPathError, match=f"^save: cannot write {target!r}"):
            model.save(target)


def test_load_state_dict_with_a_ragged_list_is_a_type_error():
    model = nn.Linear(2, 3, rng=0)
    before = model.weight.data.copy()
    with pytest.raises(TypeError, match="'weight' is not an array of numbers"):
        model.load_state_dict({"weight": [[1.0, 2.0, 3.0], [4.0]], "bias": np.zeros(3)})
    np.testing.assert_array_equal(model.weight.data, before)


# --- experiment: where the pictures went, and the list as JSON ------------------------------------


def test_experiment_lists_the_files_it_wrote(capsys, tmp_path):
    (tmp_path / "unrelated.txt").write_text("not ours")
    assert main(["experiment", "glorot", "--quick", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    listed = out.split("\nwrote:\n", 1)[1].split()
    on_disk = sorted(str(p) for p in tmp_path.iterdir() if p.suffix == ".svg")
    assert listed == on_disk and len(listed) >= 2  # every picture, and only those
    for path in listed:
        assert Path(path).stat().st_size > 1000


def test_experiment_json_keeps_stdout_one_object_and_names_the_files_on_stderr(capsys, tmp_path):
    import json

    assert main(["experiment", "glorot", "--quick", "--json", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["experiment"] == "glorot"
    for path in tmp_path.glob("*.svg"):
        assert str(path) in captured.err


def test_experiment_without_pictures_lists_nothing(capsys, tmp_path):
    assert main(["experiment", "glorot", "--quick", "--no-pictures", "--out", str(tmp_path)]) == 0
    assert "wrote" not in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["experiment", "list", "--json"], ["experiment", "--list", "--json"]])
def test_experiment_list_json_is_json(capsys, argv):
    import json

    from tinygrad_edu import experiments

    assert main(argv) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing == [{"name": name, "title": title} for name, title in experiments.REGISTRY.items()]


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from tinygrad_edu.cli import main\n"
        "sys.stdout.close = lambda: None\n"
        "r, w = __import__('os').pipe(); __import__('os').close(r)\n"
        "__import__('os').dup2(w, 1)\n"
        "sys.exit(main(['experiment', 'list', '--json']))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(root)),
    )
    assert "Traceback" not in done.stderr and done.returncode == 1


@needs_refusing_folder
def test_an_experiment_chart_into_a_refusing_folder_is_an_output_path_error():
    pytest.importorskip("matplotlib")
    from tinygrad_edu.experiments import pictures

    target = Path(REFUSING[0]) / "tinygrad-edu-chart.svg"
    with pytest.raises(errors.OutputPathError, match=f"cannot write the picture {str(target)!r}"):
        pictures.line_chart({"a": {1: 1.0, 2: 0.5}}, target, title="t", xlabel="x", ylabel="y")
