"""PML101 jit-side-effect: a jit-compiled step logs its result into a module-level list.

Jax leaks a tracer into ``history`` (using it raises UnexpectedTracerError); PyTorch runs the
Python body only while tracing, so ``history`` silently misses later calls.
"""

import sys

from _harness import run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])

history = []


@math.jit_compile
def step(x):
    y = x * 2
    history.append(y)
    return y


def main() -> dict:
    x = math.tensor([1.0, 2.0, 3.0], spatial("x"))
    for i in range(3):
        step(x + i)
    logged = [float(math.sum(y)) for y in history]
    eager = [float(math.sum((x + i) * 2)) for i in range(3)]
    return {"value": logged, "eager": eager, "mismatch": "stale"}


if __name__ == "__main__":
    run(main)
