"""PML110 optimizer-step-in-jit: nn.update_weights is given a jit-compiled loss function.

On Jax, ΦML then jit-compiles the whole optimizer update, which captures the optimizer state of the
first call: every later step restarts from the initial weights (training silently freezes).
"""

import sys

from _harness import numbers, run
from phiml import math, nn
from phiml.math import batch, channel

math.use(sys.argv[1])
math.seed(0)

net = nn.mlp(2, 1, [8])
optimizer = nn.sgd(net, 0.1)


@math.jit_compile
def loss_function(x, y):
    return math.l2_loss(math.native_call(net, x) - y)


def train_step(x, y):
    return nn.update_weights(net, optimizer, loss_function, x, y)


def eager_training(x, y, steps: int) -> list:
    """The same training without jit, on a network with the same initial weights."""
    math.seed(0)
    reference = nn.mlp(2, 1, [8])
    reference_optimizer = nn.sgd(reference, 0.1)

    def reference_loss(x, y):
        return math.l2_loss(math.native_call(reference, x) - y)

    losses = [
        float(math.mean(nn.update_weights(reference, reference_optimizer, reference_loss, x, y), "b"))
        for _ in range(steps)
    ]
    return losses + numbers(math.native_call(reference, x))


def main() -> dict:
    x = math.tensor([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8], [0.1, 0.2]], batch("b"), channel(vector=2))
    y = math.tensor([[1.0], [-0.5], [0.3], [0.0]], batch("b"), channel(vector=1))
    losses = [float(math.mean(train_step(x, y), "b")) for _ in range(3)]
    value = losses + numbers(math.native_call(net, x))
    return {"value": value, "eager": eager_training(x, y, 3), "mismatch": "stale"}


if __name__ == "__main__":
    run(main)
