"""Torch, imported only when needed, and tensors as numpy arrays.

The engine depends on numpy only; torch is the optional extra ``tinygrad_edu[torch]``. Every
function of the bridge that needs torch calls :func:`require_torch`, so importing
``tinygrad_edu`` never imports torch and a missing torch is one clear error.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..errors import TorchUnavailable

INSTALL = 'pip install "tinygrad_edu[torch]"'


def require_torch() -> Any:
    """The ``torch`` module, or :class:`TorchUnavailable` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise TorchUnavailable(
            f"the PyTorch bridge needs torch, which is not installed: {INSTALL} "
            "(it pins torch==2.13.0, the CPU build; see the README)"
        ) from None
    return torch


def is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (without importing torch if nobody did)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def to_numpy(tensor: Any, copy: bool = True) -> np.ndarray:
    """A tensor's value as numpy (detached; half precisions as float32), a copy by default.

    A copy, because an in-place op may change the tensor later: the picture must show the value
    the op produced, not a later one. ``copy=False`` shares the memory; only for tensors that
    nothing else can reach (the fresh gradients autograd hands a hook, see ``from_torch``).
    """
    torch = require_torch()
    t = tensor.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    array = t.cpu().numpy()
    return array.copy() if copy else array
