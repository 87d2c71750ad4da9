"""Neural-network building blocks: modules, layers, activations, init, losses, scalar nets.

>>> from tinygrad_edu import nn
>>> model = nn.MLP([64, 30, 30, 30, 10], activation="sigmoid", init="normal", rng=0)
>>> [name for name, _ in model.named_parameters()][:2]
['layers.0.weight', 'layers.0.bias']

* :mod:`~tinygrad_edu.nn.module` — ``Module``, ``Parameter``, ``Sequential``, ``ModuleList``;
* :mod:`~tinygrad_edu.nn.layers` — ``Linear``, ``MLP``, ``Dropout``, ``Residual``;
* :mod:`~tinygrad_edu.nn.normalization` — ``BatchNorm1d``, ``LayerNorm``;
* :mod:`~tinygrad_edu.nn.residual` — ``ResidualBlock``, ``ResidualMLP`` (pre/post norm, plain twin);
* :mod:`~tinygrad_edu.nn.activations` — ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU``, ``GELU``;
* :mod:`~tinygrad_edu.nn.recurrent` — ``RNNCell``, ``LSTMCell``, ``GRUCell``, ``RNN``, ``LSTM``, ``GRU``;
* :mod:`~tinygrad_edu.nn.init` — initialisation schemes, selectable by name;
* :mod:`~tinygrad_edu.nn.functional` — the losses and activations as functions;
* :mod:`~tinygrad_edu.nn.scalar` — ``Neuron``, ``Layer``, ``MLP`` over scalar ``Value`` s.
"""

from . import functional, init, scalar
from .activations import ACTIVATIONS, GELU, Activation, Identity, Lambda, LeakyReLU, ReLU, Sigmoid, Tanh
from .functional import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .layers import MLP, Dropout, Linear, Residual
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, LayerNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .residual import ResidualBlock, ResidualMLP

__all__ = [
    "Module",
    "Parameter",
    "Sequential",
    "ModuleList",
    "Linear",
    "MLP",
    "Dropout",
    "Residual",
    "BatchNorm1d",
    "LayerNorm",
    "ResidualBlock",
    "ResidualMLP",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "Activation",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "Identity",
    "Lambda",
    "ACTIVATIONS",
    "init",
    "functional",
    "scalar",
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
]
