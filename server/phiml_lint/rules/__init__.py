"""The rule catalogue. Importing this package registers every rule in :data:`REGISTRY`."""

from . import loops, networks, purity, solve, tracing  # noqa: F401  (registration side effect)
from .base import REGISTRY, Context, Finding, Rule

SYNTAX_ERROR = "PML000"

__all__ = ["REGISTRY", "SYNTAX_ERROR", "Context", "Finding", "Rule"]
