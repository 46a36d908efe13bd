"""Shared test settings.

Hypothesis runs without deadlines (a construction's cost grows with its size). On CI
(``CI=true``) examples are derandomised so the suite's run time is the same on every run; locally
each run draws fresh examples.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
