"""Reference fix for PML108: ``iterations`` is an auxiliary (static) argument; each count gets its own trace."""

import sys

from _harness import numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


@math.jit_compile(auxiliary_args="iterations")
def smooth(x, iterations: int):
    for _ in range(iterations):
        x = x + 0.1 * math.laplace(x)
    return x


def main() -> dict:
    x = math.tensor([0.0, 1.0, 5.0, 1.0, 0.0], spatial("x"))
    value, eager = [], []
    for iterations in (1, 3, 5):
        value += numbers(smooth(x, iterations))
        x_eager = x
        for _ in range(iterations):
            x_eager = x_eager + 0.1 * math.laplace(x_eager)
        eager += numbers(x_eager)
    return {"value": value, "eager": eager}


if __name__ == "__main__":
    run(main)
