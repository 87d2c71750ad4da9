"""Yang et al. 2019: in a deep ReLU MLP with BatchNorm the gradient grows ×√(π/(π−1)) ≈ 1.21 per
layer toward the input at initialisation — BatchNorm divides the backward pass by the batch std
σ ≈ 0.82 of each unit, whatever the init. LayerNorm does not; one SGD step shrinks the spread.

    python examples/batchnorm.py [--quick] [--out DIR]
"""

import math

from _args import parse

from tinygrad_edu.experiments import batchnorm
from tinygrad_edu.experiments.data import digits

args = parse("batchnorm")

X, y = digits(256)
net = batchnorm.DeepNet("relu", "batch", depth=12, width=128, seed=args.seed)
record = batchnorm.measure_net(net, X, y, batch_norm=True)
print(
    f"12 ReLU+BatchNorm layers: ‖∂L/∂h_l‖ grows ×{record['growth_per_layer']:.3f} per layer toward the input"
)
print(
    f"  BatchNorm's σ: {record['bn_std']:.3f} (theory √((π−1)/π) = {math.sqrt((math.pi - 1) / math.pi):.3f})"
)
print(f"  predicted growth 1/σ → √(π/(π−1)) = {batchnorm.RELU_BN_GROWTH:.3f}")

result = batchnorm.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(batchnorm.table(result))
