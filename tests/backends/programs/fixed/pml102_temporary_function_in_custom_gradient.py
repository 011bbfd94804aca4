"""Reference fix for PML102: module-level forward and gradient functions; the traced value is an argument."""

import sys

from _harness import finite_difference, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


def _damp_forward(v, damping):
    return v * math.exp(-damping)


def _damp_gradient(inputs, y, dy):
    return {"v": dy * math.exp(-inputs["damping"])}


damp = math.custom_gradient(_damp_forward, _damp_gradient)


@math.jit_compile
def damped_step(u, damping):
    return damp(u, damping)


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
