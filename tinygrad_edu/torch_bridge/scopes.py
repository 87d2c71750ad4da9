"""Module scopes for a torch graph: which module call created each autograd node.

Our modules stamp every node they create with a dotted scope (``"mlp.layers.3"``) and the
renderer groups by it. Torch records no such thing, so :func:`torch_scopes` watches the model's
calls with forward hooks:

* autograd numbers its nodes as it creates them (``node._sequence_nr()``, one counter per
  thread, increasing), so a module call creates exactly the nodes whose numbers lie between the
  counter's value at its pre-hook and at its post-hook. Calls nest (a block calls its convs), so
  a node belongs to the *innermost* call whose interval contains its number — no graph walk and
  no guessing from reachability, and a node built from a tensor captured outside the call is
  still attributed to where it was created;
* the post-hook also copies each output tensor's value, so the node that produced a module's
  output shows its data (other nodes show "not recorded": torch keeps no forward values).

The counter is read by creating one tiny node on an empty tensor (``_probe``), the only public
way to see it. The counter belongs to a thread: the forward must run in the thread that entered
the block (as it does without ``DataParallel``). When the forward ran outside ``torch_scopes``,
:func:`ownership_scopes` places the parameters and the nodes that use one by which module owns
the parameter.
"""

from __future__ import annotations

import bisect
from collections import deque
from contextlib import contextmanager
from typing import Any

from ..errors import TorchGraphError
from ..modes import Scope
from .convert import require_torch, to_numpy

#: The recordings of the last few ``torch_scopes`` blocks, newest last (read by ``from_torch``).
RECENT: deque = deque(maxlen=4)


class ScopeRecording:
    """What one ``with torch_scopes(model):`` block saw.

    Attributes:
        root: the model's scope name (its class name in lower case unless given).
        calls: ``(start, end, scope)``: the nodes numbered ``start ≤ n < end`` were made by
            ``scope``'s module itself (not by a module it called). The intervals do not overlap:
            a call's own ops are cut into *segments* by the calls it makes, so every number has
            at most one interval. ``scope`` is a :class:`~tinygrad_edu.modes.Scope` (its text
            the module's dotted name, its ``kind`` what :meth:`Graph.layers` calls it), one per
            call, as our modules make — and, in a module that calls others, one per segment:
            the ``relu`` a ResNet's ``forward`` applies between two child calls is then its own
            layer between theirs, not one layer with the ``flatten`` at the end.
        outputs: ``{sequence number: numpy copy of that node's output}`` for module outputs.
    """

    def __init__(self, root: str):
        self.root = root
        self.calls: list[tuple[int, int, Scope]] = []
        self.outputs: dict[int, Any] = {}
        self.first = self.last = -1  # sequence numbers covered by the block
        self._starts: list[int] | None = None

    def covers(self, seq: int) -> bool:
        return self.first <= seq < self.last

    def scope_of(self, seq: int) -> Scope | str:
        """The scope of the module call (segment) that created node number ``seq`` ("" if none)."""
        if self._starts is None:
            self.calls.sort(key=lambda call: call[0])
            self._starts = [start for start, _, _ in self.calls]
        k = bisect.bisect_right(self._starts, seq) - 1
        if k >= 0 and seq < self.calls[k][1]:
            return self.calls[k][2]
        return ""


_LEAF: Any = None


def _probe() -> int:
    """The autograd counter now: the number the next node created will get (about)."""
    global _LEAF
    torch = require_torch()
    if _LEAF is None:
        _LEAF = torch.zeros(0, requires_grad=True)
    with torch.enable_grad():
        probe = (_LEAF * 1.0).grad_fn
    return -1 if probe is None else probe._sequence_nr() + 1  # None under inference_mode: no graph


def module_names(model: Any, root: str) -> dict:
    """``{module: dotted scope}``: the root's name, then ``root.path`` as ``named_modules`` has it."""
    return {module: f"{root}.{path}" if path else root for path, module in model.named_modules()}


def module_kind(module: Any) -> str:
    """What :meth:`Graph.layers` calls a call of ``module``, as for our modules: ``"Linear 8→32"``
    for a linear layer, else the class name (``"Sigmoid"``, ``"Conv2d"``, ``"BatchNorm2d"``)."""
    name = type(module).__name__
    if name == "Linear" and hasattr(module, "in_features"):
        return f"Linear {module.in_features}→{module.out_features}"
    return name


class ModuleScope(Scope):
    """The :class:`Scope` of one torch module call, or of one segment of its own ops.

    ``glue`` is True for the segments of a module that calls others, once its call ends: the
    graph names those layers by the ops they hold (``"ResidualNet add+tanh"``).
    """

    glue: bool = False


def make_scope(text: str, parent: Scope | None, kind: str | None, unit: bool = False) -> ModuleScope:
    """A :class:`Scope` whose text is the module's full dotted name, whoever called it."""
    scope = ModuleScope(text, None, kind, unit)
    scope.name = text.rsplit(".", 1)[-1]
    scope.parent = parent
    return scope


