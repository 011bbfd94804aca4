"""Reference fix for PML109: the Solve is an auxiliary argument."""

import sys

from _harness import numbers, run
from phiml import math
from phiml.math import Solve, spatial

math.use(sys.argv[1])


@math.jit_compile_linear
def diffusion_operator(x):
    return x - 0.5 * math.laplace(x)


@math.jit_compile(auxiliary_args="solve")
def pressure_step(v, solve: Solve):
    return math.solve_linear(diffusion_operator, v, solve)


def main() -> dict:
    v = math.tensor([1.0, 2.0, 3.0, 4.0], spatial("x"))
    value, eager = [], []
    for i in range(3):
        solve = Solve("CG", 1e-5, 1e-5, x0=v * 0)
        value += numbers(pressure_step(v + i, solve))
        eager += numbers(math.solve_linear(diffusion_operator, v + i, solve))
    return {"value": value, "eager": eager}


if __name__ == "__main__":
    run(main)
