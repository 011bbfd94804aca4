"""Reference fix for PML201: compile once, outside the loop."""

import sys

from _harness import TRACES, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


def diffuse(x, dt):
    return x + dt * math.laplace(x)


fast_diffuse = math.jit_compile(diffuse)


def simulate(x, steps):
    for _ in range(steps):
        x = fast_diffuse(x, 0.1)
    return x


def main() -> dict:
    x = math.tensor([0.0, 1.0, 2.0, 3.0], spatial("x"))
    steps = 12
    before = TRACES["jit"]
    value = numbers(simulate(x, steps))
    traces = TRACES["jit"] - before
    x_eager = x
    for _ in range(steps):
        x_eager = diffuse(x_eager, 0.1)
    return {"value": value, "eager": numbers(x_eager), "calls": steps, "traces": traces}


if __name__ == "__main__":
    run(main)
