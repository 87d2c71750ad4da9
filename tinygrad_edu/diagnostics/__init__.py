"""Gradient diagnostics: measure every layer, then name the problem — vanishing, exploding or healthy.

Backprop multiplies, layer after layer, by the weights and by the activation's derivative. When
that product shrinks, the layers near the input get almost no gradient and stop learning
(**vanishing**); when it grows, gradients and weights blow up, the loss jumps or turns NaN
(**exploding**). This module measures the product where it shows:

* per layer (a module that owns a ``weight``, e.g. :class:`~tinygrad_edu.nn.Linear`):
  ‖∂L/∂W‖, ‖W‖, ‖∂L/∂output‖ (the layer's δ), ‖∂L/∂activation‖ of the activation that
  follows it, the update ratio ‖ΔW‖/‖W‖ of the last optimiser step, the fraction of saturated
  sigmoid/tanh units and of dead ReLUs, and how many numbers are nan/inf;
* per step: the loss, the total gradient norm and the total weight norm.

A quantity that could not be measured (no gradient yet, no activation after the layer, no
optimiser step yet) is ``None``; one whose numbers are nan is ``nan``.

:class:`GradientMonitor` records these every training step; :func:`diagnose` does it once,
after a single ``backward()``. Both return a :class:`Diagnosis` with a ``verdict``, the
``evidence`` (numbers per layer, ratios, and the findings that crossed a threshold) and
``suggestions``. The thresholds are the module constants below.

Where the numbers come from: modules remember the output of their last call
(``module.last_output``), and after ``backward()`` every node of the graph holds its gradient,
so ∂L/∂activation is simply ``activation_module.last_output.grad``. Only calls made with
gradients enabled are remembered: run evaluation under ``no_grad()`` so that it does not
replace the training forward pass the diagnostics read.

The verdict, first rule that applies:

1. any nan/inf in the loss, the gradients or the weights → **exploding**;
2. ‖∂L/∂W‖ or ‖∂L/∂output‖ of the first layer over that of the last layer
   > :data:`EXPLODING_RATIO` → **exploding** (gradients grow toward the input);
3. a loss jump: ``loss[t] > LOSS_JUMP_FACTOR · loss[t−1]`` and above the first loss → **exploding**;
4. that first/last ratio < :data:`VANISHING_RATIO`, or the first layer's update ratio over the
   last layer's < :data:`VANISHING_RATIO` → **vanishing** (lower layers barely move); and its
   limit, where no ratio can be formed: every layer's ‖∂L/∂W‖ exactly 0 → **vanishing** (no
   gradient reaches any weight), unless the loss is exactly 0 too (then a note: nothing to fit);
5. a gradient larger than :data:`GRAD_TO_WEIGHT_HIGH` × its weights, or an update ratio above
   :data:`UPDATE_RATIO_HIGH` → **exploding** (steps bigger than the weights themselves);
6. otherwise **healthy**. Saturated or dead units, and update ratios far below 1e-3, are
   reported as notes.

Recurrent modules (``nn.RNN``/``LSTM``/``GRU``) are measured through time as well: ‖∂L/∂h_t‖ for
every step t of the last call (:func:`gradient_over_time`), and rules 2 and 4 apply to the ratio
‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ with the same thresholds (``evidence["through_time"]``); a vanishing
verdict through time suggests an LSTM/GRU and an orthogonal ``W_hh``, an exploding one clipping
and an orthogonal ``W_hh``.

"First" and "last" layer are the layers nearest the input and the output. The monitor's report
takes each per-layer number as the median over the last :data:`RECENT_STEPS` steps (ignoring
nan steps, which rule 1 already reports). An exploding diagnosis suggests a clipping
threshold derived from the observed norms (see :func:`.judge._clip_threshold`).

Example::

    model = nn.MLP([64, 30, 30, 30, 10], activation="sigmoid", init="normal")
    loss = cross_entropy(model(Tensor(X)), y); loss.backward()
    print(diagnose(model, loss=loss))          # verdict: vanishing, with the numbers

The package, in the order the numbers travel:

* :mod:`.measure` — read a model after ``backward()``: one :class:`StepRecord` of
  :class:`LayerStats` per step;
* :mod:`.judge` — the rules above: thresholds → findings (:class:`Finding`) → verdict → suggestions;
* :mod:`.predict` — for a plain MLP, what mean-field theory (:mod:`tinygrad_edu.theory`)
  predicts from the weights' own σ_w² = fan_in·mean(W²): χ₁, the gain per layer, and
  ‖∂L/∂out‖ of every layer (``diagnosis.theory``; the report prints it as a "Theory:" line);
* :mod:`.report` — the data types and the text of a :class:`Diagnosis`;
* :mod:`.monitor` — the entry points :class:`GradientMonitor` and :func:`diagnose`;
* :mod:`.paths` — :func:`path_lengths`: a residual net's gradient split exactly by path length;
* :mod:`.through_time` — ‖∂L/∂h_t‖ per time step of recurrent modules.
"""

