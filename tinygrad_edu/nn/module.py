"""``Module``: a named tree of parameters and sub-modules; ``Parameter``; ``Sequential``, ``ModuleList``.

A module knows its parameters (attributes that are :class:`Parameter`), its buffers (state
that is saved but not trained, such as BatchNorm's running mean: :meth:`Module.register_buffer`)
and its children (attributes that are :class:`Module`) by the attribute name they were assigned
to, as in PyTorch. Those names flow into the graph: calling a module runs ``forward`` inside
``name_scope(<its name>)``, so every node created inside carries a dotted scope such as
``"mlp.layers.3"`` and the renderer can draw one box per layer. The root's name is its class
name in lower case (``MLP`` → ``"mlp"``) unless given; a child's name is its attribute name
(``layers``) or its index in a container (``3``).

Parameters are stored as plain attributes too, so a debugger shows ``layer.weight`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..modes import current_scope, is_grad_enabled, name_scope
from ..tensor import Tensor
from .state_file import load_state, save_state

__all__ = ["Parameter", "Module", "Sequential", "ModuleList"]


class Parameter(Tensor):
    """A :class:`~tinygrad_edu.Tensor` that a module trains: ``requires_grad=True`` by default.

    It *is* a Tensor (``isinstance(p, Tensor)``), so every op treats it as one; only modules
    look at the difference (assigning a Parameter to a module attribute registers it). The
    data is copied, so the parameter owns its numbers.
    """

    def __init__(self, data: Any, requires_grad: bool = True, label: str = ""):
        super().__init__(data, requires_grad=requires_grad, label=label)

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}{label})"


def _is_parameter_like(value: Any) -> bool:
    """A Parameter, a Tensor, or a scalar Value (the scalar nets register Values)."""
    return hasattr(value, "data") and hasattr(value, "grad") and hasattr(value, "parents")


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, assign parameters and sub-modules as
    attributes, and define ``forward``. Call the module (``model(x)``), not ``forward``: the
    call adds the name scope and remembers the output (``last_output``, read by the
    diagnostics to find ∂L/∂activation after ``backward()``).

    Args:
        name: the name of this module when it is the root (default: class name, lower case).
            As a child it is named by the attribute or index it is stored under.
    """

    # The slots __init__ fills with object.__setattr__ (past the registering __setattr__).
    _parameters: dict[str, Any]
    _buffers: dict[str, Any]
    _non_persistent: set[str]
    _modules: dict[str, Module]
    _name: str
    training: bool
    last_output: Any

    def __init__(self, name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"{type(self).__name__}: name must be a non-empty str, got {name!r}")
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_name", name or type(self).__name__.lower())
        object.__setattr__(self, "training", True)
        #: The output of the last call made with gradients enabled (a reference, no copy).
        object.__setattr__(self, "last_output", None)

    # --- registration -----------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)) and "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        registered = "_parameters" in self.__dict__  # __init__ ran: the four registries exist
        if registered and name in self._buffers and not isinstance(value, (Parameter, Module)):
            self._buffers[name] = self._buffer_value(name, value)  # a buffer stays a buffer (PyTorch)
            object.__setattr__(self, name, self._buffers[name])
            return
        if registered:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
            self._buffers.pop(name, None)  # a Parameter or Module assigned over a buffer replaces it
            self._non_persistent.discard(name)
        if isinstance(value, Parameter):
            self._register_parameter(name, value)
        elif isinstance(value, Module):
            self._modules[name] = value  # registered: checked above
            object.__setattr__(value, "_name", name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent.discard(name)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register state that is saved but not trained, e.g. BatchNorm's ``running_mean``.

        As in PyTorch: a buffer is a :class:`~tinygrad_edu.Tensor` without gradient (an array is
        wrapped, its dtype kept, so ``num_batches_tracked`` stays an int64), reachable as an
        attribute, listed by :meth:`named_buffers`, and written by :meth:`state_dict` (unless
        ``persistent=False``) after the module's parameters. ``None`` registers the name without
        a value (PyTorch's ``track_running_stats=False``): it is then left out of the state.
        Assigning to the attribute later replaces the buffer's value.
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: name must be a non-empty str without dots, got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or a module of {self._name!r}")
        if not isinstance(persistent, bool):
            raise TypeError(f"register_buffer: persistent must be a bool, got {persistent!r}")
        value = self._buffer_value(name, tensor)
        self._buffers[name] = value
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, value)

    def _buffer_value(self, name: str, tensor: Any) -> Tensor | None:
        if tensor is None:
            return None
        if isinstance(tensor, Parameter):
            raise TypeError(f"register_buffer: {name!r} is a Parameter; buffers are not trained")
        data = tensor.data if isinstance(tensor, Tensor) else tensor
        array = np.asarray(data)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"register_buffer: {name!r} must hold numbers, got dtype {array.dtype}")
        buffer = Tensor(np.array(array, copy=True))
        buffer.data = np.array(array, copy=True)  # keep the dtype (Tensor() makes ints float64)
        buffer.label = name
        return buffer

    def register_parameter(self, name: str, value: Any) -> None:
        """Register ``value`` (a Parameter, a Tensor or a scalar Value) under ``name``.

        Assigning a :class:`Parameter` attribute does this automatically; use it for
        Values (the scalar nets) or for names that are not identifiers (``"w0"``).
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_parameter: name must be a non-empty str without dots, got {name!r}")
        if not _is_parameter_like(value):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter, Tensor or Value")
        self._modules.pop(name, None)
        self._register_parameter(name, value)
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` as a child called ``name`` (containers use "0", "1", ...)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"add_module: name must be a non-empty str without dots, got {name!r}")
        self._parameters.pop(name, None)
        self._modules[name] = module
        object.__setattr__(module, "_name", name)

    def _register_parameter(self, name: str, value: Any) -> None:
        self._parameters[name] = value
        if not value.label:
            value.label = name  # what pictures and chain-rule text call it

    @property
    def name(self) -> str:
        """The scope this module stamps on nodes (its attribute name once it is a child)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise TypeError(f"name must be a non-empty str, got {value!r}")
        object.__setattr__(self, "_name", value)

    # --- calling ----------------------------------------------------------------------

    #: True when the whole call is one layer of :meth:`Graph.layers`, whatever it calls inside
    #: (the scalar ``nn.scalar.Layer``: one layer, one sub-scope per neuron).
    one_layer = False

    def layer_kind(self) -> str:
        """What :meth:`Graph.layers` calls a call of this module: ``"Linear 2→16"``, ``"Sigmoid"``.

        The class name by default; layers with sizes add them.
        """
        return type(self).__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with name_scope(self._name, kind=self.layer_kind(), unit=self.one_layer):
            scope = current_scope()
            for param in self._parameters.values():
                param.scope = scope  # leaves are drawn inside the layer that owns them
            output = self.forward(*args, **kwargs)
        if is_grad_enabled():
            object.__setattr__(self, "last_output", output)
        return output

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # --- the tree ---------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> list[Module]:
        return list(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``, "" for the root) and every descendant, depth first."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m) for child, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> list[Module]:
        return [module for _, module in self.named_modules()]

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> list[tuple[str, Any]]:
        """``[("layers.0.weight", p), ...]`` in definition order; shared parameters once.

        ``recurse=False`` (as in PyTorch): only this module's own parameters, not its children's.
        """
        found: list[tuple[str, Any]] = []
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    found.append((f"{module_name}.{name}" if module_name else name, param))
        return found

    def named_buffers(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """``[("bn.running_mean", buffer), ...]``: every buffer that holds a value."""
        return [
            (f"{module_name}.{name}" if module_name else name, buffer)
            for module_name, module in self.named_modules(prefix)
            for name, buffer in module._buffers.items()
            if buffer is not None
        ]

    def buffers(self) -> list[Tensor]:
        return [buffer for _, buffer in self.named_buffers()]

    def parameters(self, recurse: bool = True) -> list[Any]:
        """Every parameter (a list, so it can be iterated more than once); ``recurse`` as above."""
        return [param for _, param in self.named_parameters(recurse=recurse)]

    def num_parameters(self) -> int:
        """The number of trainable numbers."""
        return int(sum(np.size(p.data) for p in self.parameters()))

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``None`` for tensors, ``0.0`` for Values)."""
        for param in self.parameters():
            param.grad = type(param).NO_GRAD

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and all descendants; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # --- saving and loading -------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{name: copy of its numbers}``: parameters (0-d arrays for scalar Values), then the
        persistent buffers of each module, in PyTorch's order and with its names
        (``layers.1.running_mean``), so a PyTorch state dict converted to numpy loads."""
        return {name: np.array(value.data, copy=True) for name, value in self._state_entries().items()}

    def _state_entries(self) -> dict[str, Any]:
        """Name → parameter or buffer, module by module (each module: parameters, then buffers)."""
        entries: dict[str, Any] = {}
        seen: set[int] = set()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    entries[prefix + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    entries[prefix + name] = buffer
        return entries

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy numbers from ``state`` into the parameters and persistent buffers.

        Everything is checked before anything is copied: with ``strict=True`` missing or
        unexpected keys raise ``KeyError``; a shape mismatch raises
        :class:`~tinygrad_edu.ShapeError`; non-numeric values raise ``TypeError``. The error
        names every offending key, and the model is left unchanged.
        """
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"load_state_dict: expected a dict of arrays, got {type(state).__name__}")
        params = self._state_entries()
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                f"(the model expects {list(params)}); nothing was loaded"
            )
        staged: list[tuple[Any, np.ndarray]] = []
        bad_shapes = []
        for name, param in params.items():
            if name not in state:
                continue
            try:
                value = np.asarray(state[name])
            except (ValueError, TypeError) as error:  # a ragged nested list
                raise TypeError(
                    f"load_state_dict: {name!r} is not an array of numbers ({error}); nothing was loaded"
                ) from None
            if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
                raise TypeError(
                    f"load_state_dict: {name!r} holds non-numeric data (dtype {value.dtype}); "
                    "nothing was loaded"
                )
            if value.shape != np.shape(param.data):
                bad_shapes.append(f"{name!r}: model {np.shape(param.data)} vs state {value.shape}")
            staged.append((param, value))
        if bad_shapes:
            raise ShapeError(
                f"load_state_dict: shape mismatch for {'; '.join(bad_shapes)}; nothing was loaded"
            )
        for param, value in staged:
            if isinstance(param.data, np.ndarray):
                param.data = np.array(value, dtype=param.data.dtype, copy=True)
            else:
                param.data = float(value)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`state_dict` to ``path`` as ``.npz`` (numpy's format, no pickle).

        ``.npz`` is added when ``path`` does not end in it (as numpy does), and :meth:`load`
        applies the same rule, so ``model.save("w")`` then ``model.load("w")`` round-trips.
        Every parameter name round-trips. Returns the path written.

        Raises:
            OutputPathError: the file cannot be written (names the path).
        """
        return save_state(self.state_dict(), path)

    def load(self, path: str | os.PathLike, strict: bool = True, allow_nonfinite: bool = False) -> None:
        """Read a file written by :meth:`save` and load it with :meth:`load_state_dict`.

        ``path`` follows :meth:`save`'s rule (``"w"`` reads ``w.npz``; a file called exactly
        ``w`` is read when there is no ``w.npz``). The whole file is read and checked first; on
        any error the model is left unchanged.

        Raises:
            FileNotFoundError: there is no such file.
            LoadError: not a saved state (empty, text, pickle, ``.npy``), damaged (truncated,
                bad CRC), or nan/inf weights (unless ``allow_nonfinite=True``); the message
                names the file and what is wrong.
            KeyError, ShapeError, TypeError: as :meth:`load_state_dict`, prefixed with the file.
        """
        state, source = load_state(path, allow_nonfinite=allow_nonfinite)
        try:
            self.load_state_dict(state, strict=strict)
        except (KeyError, ShapeError, TypeError) as error:
            message = error.args[0] if error.args else str(error)
            raise type(error)(f"load {str(source)!r}: {message}") from None

    # --- display ----------------------------------------------------------------------

    def extra_repr(self) -> str:
        """Settings shown in ``repr`` (override)."""
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {text}")
        return "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules, named "0", "1", ... (no ``forward`` of its own)."""

    def __init__(self, modules: Iterable[Module] = (), name: str | None = None):
        super().__init__(name)
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, index: int) -> Module:
        items = list(self._modules.values())
        if isinstance(index, slice):
            raise TypeError(f"{type(self).__name__} does not support slicing")
        return items[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))


class Sequential(ModuleList):
    """Modules applied one after the other: ``Sequential(Linear(2, 3), Tanh(), Linear(3, 1))``.

    Children are named by position, so in ``MLP`` the second activation's nodes carry the
    scope ``"mlp.layers.3"``.
    """

    def __init__(self, *modules: Module, name: str | None = None):
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, not a Module")
        super().__init__(modules, name=name)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x
