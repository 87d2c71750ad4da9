"""The PyTorch bridge: a torch backward graph drawn and diagnosed like our own graphs.

::

    with tinygrad_edu.torch_scopes(model):          # optional: group by module call
        loss = loss_fn(model(x), y)
    graph = tinygrad_edu.from_torch(loss, model)    # runs loss.backward() with hooks
    viz.render(graph, "model.svg")                  # every edge: gradient, gain

Torch is imported only when one of these functions runs (the extra ``tinygrad_edu[torch]``).

Modules: :mod:`.nodes` (the node and edge-local adapters), :mod:`.trace` (``from_torch``),
:mod:`.scopes` (``torch_scopes``: which module call created each node), :mod:`.convert`
(importing torch, tensors as numpy), :mod:`.diagnose` (the diagnostics' measurements, read
from a torch model).
"""

from .convert import INSTALL, is_torch_module, require_torch
from .nodes import ELEMENTWISE_OPS, RecordedLocal, TorchNode, op_name
from .scopes import ScopeRecording, torch_scopes
from .trace import from_torch

__all__ = [
    "from_torch",
    "torch_scopes",
    "TorchNode",
    "RecordedLocal",
    "ScopeRecording",
    "op_name",
    "ELEMENTWISE_OPS",
    "require_torch",
    "is_torch_module",
    "INSTALL",
]
