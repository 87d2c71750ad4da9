"""Small data sets for the experiments: no download, deterministic.

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797 images, shipped inside
  the package), pixels scaled from 0..16 to [0, 1];
* :func:`moons`, :func:`spirals`, :func:`noisy_curve` — generated with numpy from a seed.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = _read_bundled_digits()
    images = images / 16.0  # 0..16 grey levels → [0, 1]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _read_bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``).

    Read directly with numpy when it is where scikit-learn keeps it: importing scikit-learn
    itself takes seconds (it loads scipy). Otherwise ask ``sklearn.datasets.load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
            if path.is_file():
                table = np.loadtxt(path, delimiter=",")
                if table.shape == (1797, 65):
                    return table[:, :64].astype(np.float64), table[:, 64].astype(np.int64)
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - the "data" extra is part of the set-up
        raise ImportError(
            "the digits experiments need scikit-learn's bundled digits: pip install 'tinygrad_edu[data]' "
            "(make demo / make test install it)"
        ) from error
    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def digits(count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` digits (all 1797 when None): ``X`` of shape (n, 64) in [0, 1], labels ``y``."""
    images, labels = _load_digits()
    if count is not None:
        images, labels = images[:count], labels[:count]
    return images.copy(), labels.copy()


def digits_split(train: int, test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first ``train`` digits for training and the next ``test`` for testing."""
    images, labels = digits(train + test)
    return images[:train], labels[:train], images[train:], labels[train:]


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Rows of zeros with a 1 at each label (for per-output losses)."""
    out = np.zeros((len(labels), classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles (class 0 on top, class 1 below), with Gaussian noise."""
    half = n // 2
    angles_top = rng.uniform(0.0, np.pi, n - half)
    angles_bottom = rng.uniform(0.0, np.pi, half)
    top = np.stack([np.cos(angles_top), np.sin(angles_top)], axis=1)
    bottom = np.stack([1.0 - np.cos(angles_bottom), 0.5 - np.sin(angles_bottom)], axis=1)
    X = np.concatenate([top, bottom]) + rng.normal(0.0, noise, (n, 2))
    y = np.concatenate([np.zeros(n - half, np.int64), np.ones(half, np.int64)])
    return X, y


def spirals(
    n: int, noise: float, rng: np.random.Generator, turns: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals (a classic that a linear model cannot separate), coordinates in ≈ [−1, 1]."""
    half = n // 2
    t = np.sqrt(rng.uniform(0.0, 1.0, n)) * turns * 2 * np.pi  # sqrt: even density along the arm
    radius = t / (turns * 2 * np.pi)
    labels = np.concatenate([np.zeros(n - half, np.int64), np.ones(half, np.int64)])
    angle = t + np.pi * labels
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    X = X + rng.normal(0.0, noise, (n, 2))
    return X, labels


def noisy_curve(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points of :func:`curve` at random ``x ∈ [−1, 1]`` plus Gaussian noise.

    Returns ``(x, y, clean)`` as column vectors of shape (n, 1), sorted by x.
    """
    x = np.sort(rng.uniform(-1.0, 1.0, n))[:, None]
    clean = curve(x)
    return x, clean + rng.normal(0.0, noise, (n, 1)), clean


def curve(x: np.ndarray) -> np.ndarray:
    """The target of the regression experiment: a damped sine, ``sin(3x)·e^{−x²} + x/2``."""
    return np.sin(3.0 * x) * np.exp(-(x**2)) + 0.5 * x
