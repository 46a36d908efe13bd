"""Every script in examples/ runs to completion (a smoke test)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples():
    assert EXAMPLES


HEAVY = {"transformer_lens_round_trip.py"}  # torch and TransformerLens: the slow tier


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(path, marks=[pytest.mark.slow] if path.name in HEAVY else [])
        for path in EXAMPLES
    ],
    ids=lambda path: path.name,
)
def test_example_runs(script):
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