from __future__ import annotations

__all__ = [
    "GradientMonitor",
    "diagnose",
    "gradient_over_time",
    "through_time_ratio",
    "Diagnosis",
    "Finding",
    "LayerStats",
    "StepRecord",
    "VERDICTS",
    "VANISHING_RATIO",
    "EXPLODING_RATIO",
    "LOSS_JUMP_FACTOR",
    "GRAD_TO_WEIGHT_HIGH",
    "UPDATE_RATIO_HIGH",
    "UPDATE_RATIO_LOW",
    "SATURATION_DERIVATIVE",
    "SATURATED_UNITS_HIGH",
    "DEAD_UNITS_HIGH",
    "RECENT_STEPS",
    "path_lengths",
    "PathLengths",
]

VERDICTS = ("vanishing", "exploding", "healthy")

#: First-layer / last-layer gradient norm below this → vanishing. Each sigmoid layer multiplies
#: the gradient by at most 1/4 times the weights, so a few small-init layers go far below it.
VANISHING_RATIO = 1e-2
#: First-layer / last-layer gradient norm above this → exploding (gradients grow toward the input).
EXPLODING_RATIO = 1e2
#: ``loss[t] > LOSS_JUMP_FACTOR · loss[t−1]`` (and above the first loss) counts as a loss jump.
LOSS_JUMP_FACTOR = 10.0
#: ‖∂L/∂W‖ / ‖W‖ above this in any layer → exploding: a plain SGD step with lr = 0.1 would
#: change the weights by more than their own size.
GRAD_TO_WEIGHT_HIGH = 10.0
#: ‖ΔW‖ / ‖W‖ of one step above this → exploding (the step rewrote the weights).
UPDATE_RATIO_HIGH = 1.0
#: ‖ΔW‖ / ‖W‖ below this is noted as "barely moves" (a healthy ratio is about 1e-3).
UPDATE_RATIO_LOW = 1e-5
#: A sigmoid/tanh unit counts as saturated when its local derivative is below this fraction of
#: the derivative's maximum: σ' < 0.05 · 1/4 (|x| > 4.4) or tanh' < 0.05 · 1 (|x| > 2.2).
SATURATION_DERIVATIVE = 0.05
#: A note is raised when more than this fraction of a layer's units is saturated.
SATURATED_UNITS_HIGH = 0.5
#: A note is raised when more than this fraction of a layer's ReLUs is dead (0 for the whole batch).
DEAD_UNITS_HIGH = 0.5
#: The monitor's report judges ratios on the median of the last this-many recorded steps.
RECENT_STEPS = 10

# The submodules read the constants above through this package when they run
# (``diagnostics.VANISHING_RATIO``), so that changing one here changes the verdict; they are
# imported after the constants because ``judge`` takes RECENT_STEPS as a default argument.
from .judge import MEDIAN_KEYS as MEDIAN_KEYS  # noqa: E402  (public, though not in __all__)
from .monitor import GradientMonitor, diagnose  # noqa: E402
from .paths import PathLengths, path_lengths  # noqa: E402
from .report import Diagnosis, Finding, LayerStats, StepRecord  # noqa: E402
from .through_time import gradient_over_time, through_time_ratio  # noqa: E402
