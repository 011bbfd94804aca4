"""Hypothesis profiles for the fuzz tests.

``ci`` (the default, used by ``make test``): derandomized and bounded, so runs are reproducible.
``long`` (``HYPOTHESIS_PROFILE=long``, used by ``make fuzz``): many more examples, still no deadline.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("ci", derandomize=True, max_examples=150, print_blob=True, **_COMMON)
settings.register_profile("long", max_examples=5000, print_blob=True, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
