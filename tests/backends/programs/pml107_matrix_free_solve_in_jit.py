"""PML107 matrix-free-solve-in-jit: a jit-compiled implicit step solves with a plain Python operator.

Jax traces the iterative solver; PyTorch refuses to jit-compile an iterative solve of an arbitrary function.
"""

import sys

from _harness import numbers, run
from phiml import math
from phiml.math import Solve, spatial

math.use(sys.argv[1])


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
