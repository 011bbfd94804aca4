"""Reference fix for PML203: create the gradient function once, before the loop."""

import sys

from _harness import TRACES, finite_difference, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


def loss(x):
    return math.l2_loss(math.sin(x))


def optimize(x, iterations):
    grad = math.gradient(loss, "x", get_output=False)
    for _ in range(iterations):
        x = x - 0.1 * grad(x)
    return x


def main() -> dict:
    x = math.tensor([0.3, 0.6, 0.9], spatial("x"))
    iterations = 12
    before = TRACES["gradient"]
    value = numbers(optimize(x, iterations))
    traces = TRACES["gradient"] - before
    x_eager = numbers(x)
    for _ in range(iterations):
        fd = finite_difference(lambda v: float(loss(math.tensor(v, spatial("x")))), x_eager, 1e-3)
        x_eager = [xv - 0.1 * g for xv, g in zip(x_eager, fd, strict=True)]
    return {"value": value, "eager": x_eager, "calls": iterations, "traces": traces}


if __name__ == "__main__":
    run(main)
