"""Reference fix for PML103: the outer forward function calls the plain forward, not the custom-gradient op."""

import sys

from _harness import finite_difference, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


def _scale_forward(x):
    return x * 3


def _scale_gradient(inputs, y, dy):
    return {"x": dy * 3}


scale = math.custom_gradient(_scale_forward, _scale_gradient)


def _amplify_forward(x):
    return _scale_forward(x) * 2


def _amplify_gradient(inputs, y, dy):
    return {"x": dy * 6}


amplify = math.custom_gradient(_amplify_forward, _amplify_gradient)


@math.jit_compile
def step(x):
    return amplify(x) + x


def loss(x):
    return math.l2_loss(step(x))


def main() -> dict:
    x = math.tensor([1.0, 2.0, 3.0, 4.0], spatial("x"))
    value = numbers(step(x))
    eager = numbers(x * 7)
    grad = numbers(math.gradient(loss, "x", get_output=False)(x))
    grad_fd = finite_difference(lambda v: float(loss(math.tensor(v, spatial("x")))), numbers(x))
    return {"value": value, "eager": eager, "grad": grad, "grad_fd": grad_fd}


if __name__ == "__main__":
    run(main)
