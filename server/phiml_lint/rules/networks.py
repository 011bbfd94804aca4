"""Neural networks and optimiser steps under jit: PML104, PML110."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..analysis.project import argument
from ..analysis.targets import Func, Value
from ..model import Severity
from .base import Context, Finding, Rule, register


@register
class NetworkInJit(Rule):
    code = "PML104"
    name = "network-in-jit"
    summary = "A jit-compiled function calls a neural network"
    severity = Severity.ERROR
    backends = frozenset({"jax"})
    breaks_on = "Jax (weights baked in as constants)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': "stale on jax 0.10.2: after 3 update_weights steps the jit-compiled prediction still returns the initial network's output",
        'torch': 'works on torch 2.13: the traced module sees the updated weights',
    }
    why = (
        "Jax requires every parameter of a jit-compiled function to be an argument. ΦML does not pass "
        "a network's weights as arguments, so Jax bakes the weights of the first trace into the "
        "compiled function as constants: after an optimiser step the compiled function keeps using "
        "the old weights. The only exception is the `loss_function` given to `update_weights()`, "
        "which ΦML compiles with the weights as arguments."
    )
    fix_text = (
        "Call the network in eager code, or inside the `loss_function` passed to "
        "`nn.update_weights`, which handles the weights correctly. No automatic fix."
    )
    bad = """\
from phiml import math, nn

net = nn.mlp(2, 1, [64, 64])


@math.jit_compile
def predict(x):
    return math.native_call(net, x)  # expect: PML104
"""
    good = """\
from phiml import math, nn

net = nn.mlp(2, 1, [64, 64])
optimizer = nn.adam(net, 1e-3)


def loss_function(x, y):
    return math.l2_loss(math.native_call(net, x) - y)


def train_step(x, y):
    return nn.update_weights(net, optimizer, loss_function, x, y)
"""
    invalid = (
        """\
import torch
from phiml import math

model = torch.nn.Sequential(torch.nn.Linear(2, 1))

@math.jit_compile
def predict(x):
    return model(x)  # expect: PML104
""",
        """\
from phi.torch.flow import *

class Agent:
    def __init__(self):
        self.net = dense_net(2, 1, [32])

    @jit_compile
    def act(self, x):
        return math.native_call(self.net, x)  # expect: PML104
""",
    )

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site, _fn, trace in ctx.traced_sites():
            call = site.node
            role = ctx.role(site.scope, call.func)
            net_expr: ast.expr | None = None
            if role == "native_call" and call.args:
                if ctx.project.is_network(ctx.resolve(site.scope, call.args[0])):
                    net_expr = call.args[0]
            elif role is None and ctx.project.is_network(ctx.resolve(site.scope, call.func)):
                net_expr = call.func
            if net_expr is not None:
                yield Finding(
                    ctx.span(call),
                    f"The network `{ast.unparse(net_expr)}` is called in jit-compiled code: Jax bakes its "
                    "weights in as constants, so training has no effect on this function; call it in "
                    "eager code or in the `loss_function` given to `update_weights`.",
                    trace,
                )


@register
class OptimizerStepInJit(Rule):
    code = "PML110"
    name = "optimizer-step-in-jit"
    summary = "`update_weights` runs inside jit-compiled code or with a jit-compiled loss"
    severity = Severity.ERROR
    backends = frozenset({"jax", "torch"})
    breaks_on = "Jax and PyTorch (error inside jit); Jax (stale optimiser state with a jit-compiled loss)"
    observed = {  # from tests/backends (phiml 1.16.1, CPU); docs/backends.md has the table
        'jax': "error on jax 0.10.2: UnexpectedTracerError: Encountered an unexpected tracer. A function transformed by JAX had a side effect; stale on jax 0.10.2: phiml's JaxOptimizer.update compiles the whole update and bakes the optimizer state of the traced call into it: every step restarts from the initial weights, so losses match eager training for 2 steps and diverge from step 3",
        'torch': 'error on torch 2.13: RuntimeError: Cannot insert a Tensor that requires grad as a constant; works on torch 2.13: training with a jit-compiled loss_function matches eager training',
    }
    why = (
        "`nn.update_weights` computes gradients and steps the optimiser, mutating the network. "
        "Inside a jit-compiled function (or with a loss that is itself jit-compiled) PyTorch fails "
        "while tracing the backward pass, and Jax compiles the step with the weights as constants, "
        "so they never change."
    )
    fix_text = (
        "Call `update_weights` from eager code and give it a plain `loss_function`; "
        "`update_weights` compiles what it needs itself. No automatic fix."
    )
    bad = """\
from phiml import math, nn

net = nn.mlp(2, 1, [32])
optimizer = nn.adam(net, 1e-3)


def loss_function(x, y):
    return math.l2_loss(math.native_call(net, x) - y)


@math.jit_compile
def train_step(x, y):
    return nn.update_weights(net, optimizer, loss_function, x, y)  # expect: PML110
"""
    good = """\
from phiml import math, nn

net = nn.mlp(2, 1, [32])
optimizer = nn.adam(net, 1e-3)


def loss_function(x, y):
    return math.l2_loss(math.native_call(net, x) - y)


def train_step(x, y):
    return nn.update_weights(net, optimizer, loss_function, x, y)
"""

    def check(self, ctx: Context) -> Iterator[Finding]:
        for site in ctx.facts.sites_with(ctx.module, ("update_weights",)):
            call = site.node
            trace = ctx.facts.trace(site.function)
            if trace is not None:
                yield Finding(
                    ctx.span(call),
                    "`update_weights` inside jit-compiled code fails on PyTorch (a tensor requiring grad becomes a "
                    "constant) and on Jax (leaked tracer); call it from eager code.",
                    trace,
                )
                continue
            loss = argument(call, 2, "loss_function")
            if loss is None:
                continue
            target = ctx.target(site.scope, loss)
            compiled = False
            if isinstance(target, Func):
                compiled = ctx.project.function_spec(target.info) is not None and ctx.project.function_spec(
                    target.info).form == "decorator"  # type: ignore[union-attr]
            elif isinstance(target, Value):
                compiled = ctx.project.jit_of_value(target) is not None
            if compiled:
                yield Finding(
                    ctx.span(call),
                    f"The loss function `{ast.unparse(loss)}` given to `update_weights` is jit-compiled: on Jax the "
                    "optimiser state is baked into the trace and training silently diverges; pass the plain function.",
                )
