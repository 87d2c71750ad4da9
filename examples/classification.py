"""Two spirals while the gradient diagnostics watch: ReLU/He separates them (healthy gradients), a
deep sigmoid net with tiny weights stays at chance (vanishing gradients).

    python examples/classification.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu import nn
from tinygrad_edu.diagnostics import diagnose
from tinygrad_edu.experiments import classification
from tinygrad_edu.experiments.data import spirals

args = parse("classification")

# One-shot diagnosis: one forward/backward on the data, then the verdict (parameters unchanged).
X, labels = spirals(300, 0.05, np.random.default_rng(args.seed))
for activation, init, sizes in [
    ("relu", "he_normal", [2, 64, 64, 64, 2]),
    ("sigmoid", "normal", [2] + [32] * 6 + [2]),
]:
    net = nn.MLP(sizes, activation=activation, init=init, rng=args.seed)
    print(f"{activation}/{init}: {diagnose(net, X, labels).verdict}")

result = classification.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(classification.table(result))
