"""PML202 retrace-in-loop: a jit-compiled smoother with ``order`` as auxiliary argument is called
with a new order in every iteration, so ΦML retraces each time and keeps every trace.
"""

import sys

from _harness import TRACES, numbers, run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])


@math.jit_compile(auxiliary_args="order")
def smooth(x, order):
    return x + 0.01 * math.laplace(x) * order


def run_smoothing(x, orders):
    for order in orders:
        x = smooth(x, order)
    return x


def main() -> dict:
    x = math.tensor([0.0, 1.0, 5.0, 1.0, 0.0], spatial("x"))
    orders = range(1, 13)
    before = TRACES["jit"]
    value = numbers(run_smoothing(x, orders))
    traces = TRACES["jit"] - before
    x_eager = x
    for order in orders:
        x_eager = x_eager + 0.01 * math.laplace(x_eager) * order
    retained = len(smooth.traces)
    return {"value": value, "eager": numbers(x_eager), "calls": len(orders), "traces": traces, "retained": retained}


if __name__ == "__main__":
    run(main)
