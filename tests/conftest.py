"""Shared test settings.

The suite runs in one process per core (pytest-xdist, ``-n auto``), each with one BLAS thread.

Hypothesis runs without deadlines (a construction's cost grows with its size). On CI
(``CI=true``) examples are derandomised so the suite's run time is the same on every run; locally
each run draws fresh examples.
"""

import os

from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One BLAS thread per test process: two processes each spinning two BLAS threads on two
    # cores run several times slower than one process alone. torch, imported later by the
    # training tests, reads its thread count from the environment.
    BLAS_LIMIT = threadpool_limits(limits=1)
    os.environ["OMP_NUM_THREADS"] = "1"

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
