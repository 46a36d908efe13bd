"""Every script in examples/ runs to completion (a smoke test)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples():
    assert EXAMPLES


# One BLAS thread in each script, as in the test processes: two scripts, each with a thread per
# core, on two cores run several times slower than one after the other.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

HEAVY = {"transformer_lens_round_trip.py"}


def run_python(*arguments):
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=ENV,
    )  # torch and TransformerLens: the slow tier


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(path, marks=[pytest.mark.slow] if path.name in HEAVY else [])
        for path in EXAMPLES
    ],
    ids=lambda path: path.name,
)
def test_example_runs(script):
    result = run_python(str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    for claim in CLAIMS.get(script.name, ()):
        assert claim in result.stdout, f"{script.name} does not print {claim!r}"


CLAIMS = {
    # Regression: the quick start built the default construction at the grid code's d (12) and
    # printed "recalled 102 of 8000 facts"; its test only checked the exit code.
    "quickstart.py": (
        "d_model = 12",
        "recalled 8000 of 8000 facts",
        "saved and reloaded: identical recall report",
    ),
    "multi_hop.py": (
        "1 pass(es), recalled 27,000/27,000",  # every one of 1,000·3³ queries, in one pass
        "3 pass(es), recalled 27,000/27,000",  # and by chain of thought
        "right per pass (27000, 27000, 27000)",
    ),
    "transfer.py": (
        "after re-initialising subject embeddings: new facts recalled 1.0000",
        "arrays shared bit for bit with the original: 15 of 16",
        "new facts recalled after the fitted re-initialisation: 1.0000",
    ),
    "transformer_lens_round_trip.py": (
        "loaded.recall().accuracy=1.0",
        "TransformerLens recalls 8,000 / 8,000 facts",
        "TransformerLens answers 13,500 / 13,500 three-hop queries by chain of thought",
    ),
    "capacity_table.py": ("capacity of d=12, R=4, grid, int8: N >= 16,384",),
    # nnsight reads the selector's hidden units through to_torch; numpy agrees to 1e-6 (float32)
    "nnsight_probe.py": (
        "hidden units (d_mlp = 2·R·k)",
        "open selector keys [1] (the prompted relation); answered: True",
    ),
}
"""What an example prints that its claim rests on (the examples assert it themselves too)."""


@pytest.mark.slow
def test_capacity_example_without_matplotlib_says_what_to_install():
    script = next(path for path in EXAMPLES if path.name == "capacity_table.py")
    blocked = (
        "import runpy, sys; sys.modules['matplotlib'] = None; "  # as if the extra were absent
        f"runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    result = run_python("-c", blocked)
    assert result.returncode == 0, result.stderr
    assert "no figure:" in result.stdout and "pip install 'geoconstruct[plot]'" in result.stdout
