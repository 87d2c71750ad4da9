"""The classic vanishing/exploding-gradient experiments, measured with our own engine.

Each experiment is one module with the same small interface:

* ``NAME`` and ``TITLE``;
* ``run(seed=0, quick=False, out=None, progress=None) -> dict``: runs the experiment, writes its
  pictures into the directory ``out`` (when given) and returns the measured numbers as a
  JSON-ready dict ``{"experiment", "seed", "config", "results"}`` (see :mod:`.common`);
* ``table(result) -> str``: the result as the table the command line prints;
* ``RESULT_KEYS``: the keys of ``result["results"]``, documented in the module docstring.

``quick=True`` runs a smaller version (seconds, used by the tests) that still shows the effect.

Example::

    >>> from tinygrad_edu import experiments
    >>> experiments.names()  # doctest: +NORMALIZE_WHITESPACE
    ['nielsen', 'glorot', 'he', 'clipping', 'regression', 'classification', 'batchnorm', 'paths',
     'rnn', 'adding', 'edge_of_chaos', 'isometry']
    >>> result = experiments.load("clipping").run(quick=True)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import TinygradEduError

#: name → one-line description, in the order of the curriculum.
REGISTRY: dict[str, str] = {
    "nielsen": "Nielsen ch. 5: deep sigmoid nets, the first hidden layer learns slowest",
    "glorot": "Glorot & Bengio 2010: standard vs normalised init in a 5-layer tanh net",
    "he": "He et al. 2015: a 30-layer ReLU net trains with He init and stalls with Xavier",
    "clipping": "Pascanu et al. 2013: ‖∂x_T/∂x_0‖ = ρ^T, and norm clipping stops a divergence",
    "regression": "fit a noisy curve, with gradient health during training",
    "classification": "two spirals, with gradient health during training",
    "batchnorm": "Yang et al. 2019: BatchNorm explodes gradients at init, ≈ ×1.21 per ReLU layer",
    "paths": "Veit et al. 2016: a deep residual net's gradient comes from short paths (counted exactly)",
    "rnn": "Pascanu et al. 2013 through time: ‖∂h_T/∂h_0‖ of a tanh RNN against (γλ₁)^T; RNN/LSTM/GRU",
    "adding": "Hochreiter & Schmidhuber 1997: the adding problem: RNN at the baseline, LSTM/GRU solve it",
    "edge_of_chaos": "Schoenholz et al. 2017: random tanh nets vanish or explode either side of χ₁ = 1",
    "isometry": "Pennington et al. 2017: orthogonal tanh nets at criticality keep the Jacobian an isometry",
}


class UnknownExperiment(TinygradEduError, ValueError):
    """An experiment name that is not in :data:`REGISTRY` (the message lists the known ones)."""


def names() -> list[str]:
    """The experiment names, in curriculum order."""
    return list(REGISTRY)


def load(name: str) -> ModuleType:
    """The module of experiment ``name`` (imported on first use: some need scikit-learn)."""
    if name not in REGISTRY:
        raise UnknownExperiment(f"unknown experiment {name!r}; known experiments: {', '.join(REGISTRY)}")
    return importlib.import_module(f"{__name__}.{name}")


def run(name: str, **options) -> dict:
    """``load(name).run(**options)``."""
    return load(name).run(**options)
