"""Reference fix for PML105: jit-compile the gradient function itself (ΦML compiles forward and backward together)."""

import sys

from _harness import finite_difference, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


def loss(x, target):
    return math.l2_loss(math.sin(x) - target)


loss_gradient = math.jit_compile(math.gradient(loss, "x", get_output=False))


def descend(x, target):
    return x - 0.1 * loss_gradient(x, target)


def main() -> dict:
    x = math.tensor([0.1, 0.5, 1.0, 2.0], spatial("x"))
    target = math.tensor([0.0, 0.2, 0.3, 0.4], spatial("x"))
    value, eager = [], []
    for i in range(3):
        x_i = x + 0.1 * i
        value += numbers(descend(x_i, target))
        fd = finite_difference(lambda v: float(loss(math.tensor(v, spatial("x")), target)), numbers(x_i), 1e-3)
        eager += [xv - 0.1 * g for xv, g in zip(numbers(x_i), fd, strict=True)]
    return {"value": value, "eager": eager}


if __name__ == "__main__":
    run(main)
