"""A small smoke-plume style simulation with the mistakes phiml-lint finds.

Run `phiml-lint check examples/` (or `make demo`) to see them; `--diff --unsafe-fixes` shows the fixes.
"""
from phi.flow import *

from helpers import record_energy

SOLVE = Solve('CG', 1e-5, 1e-5)


@jit_compile
def pressure_step(velocity, solve: Solve):
    return fluid.make_incompressible(velocity, (), solve)


@jit_compile
def diffuse_implicit(u, nu, steps: int):
    for _ in range(steps):
        u = solve_linear(lambda x: x - nu * math.laplace(x), u, Solve('CG', x0=u))
    record_energy(u)
    return u


@jit_compile(auxiliary_args='label')
def tag(u, label: str):
    return u


def run(u, velocity, n: int):
    for i in range(n):
        velocity = pressure_step(velocity, SOLVE)
        u = diffuse_implicit(u, 0.1, 4)
        u = tag(u, f"frame-{i}")
    return u, velocity