def root_name(model: Any, name: str | None) -> str:
    if name is None:
        return type(model).__name__.lower()
    if not isinstance(name, str) or not name:
        raise TypeError(f"torch_scopes: name must be a non-empty str, got {name!r}")
    return name


@contextmanager
def torch_scopes(model: Any, name: str | None = None, units: Any = ()):
    """Stamp the autograd nodes created inside each module call with the module's dotted name.

    Usage::

        with tinygrad_edu.torch_scopes(model):
            loss = loss_fn(model(x), y)
        graph = tinygrad_edu.from_torch(loss, model)   # grouped by module: one box per block

    Each call is one layer of :meth:`Graph.layers` (the innermost call that made a node), so a
    ``Linear`` and the ``Sigmoid`` after it are two layers, as in our ``nn``.

    Args:
        model: a ``torch.nn.Module``.
        name: the root scope (default: the model's class name in lower case, as our modules do).
        units: module classes whose every call is *one* layer with all it calls inside (a
            ResNet's block class: the picture then has one box per block instead of one per
            convolution, which for a deep net would be more boxes than a drawing holds).

    Yields:
        the :class:`ScopeRecording` (``from_torch`` also finds it by itself).
    """
    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"torch_scopes: expected a torch.nn.Module, got {type(model).__name__}")
    units = tuple(units) if isinstance(units, (tuple, list)) else (units,)
    if not all(isinstance(u, type) and issubclass(u, torch.nn.Module) for u in units):
        raise TypeError(f"torch_scopes: units must be torch.nn.Module classes, got {units!r}")
    recording = ScopeRecording(root_name(model, name))
    names = module_names(model, recording.root)
    open_calls: list[_Call] = []

    def before(module, args):
        now = _probe()
        parent = open_calls[-1] if open_calls else None
        if parent is not None:
            parent.close_segment(recording, now)
        unit = isinstance(module, units)
        scope = make_scope(names[module], parent.scope if parent else None, module_kind(module), unit)
        open_calls.append(_Call(module, scope, now))

    def after(module, args, output):
        # the innermost open call of this module; calls above it raised (their post-hook never
        # ran) and were caught inside the block: they are dropped, not closed here
        while open_calls and open_calls[-1].module is not module:
            open_calls.pop()
        if not open_calls:
            return
        now = _probe()
        open_calls.pop().close_segment(recording, now, last=True)
        if open_calls:
            open_calls[-1].open_segment(now)
        for tensor in _tensors(output):
            if tensor.grad_fn is not None:
                recording.outputs[tensor.grad_fn._sequence_nr()] = to_numpy(tensor)

    handles = []
    for module in names:
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    recording.first = _probe()
    try:
        yield recording
    finally:
        for handle in handles:
            handle.remove()
        recording.last = _probe()
        RECENT.append(recording)


class _Call:
    """One module call in progress: its scope and the segment of its own ops now open."""

    __slots__ = ("module", "scope", "segment", "start", "segments", "called")

    def __init__(self, module: Any, scope: ModuleScope, start: int):
        self.module, self.scope, self.start = module, scope, start
        self.segment = scope  # the first segment is the call's own scope
        self.segments = [scope]
        self.called = False  # has it called another module yet?

    def close_segment(self, recording: ScopeRecording, now: int, last: bool = False) -> None:
        if now > self.start:
            recording.calls.append((self.start, now, self.segment))
        if not last:
            self.called = True
        elif self.called and not self.scope.unit:  # name the segments by what they hold
            for segment in self.segments:
                segment.glue = True

    def open_segment(self, now: int) -> None:
        self.start = now
        if not self.scope.unit:  # a unit stays one layer: all its segments share its scope
            self.segment = make_scope(str(self.scope), self.scope.parent, self.scope.kind)
            self.segments.append(self.segment)


def _tensors(output: Any):
    """The tensors of a module's output: a tensor, or tensors inside tuples/lists/dicts."""
    torch = require_torch()
    stack = [output]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            yield item
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def find_recording(sequence_numbers: list[int], given: Any = None) -> ScopeRecording | None:
    """The recording whose block created these nodes (the given one, or one of the recent ones)."""
    if given is not None:
        if not isinstance(given, ScopeRecording):
            kind = type(given).__name__
            raise TypeError(f"from_torch: scopes must be what torch_scopes yields, got {kind}")
        return given
    numbers = [n for n in sequence_numbers if n >= 0]
    for recording in reversed(RECENT):
        if numbers and any(recording.covers(n) for n in numbers):
            return recording
    return None


def ownership_scopes(model: Any, root: str) -> dict:
    """``{id(parameter): scope of the module that owns it}`` (the fallback without hooks): one
    :class:`Scope` per module, since which call used a parameter is not known then."""
    owners: dict = {}
    for module, text in module_names(model, root).items():
        scope = make_scope(text, None, module_kind(module))
        for parameter in module.parameters(recurse=False):
            owners.setdefault(id(parameter), scope)
    if not owners:
        raise TorchGraphError(
            f"from_torch: the model {type(model).__name__} has no parameters to name or to group by"
        )
    return owners
