"""What an expression refers to, as far as static analysis can tell."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .module import ClassInfo, FunctionInfo, ModuleSummary, Scope


@dataclass(frozen=True, eq=False, slots=True)
class Api:
    """A name outside the project: ΦML (with a role) or any other library (role None)."""

    path: str
    role: str | None


@dataclass(frozen=True, eq=False, slots=True)
class Func:
    info: FunctionInfo


@dataclass(frozen=True, eq=False, slots=True)
class Cls:
    info: ClassInfo


@dataclass(frozen=True, eq=False, slots=True)
class ModuleRef:
    """A module: a project module (``summary`` set) or an external one."""

    name: str
    summary: ModuleSummary | None = None


@dataclass(frozen=True, eq=False, slots=True)
class Value:
    """A name bound once to ``expr``, evaluated in ``scope`` of ``module``."""

    module: ModuleSummary
    name: str
    expr: ast.expr
    scope: Scope


@dataclass(frozen=True, eq=False, slots=True)
class Param:
    """A function parameter (its value is only known at call sites)."""

    function: FunctionInfo
    name: str


Target = Api | Func | Cls | ModuleRef | Value | Param
