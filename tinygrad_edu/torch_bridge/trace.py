"""``from_torch``: run a torch loss's backward with hooks on every autograd node, return our :class:`Graph`.

Torch's backward graph is ``loss.grad_fn`` and, from every node, ``next_functions``: one
``(node, output index)`` pair per differentiable input (``(None, 0)`` for an input that needs
no gradient); leaves are ``AccumulateGrad`` nodes whose ``variable`` is the tensor. Before the
backward runs, every node gets a hook (``Node.register_hook``), which torch calls with

* ``grad_outputs`` — ∂loss/∂(the node's outputs): what we call the node's ``grad``, the
  *upstream* of its edges;
* ``grad_inputs`` — one per ``next_functions`` entry: the gradient the node sent to that
  input, i.e. the edge's *contribution* (torch's vector-Jacobian product).

So every number of the returned graph is one torch computed: ``Edge.upstream`` is the node's
recorded ``grad_outputs``, ``Edge.contribution`` its recorded ``grad_inputs[i]``, and
``Edge.gain`` = ‖contribution‖ / ‖upstream‖. The hooks are removed afterwards, whatever happens.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..errors import TorchGraphError
from ..graph import Graph, topological_order, trace
from .convert import require_torch, to_numpy
from .nodes import RecordedLocal, TorchNode, graph_op
from .scopes import find_recording, ownership_scopes, root_name

LEAF = "AccumulateGrad"

#: ``next_functions`` slots that hold an *optional* operand: a ``(None, 0)`` there is an absent
#: bias or affine weight, not a tensor without gradient (torch's own op signatures).
OPTIONAL_SLOTS = {
    "convolution": (2,),
    "native_batch_norm": (1, 2),
    "native_layer_norm": (1, 2),
    "native_group_norm": (1, 2),
}


def from_torch(loss: Any, model: Any = None, *, scopes: Any = None, retain_graph: bool = False) -> Graph:
    """Run ``loss.backward()`` with hooks and return its backward graph as a tinygrad_edu :class:`Graph`.

    One node per autograd node and per leaf; ``op`` is the forward op torch recorded
    (``AddmmBackward0`` → ``"addmm"``); parameters are labelled with their
    ``model.named_parameters()`` names, other leaves that require grad are ``"input"``, and a
    slot without a gradient edge (an operand that needs no gradient, such as the batch ``x`` of
    the first layer, or an absent optional one, such as a missing bias) is a ``"no grad"``
    constant. Edges follow ``next_functions`` order and carry the gradients torch
    computed (see :mod:`tinygrad_edu.torch_bridge.nodes` for what their ``local`` is).

    Scopes (for grouping by module): the innermost module call that created each node when the
    forward ran inside :func:`torch_scopes`; otherwise, with ``model``, parameters and the nodes
    that use a parameter are placed in the module that owns it, and parameter-free ops
    (activations, residual adds) stay outside any scope.

    Like ``loss.backward()``, this accumulates into the parameters' ``.grad``; the graph's own
    gradients are this pass's (what the hooks saw), whatever ``.grad`` held before.

    Args:
        loss: a scalar torch tensor with a ``grad_fn``, whose backward has not run yet (or ran
            with ``retain_graph=True``).
        model: the ``torch.nn.Module`` whose parameters to name (optional).
        scopes: the recording ``torch_scopes`` yielded (found automatically when omitted).
        retain_graph: passed to ``backward`` (keep torch's graph for another backward).

    Raises:
        TorchUnavailable: torch is not installed (says how to install it).
        TypeError: ``loss`` is not a torch tensor, ``model`` not a ``torch.nn.Module``.
        TorchGraphError: a non-scalar loss, a loss without a graph, a model without parameters
            or none of whose parameters the loss uses, a graph already freed by a backward.
    """
    torch = require_torch()
    _check_loss(torch, loss)
    names = _parameter_names(torch, model)
    if not isinstance(retain_graph, bool):
        raise TypeError(f"from_torch: retain_graph must be True or False, got {retain_graph!r}")
    order = walk(loss.grad_fn)
    if names is not None and not any(type(n).__name__ == LEAF and id(n.variable) in names for n in order):
        raise TorchGraphError(
            f"from_torch: the loss does not depend on any parameter of {type(model).__name__}; "
            "pass the model that computed it"
        )
    recording = find_recording([n._sequence_nr() for n in order if type(n).__name__ != LEAF], scopes)
    recorded = backward_with_hooks(loss, order, retain_graph)
    root = _build(torch, loss, model, order, recorded, names, recording)
    return trace(root)


def _check_loss(torch: Any, loss: Any) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"from_torch: expected a torch.Tensor loss, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise TorchGraphError(
            f"from_torch: the loss must be a single number, got shape {tuple(loss.shape)}; "
            "reduce it first (loss.mean() or loss.sum())"
        )
    if loss.grad_fn is None:
        why = (
            "it is a leaf tensor (nothing was computed from it)"
            if loss.requires_grad
            else "it was computed under torch.no_grad(), or from tensors without requires_grad=True"
        )
        raise TorchGraphError(f"from_torch: the loss has no backward graph (grad_fn is None): {why}")


def _parameter_names(torch: Any, model: Any) -> dict | None:
    if model is None:
        return None
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"from_torch: model must be a torch.nn.Module, got {type(model).__name__}")
    names: dict = {}
    for name, parameter in model.named_parameters():
        names.setdefault(id(parameter), name)
    if not names:
        raise TorchGraphError(f"from_torch: the model {type(model).__name__} has no parameters")
    return names


def walk(root: Any) -> list:
    """Every autograd node reachable from ``root`` through ``next_functions`` (iterative)."""
    seen = {root}
    order = [root]
    stack = [root]
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                order.append(child)
                stack.append(child)
    return order


def backward_with_hooks(loss: Any, order: list, retain_graph: bool) -> dict:
    """``{node: (grad_inputs, grad_outputs)}`` as torch passed them to each node's hook."""
    recorded: dict = {}
    handles = []

    def hook_for(node: Any):
        def hook(grad_inputs, grad_outputs):
            # keep the tensors themselves: holding a reference stops autograd from summing
            # later gradients into them in place; they are copied to numpy after backward
            recorded[node] = (grad_inputs, grad_outputs)

        return hook

    try:
        for node in order:
            handles.append(node.register_hook(hook_for(node)))
        loss.backward(retain_graph=retain_graph)
    except RuntimeError as error:
        text = str(error)
        if "second time" in text or "freed" in text:
            raise TorchGraphError(
                "from_torch: torch already freed this loss's backward graph (an earlier backward() "
                "ran on it); compute the loss again, or pass retain_graph=True to that first "
                "backward (or to from_torch) to keep it"
            ) from None
        raise TorchGraphError(f"from_torch: torch's backward failed: {text}") from error
    finally:
        for handle in handles:
            handle.remove()
    return recorded


def _arrays(tensors: tuple, copy: Any = True) -> list:
    """Gradients as numpy. Why ``copy`` may be False: the gradients autograd passes between
    ordinary nodes are fresh tensors that only our hook holds once backward is over
    (``retain_grad()`` stores a clone), so sharing their memory is safe and saves copying every
    activation-sized gradient. Gradients that reach a leaf are always copied: ``AccumulateGrad``
    may adopt that very tensor as ``param.grad``, which the user then zeroes in place."""
    if isinstance(copy, bool):
        copy = [copy] * len(tensors)
    return [None if t is None else to_numpy(t, c) for t, c in zip(tensors, copy)]


def _build(torch, loss, model, order, recorded, names, recording) -> TorchNode:
    """Adapter nodes for ``order`` (root first), wired like ``next_functions``; returns the root."""
    owners = None
    if model is not None:
        owners = ownership_scopes(model, recording.root if recording else root_name(model, None))
    adapters: dict = {}
    inputs = 0
    for node in order:
        cls = type(node).__name__
        if cls == LEAF:
            variable = node.variable
            if names is not None and id(variable) in names:
                full = names[id(variable)]
                adapter = TorchNode("parameter", cls, full.rsplit(".", 1)[-1])  # "weight"
                adapter.name = full  # "fc1.weight", as named_parameters() says
                assert owners is not None, "names come from the model, so do owners"
                adapter.scope = owners.get(id(variable), "")
            elif isinstance(variable, torch.nn.Parameter) and names is None:
                adapter = TorchNode("parameter", cls, "parameter")
            else:
                inputs += 1
                adapter = TorchNode("input", cls, "input")
            adapter.data = to_numpy(variable)
        else:
            adapter = TorchNode("op", cls, op=graph_op(node))
            seq = adapter.sequence_nr = node._sequence_nr()
            if recording is not None:
                adapter.scope = recording.scope_of(seq)
                adapter.data = recording.outputs.get(seq)
        grads = recorded.get(node)
        if grads is not None:
            outputs = _arrays(grads[1], copy=cls == LEAF)
            arrived = [g for g in outputs if g is not None]
            adapter.output_grads = tuple(outputs)
            if len(arrived) == 1:
                adapter.grad = arrived[0]
            elif arrived:  # several outputs: ∂loss/∂(all of them), one vector
                adapter.grad = np.concatenate([g.reshape(-1).astype(np.float64) for g in arrived])
        adapters[node] = adapter
    if inputs > 1:
        count = 0
        for adapter in adapters.values():
            if adapter.kind == "input":
                adapter.label = f"input{count}"
                count += 1

    for node in order:
        adapter = adapters[node]
        grads = recorded.get(node)
        into_leaf = [c is not None and type(c).__name__ == LEAF for c, _ in node.next_functions]
        sent = _arrays(grads[0], into_leaf) if grads is not None else [None] * len(node.next_functions)
        parents, locals_ = [], []
        optional = OPTIONAL_SLOTS.get(adapter.op, ())
        for index, ((child, _), contribution) in enumerate(zip(node.next_functions, sent)):
            if child is None:
                parent = TorchNode("constant", label="absent" if index in optional else "no grad")
                contribution = None
            else:
                parent = adapters[child]
            parents.append(parent)
            locals_.append(RecordedLocal(adapter.op, contribution, adapter.grad))
        adapter.parents = tuple(parents)
        adapter.local_grads = tuple(locals_)

    root = adapters[order[0]]
    several = [a for a in adapters.values() if sum(g is not None for g in a.output_grads) > 1]
    if several:
        root.replay_refused = (
            f"backward: cannot replay this torch graph edge by edge: {several[0].op!r} and "
            f"{len(several) - 1} other node(s) have several outputs with gradients, which do not sum "
            "into one grad; its recorded gradients (node.grad, edge.contribution) are torch's own"
        )
    unknown = [a for a in adapters.values() if a.kind == "op" and a is not root and a.data is None]
    if unknown and not several:
        root.replay_refused = (
            f"backward: cannot replay this torch graph edge by edge: the backward loop checks every "
            f"gradient against its node's value, and torch kept no value for {len(unknown)} of its "
            f"nodes (e.g. {unknown[0].op!r}); its recorded gradients (node.grad, edge.contribution) "
            "are torch's own"
        )
    nodes = cast(list[TorchNode], topological_order(root))  # a TorchNode's parents are TorchNodes
    if recording is None and owners is not None:
        _place_by_ownership(nodes)
    for adapter in nodes:  # an absent optional operand sits with the op that lacks it
        for parent in adapter.parents:
            if parent.label == "absent":
                parent.scope = adapter.scope
    _name_segments(nodes)
    root.data = to_numpy(loss)
    if not root.label:
        root.label = "loss"
    return root


def _name_segments(nodes: list) -> None:
    """A segment of a module's own ops between the modules it calls is named by its ops, so
    the layer view tells ``SmallCNN relu`` from ``SmallCNN view`` (see ``ScopeRecording``)."""
    ops: dict = {}  # by id: Scope compares as its text, and segments share their text
    for adapter in nodes:
        scope = adapter.scope
        if adapter.kind == "op" and getattr(scope, "glue", False):
            ops.setdefault(id(scope), (scope, []))[1].append(adapter.op)
    for scope, names in ops.values():
        base = getattr(scope, "module_kind", None) or scope.kind
        scope.module_kind = base
        scope.kind = f"{base} {'+'.join(dict.fromkeys(names))}"


def _place_by_ownership(nodes: list) -> None:
    """Without module hooks: an op that uses a parameter (directly, or through ops on
    parameters only, such as ``weight.t()``) goes to the scope of that parameter's owner."""
    param_only: dict = {}  # adapter -> scope, for parameters and ops on parameters only
    for adapter in nodes:  # topological: parents before the ops that use them
        if adapter.kind == "parameter":
            param_only[adapter] = adapter.scope
            continue
        if adapter.kind != "op":
            continue
        owned = [param_only[p] for p in adapter.parents if p in param_only and param_only[p]]
        if owned:
            adapter.scope = owned[0]
            if all(p in param_only for p in adapter.parents):
                param_only[adapter] = owned[0]
