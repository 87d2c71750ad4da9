"""Run Graphviz on DOT text: the system ``dot`` executable, or the ``pygraphviz`` wheel.

Two renderers produce the same pictures:

* ``"dot"`` — the ``dot`` program on ``PATH`` (``apt-get install graphviz``, ``brew install
  graphviz``), run as a subprocess with a time limit;
* ``"pygraphviz"`` — the ``pygraphviz`` package, whose wheels (≥ 2.0) bundle Graphviz, so a
  plain ``pip install pygraphviz`` (or ``pip install 'tinygrad_edu[render]'``) is enough; no
  root, no system package. It runs in-process.

``renderer="auto"`` picks ``dot`` when it is on ``PATH``, else ``pygraphviz``. The environment
variable ``TINYGRAD_EDU_RENDERER`` (``dot`` or ``pygraphviz``) forces one wherever ``"auto"`` is
used; an explicit ``renderer=`` argument wins over it. With neither available,
:class:`~viz.errors.RendererNotFound` names both fixes. DOT text never needs a renderer.

The wheel's bundled fontconfig is older than most systems' and warns, on every first render of a
process, that the system configuration has an element it does not know (``reset-dirs``). That
one line is dropped (:func:`native_stderr_without_known_noise`); everything else Graphviz or
fontconfig prints still reaches stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import RendererNotFound, RenderError

RENDERERS = ("dot", "pygraphviz")
ENV_VAR = "TINYGRAD_EDU_RENDERER"
#: Formats the renderers write (DOT itself is written without a renderer).
IMAGE_FORMATS = ("svg", "png", "pdf", "jpeg")
VECTOR_FORMATS = ("svg", "pdf")
DEFAULT_TIMEOUT = 60.0

#: Lines that the pygraphviz wheel's bundled (older) fontconfig prints on stderr on every machine
#: with a newer system fontconfig: it reads the system's configuration and does not know the
#: ``<reset-dirs/>`` element of recent versions. Harmless (the fonts are still found) and not
#: actionable by the user, so it is dropped; every other line the libraries print is kept.
KNOWN_NOISE = (re.compile(r'^Fontconfig warning: ".*", line \d+: unknown element "reset-dirs"\s*$'),)

INSTALL_HINT = (
    "install one of them: `pip install pygraphviz` (or `pip install 'tinygrad_edu[render]'`; "
    "its wheels bundle Graphviz, no root needed) or the system package "
    "(`apt-get install graphviz`, `brew install graphviz`). "
    "DOT text still works without them: viz.draw(y).source or viz.render(y, 'y.dot')"
)


def dot_executable() -> str | None:
    """Path of the system ``dot`` program, or None when it is not on PATH."""
    return shutil.which("dot")


def has_pygraphviz() -> bool:
    """Whether ``import pygraphviz`` works (a broken install counts as absent)."""
    try:
        import pygraphviz  # noqa: F401
    except ImportError:
        return False
    return True


def available() -> list[str]:
    """The renderers that work on this machine, in the order ``"auto"`` tries them."""
    found = []
    if dot_executable():
        found.append("dot")
    if has_pygraphviz():
        found.append("pygraphviz")
    return found


def resolve(renderer: str = "auto") -> str:
    """The renderer to use: ``"dot"`` or ``"pygraphviz"``.

    Raises:
        ValueError: ``renderer`` (or the environment variable) names no renderer.
        RendererNotFound: the requested renderer, or for ``"auto"`` every renderer, is missing.
    """
    if renderer not in ("auto",) + RENDERERS:
        raise ValueError(f"renderer must be 'auto', 'dot' or 'pygraphviz', got {renderer!r}")
    source = "renderer argument"
    if renderer == "auto":
        forced = os.environ.get(ENV_VAR, "").strip()
        if forced and forced != "auto":
            if forced not in RENDERERS:
                raise ValueError(
                    f"{ENV_VAR}={forced!r}: expected 'dot', 'pygraphviz' or 'auto' (or leave it unset)"
                )
            renderer, source = forced, f"{ENV_VAR}={forced}"
    if renderer == "dot":
        if dot_executable():
            return "dot"
        raise RendererNotFound(
            f"Graphviz renderer 'dot' requested ({source}) but no `dot` executable is on PATH; "
            "install it with `apt-get install graphviz` (or `brew install graphviz`), or use "
            "renderer='pygraphviz' after `pip install pygraphviz`"
        )
    if renderer == "pygraphviz":
        if has_pygraphviz():
            return "pygraphviz"
        raise RendererNotFound(
            f"Graphviz renderer 'pygraphviz' requested ({source}) but the pygraphviz package is not "
            "importable; install it with `pip install pygraphviz` (or `pip install 'tinygrad_edu[render]'`), "
            "or use renderer='dot' after `apt-get install graphviz`"
        )
    found = available()
    if not found:
        raise RendererNotFound(
            "cannot render: neither the Graphviz `dot` program nor the pygraphviz package is available; "
            + INSTALL_HINT
        )
    return found[0]


def render_bytes(source: str, fmt: str, renderer: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Lay out DOT ``source`` with Graphviz's ``dot`` layout and return the ``fmt`` file's bytes.

    Raises:
        RendererNotFound: no renderer (see :func:`resolve`).
        RenderError: Graphviz failed, or the ``dot`` program ran longer than ``timeout`` s.
    """
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"render: format must be one of {IMAGE_FORMATS}, got {fmt!r}")
    chosen = resolve(renderer)
    # `dpi` only means something for bitmaps; Graphviz 2.x scales SVG content by dpi/72 without
    # scaling its viewBox, which clips the picture in browsers. Vector output is drawn at 72.
    args = ["-Gdpi=72"] if fmt in VECTOR_FORMATS else []
    if chosen == "dot":
        return _run_dot(source, fmt, timeout, args)
    return _run_pygraphviz(source, fmt, args)


