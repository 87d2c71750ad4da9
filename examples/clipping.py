"""Pascanu et al. 2013: ‖∂x_T/∂x_0‖ = ρ^T for a chain that applies W = ρ·Q (Q orthogonal) T times,
and norm clipping turns a run that diverges to NaN into one that converges.

    python examples/clipping.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu.experiments import clipping

args = parse("clipping")

Q = clipping.orthogonal(8, np.random.default_rng(args.seed))
for rho in (0.9, 1.0, 1.1):
    J = clipping.chain_jacobian(rho * Q, T=20)  # ∂x_20/∂x_0, from one backward of our engine
    print(f"ρ = {rho}: largest singular value {np.linalg.norm(J, 2):.4g}   ρ^20 = {rho**20:.4g}")

result = clipping.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(clipping.table(result))
