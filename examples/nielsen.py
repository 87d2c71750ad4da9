"""Nielsen, ch. 5: in a deep sigmoid net the first hidden layer learns ~100× slower than the last.

python examples/nielsen.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu import Tensor, binary_cross_entropy_with_logits, nn
from tinygrad_edu.experiments import nielsen
from tinygrad_edu.experiments.data import digits, one_hot

args = parse("nielsen")

# One network, one backward pass: the "speed of learning" of each hidden layer is ‖∂C/∂b‖.
X, labels = digits(1000)  # the first 1000 8×8 digits, pixels in [0, 1]
net = nn.MLP(
    [64, 30, 30, 30, 30, 10],
    activation="sigmoid",
    init="lecun_normal",  # W ~ N(0, 1/n_in), as in the book
    bias_init=nn.init.normal(std=1.0),  # b ~ N(0, 1)
    rng=args.seed,
)
cost = binary_cross_entropy_with_logits(net(Tensor(X)), one_hot(labels, 10)) * 10  # Σ over outputs
cost.backward()
hidden = [layer for layer in net.layers if isinstance(layer, nn.Linear)][:-1]
for i, layer in enumerate(hidden, start=1):
    print(f"hidden layer {i}: ‖∂C/∂b‖ = {np.linalg.norm(layer.bias.grad):.4f}")

# The whole experiment: 2, 3 and 4 hidden layers, median over seeds, then SGD training.
result = nielsen.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(nielsen.table(result))