def _run_dot(source: str, fmt: str, timeout: float, args: list[str]) -> bytes:
    exe = dot_executable()
    if exe is None:  # vanished since resolve(): report it the same way
        raise RendererNotFound("the `dot` executable disappeared from PATH; " + INSTALL_HINT)
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}", *args], input=source.encode("utf-8"), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"Graphviz `dot` took longer than {timeout:g} s; draw with a smaller max_nodes "
            "(grouping) or pass a larger timeout"
        ) from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz `dot -T{fmt}` failed (exit {done.returncode}): {message}")
    return done.stdout


def _run_pygraphviz(source: str, fmt: str, args: list[str]) -> bytes:
    import pygraphviz

    try:
        with native_stderr_without_known_noise():
            agraph = pygraphviz.AGraph(string=source)
            data = agraph.draw(path=None, format=fmt, prog="dot", args=" ".join(args))
    except (pygraphviz.DotError, ValueError, OSError) as exc:
        raise RenderError(f"pygraphviz failed to render {fmt}: {exc}") from exc
    if not data:
        raise RenderError(f"pygraphviz produced no {fmt} output")
    return bytes(data)


@contextmanager
def native_stderr_without_known_noise() -> Iterator[None]:
    """Run the block with file descriptor 2 sent to a temporary file, then re-emit on
    ``sys.stderr`` every line that is not :data:`KNOWN_NOISE`.

    Graphviz and fontconfig are C libraries inside the pygraphviz wheel: they write to the
    process's stderr directly, past ``sys.stderr``, so only the descriptor can be caught. Real
    warnings and errors (``Warning: using box for unknown shape …``) still reach the user, in
    order, after the call. Where descriptor 2 cannot be redirected (closed, or not a real file)
    the block simply runs as it is.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not _is_known_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _is_known_noise(line: str) -> bool:
    return any(pattern.match(line) for pattern in KNOWN_NOISE)
