"""tinygrad_edu: reverse-mode autodiff where every chain-rule product is visible data.

Scalar graphs (:class:`Value`), numpy tensor graphs (:class:`Tensor`), the explicit graph
(:func:`trace`), and the modes that change recording (:func:`no_grad`, :func:`detect_anomaly`,
:func:`name_scope`). The engine depends on numpy only; pictures live in the separate ``viz``.
"""

from . import theory  # numpy only: mean-field predictions of every layer's gradient gain
from .errors import (
    AnomalyError,
    GradError,
    LoadError,
    OpError,
    OutputNameError,
    OutputPathError,
    PathLimitError,
    ShapeError,
    TinygradEduError,
)
from .graph import Edge, Graph, Path, Step, backward, topological_order, trace, zero_grad
from .losses import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .modes import detect_anomaly, enable_grad, is_grad_enabled, name_scope, no_grad
from .ops import apply, op
from .rules import RULES
from .scalar import Value
from .tensor import Tensor, concatenate, from_numpy, stack
from .torch_bridge import from_torch, torch_scopes  # torch itself is imported only when used

__version__ = "0.1.0"

__all__ = [
    "Value",
    "Tensor",
    "concatenate",
    "from_numpy",
    "stack",
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "trace",
    "Graph",
    "Edge",
    "Step",
    "Path",
    "backward",
    "zero_grad",
    "topological_order",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "name_scope",
    "RULES",
    "op",
    "apply",
    "TinygradEduError",
    "ShapeError",
    "GradError",
    "AnomalyError",
    "OpError",
    "PathLimitError",
    "LoadError",
    "OutputPathError",
    "OutputNameError",
    "theory",
    "from_torch",
    "torch_scopes",
]
