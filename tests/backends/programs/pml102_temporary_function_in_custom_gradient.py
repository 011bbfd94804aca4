"""PML102 temporary-function-in-custom-gradient: a jit-compiled step builds a custom-gradient op
from lambdas that close over one of its traced arguments.

The forward pass runs everywhere; taking the gradient fails on Jax, whose custom_vjp cannot
lower the closed-over tracer.
"""

import sys

from _harness import finite_difference, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


@math.jit_compile
def damped_step(u, damping):
    damp = math.custom_gradient(lambda v: v * math.exp(-damping), lambda inputs, y, dy: {"v": dy * math.exp(-damping)})
    return damp(u)


def loss(u, damping):
    return math.l2_loss(damped_step(u, damping))


def main() -> dict:
    u = math.tensor([1.0, 2.0, 3.0, 4.0], spatial("x"))
    damping = math.tensor(0.5)
    value = numbers(damped_step(u, damping))
    eager = numbers(u * math.exp(-damping))
    grad = numbers(math.gradient(loss, "u", get_output=False)(u, damping))
    grad_fd = finite_difference(lambda v: float(loss(math.tensor(v, spatial("x")), damping)), numbers(u))
    return {"value": value, "eager": eager, "grad": grad, "grad_fd": grad_fd}


if __name__ == "__main__":
    run(main)
