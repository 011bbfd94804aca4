"""Reference fix for PML104: the network is called outside jit_compile."""

import sys

from _harness import numbers, run
from phiml import math, nn
from phiml.math import batch, channel

math.use(sys.argv[1])
math.seed(0)

net = nn.mlp(2, 1, [8])
optimizer = nn.sgd(net, 0.1)


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
