"""``Module.save`` / ``Module.load``: a state dict as an ``.npz`` file, and nothing else.

The file is numpy's own ``.npz`` format — a zip archive with one ``NAME.npy`` member per
parameter — so ``np.load(path)`` reads it too. It is written here member by member rather than
with ``np.savez(path, **state)``: that passes parameter names as keyword arguments, so a
parameter called ``file`` collides with ``savez``'s own argument and one called
``allow_pickle`` is swallowed by it. Any parameter name round-trips.

The path rule is numpy's: ``save("w")`` writes ``w.npz`` (the suffix is added when missing),
and ``load("w")`` reads ``w.npz`` — the file ``save("w")`` wrote — falling back to a file
called exactly ``w``. The file is written to a temporary name next to it and moved into place,
so a failed save never leaves a half-written file.

Loading reads and checks *everything* before the model is touched; every problem is a
:class:`~tinygrad_edu.errors.LoadError` that names the file and what is wrong with it: empty,
not a zip archive (a text file, a pickle, a single ``.npy`` array — each recognised by its first
bytes and named), truncated, a member whose CRC does not match, a member that is not an array
or holds Python objects, or weights that are nan/inf. Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LoadError, OutputPathError
from ..outputs import write_atomically

__all__ = ["SUFFIX", "state_path", "save_state", "load_state"]

SUFFIX = ".npz"
MEMBER_SUFFIX = ".npy"
#: First bytes of the file kinds a user may hand ``load`` by mistake, and what to call them.
_SIGNATURES = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\x93NUMPY", "a single numpy array (.npy), not a saved state (.npz)"),
    (b"\x80", "a pickle (pickles can run code and are never loaded)"),
)


def state_path(path: Any, who: str) -> Path:
    """``path`` with ``.npz`` added when it does not end in it (numpy's rule, so ``save("w")``
    and ``load("w")`` mean the same file)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.name in ("", ".", "..") or path.name.endswith(SUFFIX):  # a folder stays a folder
        return path
    return path.with_name(path.name + SUFFIX)


def save_state(state: dict[str, np.ndarray], path: Any) -> Path:
    """Write ``state`` to ``path`` (``.npz`` added when missing); returns the path written.

    Raises:
        OutputPathError: the folder does not exist, the path is a folder, or the file cannot
            be written (the message names the path, never the temporary file).
    """
    target = state_path(path, "save")
    if target.is_dir():
        raise OutputPathError(f"save: {str(target)!r} is a folder, not a file name")
    if not target.parent.is_dir():
        raise OutputPathError(f"save: the folder {str(target.parent)!r} of {str(target)!r} does not exist")

    def write(fh: Any) -> None:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
            for name, array in state.items():
                with archive.open(name + MEMBER_SUFFIX, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    write_atomically(target, write, "save")
    return target


def load_state(path: Any, allow_nonfinite: bool = False) -> tuple[dict[str, np.ndarray], Path]:
    """Read a file written by :func:`save_state`: ``({name: array}, the path read)``.

    Raises:
        FileNotFoundError: neither ``path.npz`` nor ``path`` exists.
        LoadError: the file is not a saved state, is damaged, or (unless ``allow_nonfinite``)
            holds nan/inf weights.
    """
    if not isinstance(allow_nonfinite, bool):
        raise TypeError(f"load: allow_nonfinite must be True or False, got {allow_nonfinite!r}")
    target = _existing(path)
    shown = repr(str(target))
    with open(target, "rb") as fh:
        data = fh.read()
    kind = _kind(data)
    if kind != "zip":
        raise LoadError(f"load: {shown} is not a saved state: it is {kind}", str(target))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            state: dict[str, np.ndarray] = {}
            for info in archive.infolist():
                key = _key(info.filename, shown, target)
                if key in state:  # a zip may hold one name twice; which one is meant is unknowable
                    raise LoadError(f"load: {shown}: the entry {key!r} appears twice", str(target))
                state[key] = _read(archive, info, shown, target)
    except zipfile.BadZipFile as error:
        raise LoadError(
            f"load: {shown} is damaged (truncated or corrupt): its zip directory cannot be read ({error})",
            str(target),
        ) from None
    if not allow_nonfinite:
        _refuse_nonfinite(state, shown, target)
    return state, target


def _existing(path: Any) -> Path:
    target = state_path(path, "load")
    if target.is_file():
        return target
    literal = Path(path)
    if literal != target and literal.is_file():
        return literal
    if target.is_dir() or literal.is_dir():
        raise LoadError(f"load: {str(literal)!r} is a folder, not a saved state", str(literal))
    tried = f"{str(target)!r}" + (f" or {str(literal)!r}" if literal != target else "")
    raise FileNotFoundError(f"load: no saved state at {tried}")


def _kind(data: bytes) -> str:
    """ "zip", or what the file is instead, from its first bytes."""
    if not data:
        return "an empty file (0 bytes)"
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    head = data[:512]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return f"not a numpy .npz archive (it starts with the bytes {data[:8]!r})"
    return f"a text file, not a numpy .npz archive (it starts with {head[:24].decode('utf-8')!r})"


def _key(member: str, shown: str, target: Path) -> str:
    if not member.endswith(MEMBER_SUFFIX):
        raise LoadError(
            f"load: {shown} is a zip archive but not a saved state: member {member!r} is not a "
            f"{MEMBER_SUFFIX} array",
            str(target),
        )
    return member[: -len(MEMBER_SUFFIX)]


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, target: Path) -> np.ndarray:
    """One member as an array; a bad CRC, a truncated member or pickled objects are LoadErrors."""
    name = info.filename[: -len(MEMBER_SUFFIX)]
    try:
        with archive.open(info) as member:
            raw = member.read()  # checks the CRC at the end
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except zipfile.BadZipFile as error:
        problem = f"damaged ({error})"
    except (ValueError, EOFError, OSError) as error:
        problem = f"not a plain numeric array ({error})"
    raise LoadError(f"load: {shown}: the entry {name!r} is {problem}", str(target))


def _refuse_nonfinite(state: dict[str, np.ndarray], shown: str, target: Path) -> None:
    """nan/inf weights are reported, not loaded silently (``allow_nonfinite=True`` loads them)."""
    for name, array in state.items():
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating)):
            continue
        bad = ~np.isfinite(array)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
            raise LoadError(
                f"load: {shown}: {name!r} holds {int(bad.sum())} nan/inf value(s) of {array.size} "
                f"(the first, at index {where}, is {array[where]}); nothing was loaded — pass "
                "allow_nonfinite=True to load them anyway (e.g. to inspect a diverged run)",
                str(target),
            )
