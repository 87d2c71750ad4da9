"""Noise a user sees: a render through the pygraphviz wheel prints nothing on stderr, yet every
real warning or error of Graphviz still reaches the user.

The wheel's bundled fontconfig reads the system's (newer) configuration and warns about the
``<reset-dirs/>`` element on every first render; where the machine's fontconfig files have no
such element the warning never appears, and the tests below still check that stderr is clean
and that real messages get through. Each runs in a fresh interpreter, because fontconfig
initialises (and warns) once per process, writing to file descriptor 2 directly.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_viz_support import needs_pygraphviz

from viz import backends

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, TINYGRAD_EDU_RENDERER="pygraphviz")
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env
    )


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, TINYGRAD_EDU_RENDERER="pygraphviz")
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


@needs_pygraphviz
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_a_normal_render_through_pygraphviz_prints_nothing_on_stderr(tmp_path, fmt):
    done = _cli(
        "graph",
        "tanh(w*x)",
        "--set",
        "x=1",
        "--set",
        "w=2",
        "--out",
        str(tmp_path),
        "--quiet",
        "--format",
        fmt,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert (tmp_path / f"graph.{fmt}").stat().st_size > 500


@needs_pygraphviz
def test_a_real_graphviz_warning_still_reaches_stderr():
    code = (
        "from viz import backends\n"
        "source = 'digraph { a [shape=notashape]; a -> b }'\n"
        "data = backends.render_bytes(source, 'png', renderer='pygraphviz')\n"
        "print(len(data))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 100
    assert "unknown shape notashape" in done.stderr
    assert "reset-dirs" not in done.stderr


@needs_pygraphviz
def test_a_graphviz_error_is_still_a_render_error(tmp_path):
    code = (
        "from viz import backends\n"
        "try:\n"
        "    backends.render_bytes('digraph { a -> ', 'png', renderer='pygraphviz')\n"
        "except backends.RenderError as error:\n"
        "    print('RenderError', error)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("RenderError pygraphviz failed to render png")
    assert "reset-dirs" not in done.stderr


def test_the_filter_drops_only_the_known_warning(capfd):
    noise = (
        'Fontconfig warning: "/usr/share/fontconfig/conf.avail/05-reset-dirs-sample.conf", '
        'line 6: unknown element "reset-dirs"\n'
    )
    real = (
        'Fontconfig error: "/etc/fonts/fonts.conf", line 3: not well-formed\n'
        "Warning: using box for unknown shape x\n"
    )
    with backends.native_stderr_without_known_noise():
        os.write(2, (noise + real + noise).encode())
    captured = capfd.readouterr()
    assert captured.err == real


def test_the_filter_keeps_what_python_writes_and_survives_an_error(capfd):
    with pytest.raises(RuntimeError):
        with backends.native_stderr_without_known_noise():
            sys.stderr.write("from python\n")
            sys.stderr.flush()
            raise RuntimeError("inside")
    assert "from python" in capfd.readouterr().err
    os.write(2, b"after\n")  # descriptor 2 is the terminal's again
    assert capfd.readouterr().err == "after\n"
