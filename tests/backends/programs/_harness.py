"""Plumbing shared by the backend programs (not a ΦML pattern; the checker should find nothing here).

Every program selects its backend itself (``math.use(sys.argv[1])``) and ends with ``run(main)``.
``run`` calls ``main()`` and prints exactly one line ``PHIML-LINT-RESULT {json}`` on stdout:

* ``{"outcome": "ok", ...}`` with whatever ``main`` returned (``value`` / ``eager`` lists to compare,
  ``grad`` / ``grad_fd`` for gradients, ``traces`` / ``retained`` / ``calls`` for retrace rules), or
* ``{"outcome": "error", "type": ..., "message": ..., "where": ...}`` when ``main`` raised.

Both carry the RuntimeWarnings raised while ``main`` ran, and the number of traces ΦML performed
(counted by wrapping ``JitFunction._jit_compile`` and ``GradientFunction._trace_grad`` of phiml 1.16).
"""

import json
import sys
import traceback
import warnings
from collections.abc import Callable

from phiml.math import _functional

MARKER = "PHIML-LINT-RESULT "
TRACES = {"jit": 0, "gradient": 0}


def _counting(kind: str, original: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        TRACES[kind] += 1
        return original(*args, **kwargs)

    return wrapper


_functional.JitFunction._jit_compile = _counting("jit", _functional.JitFunction._jit_compile)
_functional.GradientFunction._trace_grad = _counting("gradient", _functional.GradientFunction._trace_grad)


def numbers(tensor) -> list:
    """A ΦML tensor as a flat list of Python floats."""
    return [float(v) for v in tensor.numpy().reshape(-1)]


def finite_difference(loss: Callable[[list], float], values: list, eps: float = 1e-2) -> list:
    """Central finite differences of ``loss`` (a function of a flat list of floats)."""
    grad = []
    for i in range(len(values)):
        up = list(values)
        down = list(values)
        up[i] += eps
        down[i] -= eps
        grad.append((loss(up) - loss(down)) / (2 * eps))
    return grad


def run(main: Callable[[], dict]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = {"outcome": "ok", **main()}
        except Exception as exc:  # the observation *is* the exception
            frames = traceback.extract_tb(exc.__traceback__)
            last = frames[-1] if frames else None
            result = {
                "outcome": "error",
                "type": type(exc).__name__,
                "message": str(exc)[:2000],
                "where": f"{last.name} ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else "",
            }
    result["runtime_warnings"] = sorted(
        {str(w.message).splitlines()[0][:300] for w in caught if issubclass(w.category, RuntimeWarning)}
    )
    result["trace_counts"] = dict(TRACES)
    sys.stdout.flush()
    print(MARKER + json.dumps(result), flush=True)
