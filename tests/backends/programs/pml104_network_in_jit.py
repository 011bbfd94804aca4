"""PML104 network-in-jit: a jit-compiled prediction calls a network that is trained eagerly.

Jax bakes the weights into the compiled function as constants, so after update_weights the
jit-compiled prediction still uses the initial weights; PyTorch registers the module and sees the update.
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
def predict(x):
    return math.native_call(net, x)


def loss_function(x, y):
    return math.l2_loss(math.native_call(net, x) - y)


def main() -> dict:
    x = math.random_normal(batch(b=4), channel(vector=2))
    y = math.random_normal(batch(b=4), channel(vector=1))
    predict(x)
    for _ in range(3):
        nn.update_weights(net, optimizer, loss_function, x, y)
    value = numbers(predict(x))
    eager = numbers(math.native_call(net, x))
    return {"value": value, "eager": eager, "mismatch": "stale"}


if __name__ == "__main__":
    run(main)
