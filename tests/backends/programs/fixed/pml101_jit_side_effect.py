"""Reference fix for PML101: the jit-compiled step returns its result and the caller logs it."""

import sys

from _harness import run
from phiml import math
from phiml.math import spatial

math.use(sys.argv[1])

history = []


@math.jit_compile
def step(x):
    return x * 2


def main() -> dict:
    x = math.tensor([1.0, 2.0, 3.0], spatial("x"))
    for i in range(3):
        history.append(step(x + i))
    logged = [float(math.sum(y)) for y in history]
    eager = [float(math.sum((x + i) * 2)) for i in range(3)]
    return {"value": logged, "eager": eager, "mismatch": "stale"}


if __name__ == "__main__":
    run(main)
