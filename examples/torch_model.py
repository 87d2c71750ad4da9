"""A PyTorch model for ``tinygrad-edu torch examples/torch_model.py:make_model_and_loss``.

A 6-layer sigmoid MLP with small initial weights: the picture shows the gradient shrinking by
about ×0.25·‖W‖ per layer on its way to the input, and the diagnosis says "vanishing".
Run as a script, it does the same in three lines of Python.
"""

import torch
from torch import nn


def make_model_and_loss():
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in [(8, 32)] + [(32, 32)] * 4 + [(32, 3)]:
        linear = nn.Linear(fan_in, fan_out)
        nn.init.normal_(linear.weight, 0.0, 0.1)
        layers += [linear, nn.Sigmoid()]
    model = nn.Sequential(*layers[:-1])
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    return model, lambda: nn.functional.cross_entropy(model(x), y)


if __name__ == "__main__":
    import tinygrad_edu
    import viz
    from tinygrad_edu.diagnostics import diagnose

    model, compute_loss = make_model_and_loss()
    with tinygrad_edu.torch_scopes(model):
        loss = compute_loss()
    graph = tinygrad_edu.from_torch(loss, model)  # runs loss.backward() with hooks
    viz.render(graph, "torch_model.svg")
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    print(diagnose(model, x, y))
