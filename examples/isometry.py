"""Pennington, Schoenholz & Ganguli 2017: at the edge of chaos, a deep tanh net with orthogonal
weights keeps every singular value of its input–output Jacobian near 1 (dynamical isometry);
with Gaussian weights, or with ReLU, the spectrum fans out with depth.

    python examples/isometry.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu.experiments import isometry

args = parse("isometry")

nets = isometry.settings()  # tanh at χ₁ = 1 (σ_b² = 1e-5) and ReLU at He, Gaussian or orthogonal
for label in ("tanh, Gaussian", "tanh, orthogonal"):
    generator = np.random.default_rng(args.seed)
    net = isometry.make_net(nets[label], width=64, depth=32, generator=generator)
    J = isometry.jacobian(net, isometry.net_input(nets[label], 64, generator))  # by our engine's backward
    sigma = np.linalg.svd(J, compute_uv=False)
    print(f"{label:>16}: singular values of ∂x_32/∂x_0 from {sigma.min():.2g} to {sigma.max():.3g}")

result = isometry.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(isometry.table(result))
