"""Hochreiter & Schmidhuber (1997): the adding problem. A vanilla RNN stays at the constant
predictor's error, an LSTM and a GRU solve it — same hidden size, optimiser, clipping and seed;
and which W_hh initialisation lets a tanh RNN's gradient through time.

    python examples/adding.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu.experiments import adding, sequences

args = parse("adding")

x, y = sequences.adding_problem(3, 10, np.random.default_rng(args.seed))
print("one sequence of the task (value, marker) and its target:")
print(np.round(x[:, 0], 2).T, "→", round(float(y[0, 0]), 3))

result = adding.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(adding.table(result))
