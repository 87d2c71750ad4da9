"""What every experiment shares: the result schema, progress messages, tables and output files.

The result of every experiment's ``run()`` is a JSON-ready dict with exactly four keys::

    {
      "experiment": "nielsen",          # the name, as in ``tinygrad-edu experiment NAME``
      "seed": 0,                        # the seed everything random was drawn from
      "config": {...},                  # the settings (sizes, learning rate, epochs, quick ...)
      "results": {...}                  # the measured numbers; keys listed in RESULT_KEYS
    }

Values are numbers, strings, booleans, lists and dicts only. A non-finite measurement (a loss
that diverged to NaN, an overflowed norm) is written as ``null``: JSON has no NaN.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..outputs import output_folder

Progress = Callable[[str], None]

TOP_LEVEL_KEYS = ("experiment", "seed", "config", "results")


def make_result(name: str, seed: int, config: Mapping[str, Any], results: Mapping[str, Any]) -> dict:
    """The JSON-ready result dict of an experiment (numpy numbers → Python, NaN/inf → None)."""
    return {"experiment": name, "seed": int(seed), "config": jsonable(config), "results": jsonable(results)}


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python numbers/lists and NaN/inf into None."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot put {type(value).__name__} into an experiment result")


def validate(result: Any, result_keys: Iterable[str] | None = None) -> None:
    """Check ``result`` against the schema above; raise ``ValueError`` saying what is wrong."""
    if not isinstance(result, dict):
        raise ValueError(f"an experiment result is a dict, got {type(result).__name__}")
    if tuple(result) != TOP_LEVEL_KEYS:
        raise ValueError(f"result keys must be {TOP_LEVEL_KEYS}, got {tuple(result)}")
    if not isinstance(result["experiment"], str):
        raise ValueError("result['experiment'] must be a str")
    if isinstance(result["seed"], bool) or not isinstance(result["seed"], int):
        raise ValueError("result['seed'] must be an int")
    for part in ("config", "results"):
        if not isinstance(result[part], dict):
            raise ValueError(f"result[{part!r}] must be a dict")
    if result_keys is not None and set(result["results"]) != set(result_keys):
        raise ValueError(f"results keys {sorted(result['results'])} differ from {sorted(result_keys)}")
    _check_leaves(result, "result")


def _check_leaves(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a str")
            _check_leaves(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_leaves(item, f"{where}[{index}]")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}; non-finite numbers are written as null")
    elif not (value is None or isinstance(value, (str, int, bool))):
        raise ValueError(f"{where} has type {type(value).__name__}")


# --- progress -------------------------------------------------------------------------


def say(progress: Progress | None, message: str) -> None:
    """Send a progress message (the command line prints them on stderr)."""
    if progress is not None:
        progress(message)


def stderr_progress(prefix: str) -> Progress:
    """A progress callback that prints ``[prefix] message`` on stderr."""
    return _StderrProgress(prefix)


class _StderrProgress:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self, message: str) -> None:
        print(f"[{self.prefix}] {message}", file=sys.stderr, flush=True)


# --- tables ---------------------------------------------------------------------------


def number(value: Any, digits: int = 3) -> str:
    """A measured number for a table: 3 significant digits, ``nan`` for None."""
    if value is None:
        return "nan"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def describe_sizes(sizes: Sequence[int]) -> str:
    """Layer widths with repeats collapsed: ``[1, 32, 32, 32, 1]`` → ``"1-32×3-1"``."""
    parts: list[str] = []
    index = 0
    while index < len(sizes):
        run = 1
        while index + run < len(sizes) and sizes[index + run] == sizes[index]:
            run += 1
        parts.append(f"{sizes[index]}×{run}" if run > 1 else str(sizes[index]))
        index += run
    return "-".join(parts)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> str:
    """An aligned text table: text left-aligned, numbers right-aligned; optionally under a title."""
    # text left-aligned; numbers (and "—", a number that does not exist) right-aligned
    body = [[(c, c == "—") if isinstance(c, str) else (number(c), True) for c in row] for row in rows]
    header = [str(h) for h in headers]
    widths = [max([len(header[i])] + [len(row[i][0]) for row in body]) for i in range(len(header))]
    lines = [title] if title else []
    lines.append("  ".join(cell.ljust(width) for cell, width in zip(header, widths)).rstrip())
    lines.append("  ".join("-" * width for width in widths))
    for row in body:
        cells = [text.rjust(w) if numeric else text.ljust(w) for (text, numeric), w in zip(row, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --- speed -----------------------------------------------------------------------------


@contextmanager
def small_matrices() -> Iterator[None]:
    """Run numpy's BLAS on one thread while an experiment runs.

    The experiments multiply small matrices (≤ 500 wide) thousands of times; for those, a
    multi-threaded BLAS spends more time waking threads than computing (several times slower
    on a busy 2-core machine). Uses ``threadpoolctl`` (installed with scikit-learn) if present.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - only a speed difference
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# --- files ----------------------------------------------------------------------------


def output_dir(out: str | os.PathLike | None) -> Path | None:
    """``out`` as a created, writable directory (None stays None: no pictures).

    Raises:
        OutputPathError: ``out`` is a file, or cannot be created or written to
            (:func:`tinygrad_edu.outputs.output_folder`).
    """
    if out is None:
        return None
    return output_folder(out, who="out")


def run_experiment(
    measure: Callable[..., Any],
    pictures: Callable[..., Any],
    seed: int,
    quick: bool,
    out: str | os.PathLike | None,
    progress: Progress | None,
) -> dict[str, Any]:
    """The body of every experiment's ``run()``: measure, then draw the pictures into ``out``.

    ``measure(seed, quick, progress)`` returns the result dict, or a tuple ``(result, *extras)``
    when the pictures need more than the JSON-ready numbers (trained nets, monitors …);
    ``pictures(result, *extras, folder)`` draws them. Both run with one-threaded BLAS
    (:func:`small_matrices`). With ``out=None`` nothing is drawn. Returns the result dict.
    """
    folder = output_dir(out)  # an unwritable folder is reported before the long work
    with small_matrices():
        measured = measure(seed, quick, progress)
        result, extras = (measured[0], measured[1:]) if isinstance(measured, tuple) else (measured, ())
        if folder is not None:
            pictures(result, *extras, folder)
    return result


def rng(seed: int) -> np.random.Generator:
    """The experiment's random generator (numpy PCG64, so results are reproducible)."""
    return np.random.default_rng(seed)


def median(values: Iterable[float]) -> float:
    return float(np.median(np.asarray(list(values), dtype=np.float64)))
