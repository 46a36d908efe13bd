"""The package's layers import one way (docs/design.md §10), and no module is too long to read.

Every module under ``geoconstruct/`` is parsed; each ``geoconstruct.X`` it imports must sit in
its own layer or a layer listed before it. The root package (the public API) may import
anything, and any module may read ``geoconstruct.__version__``.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "geoconstruct"
LAYERS = [
    {"_validation", "facts"},
    {"codes"},
    {"model"},
    {"verification"},
    {"constructions"},
    {"analysis"},
    {"training"},
    {"io"},
    {"cli"},
]
LONG_MODULES = {
    # one algorithm that reads best whole: the structure checks, the per-query margins and the
    # rounding analysis of the recall certificate share its state and its notation
    "verification/certificate.py",
}
MAX_LINES = 700


def layer_of(top: str) -> int:
    return next(index for index, names in enumerate(LAYERS) if top in names)


def modules():
    return sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.parent != PACKAGE or path.name not in ("__init__.py", "__main__.py")
    )


def imported(path):
    tree = ast.parse((PACKAGE / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "geoconstruct":
                yield from (f"geoconstruct.{alias.name}" for alias in node.names)
            elif node.module.startswith("geoconstruct."):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("geoconstruct"))


@pytest.mark.parametrize("path", modules())
def test_imports_flow_one_way(path):
    own = layer_of(path.split("/")[0].removesuffix(".py"))
    for name in imported(path):
        if name == "geoconstruct.__version__":
            continue
        top = name.split(".")[1]
        assert layer_of(top) <= own, f"{path} (layer {own}) imports {name} (layer {layer_of(top)})"


@pytest.mark.parametrize("path", modules())
def test_modules_are_short_enough_to_read_in_one_sitting(path):
    lines = (PACKAGE / path).read_text().count("\n")
    assert path in LONG_MODULES or lines <= MAX_LINES, f"{path} has {lines} lines"


def test_the_architecture_test_sees_a_violation(tmp_path, monkeypatch):
    """A model module importing a recipe is caught (the check can fail)."""
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "bad.py").write_text("from geoconstruct.constructions.single_hop import superpose\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    with pytest.raises(AssertionError, match=r"imports geoconstruct\.constructions"):
        test_imports_flow_one_way("model/bad.py")


def test_the_subject_rows_are_written_in_one_place():
    """One contract, one site: ``W_E`` is written only by the writers of ``model/assembly.py``
    (assembly, and ``with_subject_rows`` for every rewrite after it: quantisation, transfer, the
    intervention probe); nowhere else does an assignment target ``W_E`` or ``"embed.W_E"``."""
    import re

    writes = re.compile(r"""(\bW_E|\[["']embed\.W_E["']\])\s*\[[^\]]*\]\s*[-+*/]?=(?!=)""")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() != "model/assembly.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if writes.search(line)
    ]
    assert offenders == []
    assert writes.search('W["embed.W_E"][tokens, subspace] = vectors')  # the pattern works
    assert writes.search("W_E[:n, columns] += delta")


def test_a_seed_is_split_in_one_place():
    """One contract, one site: ``facts.seed_streams`` splits a seed into the facts, codes and
    read-maps streams; no other module spawns or seeds a ``SeedSequence``."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() != "facts.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "SeedSequence(" in line and not line.lstrip().startswith((">>>", "#"))
    ]
    assert offenders == []


CODES_CLASSES = ("GridCodes", "GaussianCodes", "RademacherCodes", "BCHCodes", "_UnitCodes")


def _sites(pattern, *, outside=()):
    """Modules (relative paths) with a line matching ``pattern`` that is not a comment or a
    doctest, skipping modules under the folders ``outside``."""
    import re

    compiled = re.compile(pattern)
    return sorted(
        {
            path.relative_to(PACKAGE).as_posix()
            for path in PACKAGE.rglob("*.py")
            if not path.relative_to(PACKAGE).as_posix().startswith(outside)
            for line in path.read_text().splitlines()
            if compiled.search(line) and not line.lstrip().startswith((">>>", "#"))
        }
    )


def _constant_definitions():
    """Every module-level UPPER_CASE name and the modules that assign it."""
    defined = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    defined.setdefault(target.id, []).append(path.relative_to(PACKAGE).as_posix())
    return defined


def test_each_contract_is_written_at_one_site():
    """One contract, one code site: where each rule lives, counted over the whole package.

    seed streams (facts.seed_streams), the subject-row rewrite (model/assembly.py), codebook
    dispatch (nothing outside ``codes/`` tests a family's class or switches on its name), the
    memory plan (constructions/memory.py; every recipe's budget check asks its plan), the
    verification constants (verification/policy.py), and every named constant defined once.
    """
    sites = {
        "seed streams": _sites(r"SeedSequence\("),
        "subject-row rewrite": _sites(
            r"""(\bW_E|\[["']embed\.W_E["']\])\s*\[[^\]]*\]\s*[-+*/]?=(?!=)"""
        ),
        "codebook dispatch by class": _sites(rf"isinstance\([^)]*\b({'|'.join(CODES_CLASSES)})\b"),
        "codebook dispatch by name": _sites(
            r"""(codebook|family(\.name)?)\s*(==|!=|in)\s*\(?["'](grid|gaussian|rademacher|bch)""",
            outside=("codes/",),
        ),
        "memory plan": _sites(r"^class MemoryPlan\b"),
        "budget checks not from a plan": _sites(
            r"require_within_budget\(\"this (construction|baseline)\", (?!plan\.total)"
        ),
        "verification constants": sorted(
            {
                module
                for name in ("EXACT_WORK_LIMIT", "PILOT_SIZE", "PILOT_QUERIES")
                for module in _constant_definitions().get(name, [])
            }
        ),
    }
    assert sites == {
        "seed streams": ["facts.py"],
        "subject-row rewrite": ["model/assembly.py"],
        "codebook dispatch by class": [],
        "codebook dispatch by name": [],
        "memory plan": ["constructions/memory.py"],
        "budget checks not from a plan": [],
        "verification constants": ["verification/policy.py"],
    }
    twice = {name: where for name, where in _constant_definitions().items() if len(where) > 1}
    assert twice == {}


def test_the_contract_counter_sees_a_second_site(tmp_path, monkeypatch):
    """The counters find what they look for: a copy of the package with a stray isinstance on a
    codes class and a second definition of a constant."""
    import shutil

    copy = tmp_path / "geoconstruct"
    shutil.copytree(PACKAGE, copy)
    stray = copy / "analysis" / "stray.py"
    stray.write_text(
        "from geoconstruct.codes.codebooks import GridCodes\n"
        "EXACT_WORK_LIMIT = 1\n"
        "def f(family):\n"
        "    return isinstance(family, GridCodes) or family.name == 'grid'\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    assert _sites(rf"isinstance\([^)]*\b({'|'.join(CODES_CLASSES)})\b") == ["analysis/stray.py"]
    assert len(_constant_definitions()["EXACT_WORK_LIMIT"]) == 2
