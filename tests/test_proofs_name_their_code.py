"""Every proof in proofs/ names the library code that implements it, and that code exists."""

import importlib
import re
from pathlib import Path

import pytest

PROOFS = Path(__file__).resolve().parent.parent / "proofs"


def resolve(dotted):
    """Import the longest module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize(
    "proof", sorted(p.name for p in PROOFS.glob("*.md") if p.name != "README.md")
)
def test_each_proof_names_functions_that_exist(proof):
    text = (PROOFS / proof).read_text()
    line = next((line for line in text.splitlines() if line.startswith("**Implemented by**")), None)
    assert line is not None, f"{proof} does not say which code implements it"
    names = re.findall(r"`(geoconstruct\.[\w.]+)`", line)
    assert names, f"{proof}: no geoconstruct names on its Implemented-by line"
    for name in names:
        assert resolve(name) is not None, name


def test_a_missing_name_is_caught():
    with pytest.raises(AttributeError):
        resolve("geoconstruct.constructions.single_hop.no_such_function")
