"""Pascanu, Mikolov & Bengio (2013) through time: ‖∂h_T/∂h_0‖ of a tanh RNN with W_hh = ρ·Q against
the bound (γλ₁)^T, and ‖∂L/∂h_t‖ at initialisation for an RNN, an LSTM and a GRU.

    python examples/rnn.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu.experiments import rnn

args = parse("rnn")

Q, W_ih, x = rnn.setup(args.seed, hidden=8, inputs=2, T=20, input_std=1.0)
for rho in (0.9, 1.0, 1.1):
    J = rnn.jacobian(rho * Q, W_ih, x)  # ∂h_20/∂h_0, from one backward of our engine
    print(f"ρ = {rho}: ‖∂h_20/∂h_0‖ = {np.linalg.norm(J, 2):.4g}   bound ρ^20 = {rho**20:.4g}")

result = rnn.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(rnn.table(result))
