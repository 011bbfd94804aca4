"""Reference fix for PML106: record solves with a SolveTape outside jit_compile."""

import sys

from _harness import numbers, run
from phiml import math
from phiml.math import Solve, SolveTape, spatial

math.use(sys.argv[1])


@math.jit_compile_linear
def diffusion_operator(x):
    return x - 0.5 * math.laplace(x)


def solve_with_stats(y):
    with SolveTape() as solves:
        x = math.solve_linear(diffusion_operator, y, Solve("CG", 1e-5, 1e-5, x0=y * 0))
    return x, solves[0].iterations


def main() -> dict:
    y = math.tensor([1.0, 2.0, 3.0, 4.0], spatial("x"))
    value, eager = [], []
    for i in range(2):
        x, iterations = solve_with_stats(y + i)
        value += [*numbers(x), float(iterations)]
        with SolveTape() as solves:
            x_eager = math.solve_linear(diffusion_operator, y + i, Solve("CG", 1e-5, 1e-5, x0=y * 0))
        eager += [*numbers(x_eager), float(solves[0].iterations)]
    return {"value": value, "eager": eager}


if __name__ == "__main__":
    run(main)
