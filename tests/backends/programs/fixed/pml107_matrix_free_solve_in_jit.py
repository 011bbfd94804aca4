"""Reference fix for PML107: the operator is a @jit_compile_linear function, so the solve uses a matrix."""

import sys

from _harness import numbers, run
from phiml import math
from phiml.math import Solve, spatial

math.use(sys.argv[1])


@math.jit_compile_linear
def diffusion(x, nu):
    return x - nu * math.laplace(x)


@math.jit_compile
def implicit_step(u, nu):
    return math.solve_linear(diffusion, u, Solve("CG", 1e-5, 1e-5, x0=u), nu)


def main() -> dict:
    u = math.tensor([1.0, 2.0, 3.0, 4.0], spatial("x"))
    nu = math.tensor(0.5)
    value = numbers(implicit_step(u, nu))
    eager = numbers(math.solve_linear(diffusion, u, Solve("CG", 1e-5, 1e-5, x0=u), nu))
    return {"value": value, "eager": eager}


if __name__ == "__main__":
    run(main)
