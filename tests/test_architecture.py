"""The package's contracts, held by tools, and each shown to catch a planted violation.

The layers and the one-site rules that are import rules are import-linter contracts
(``[tool.importlinter]`` in pyproject.toml, run by ``lint-imports`` in .ci/run): one test runs it
on the package, one on a copy with a violation of every contract planted (an aliased and a
relative import of a codebook class, a lower layer importing a higher one, the memory plan read
from analysis, one recipe importing another, torch imported by the verification layer) and asserts
that each contract breaks. Import circles are counted by grimp, import-linter's graph. The rules
that are not import rules are read from the syntax tree (not by regexes): the subject rows of
``W_E`` are written only in ``model/assembly.py`` (aliases included), random generators are made
only in ``facts.py`` (and torch's in the trainer), nothing outside ``codes/`` compares anything
with a family's name (the registry's names, not a list written here), and each named constant is
defined once.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geoconstruct.codes.registry import CODEBOOK_NAMES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "geoconstruct"
LONG_MODULES = {
    # one algorithm that reads best whole: the structure checks, the per-query margins and the
    # rounding analysis of the recall certificate share its state and its notation
    "verification/certificate.py",
}
MAX_LINES = 700


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root`` with this repository's contracts."""
    environment = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "geoconstruct")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


PLANTED = {
    # contract id: (file, text) planting a violation of it
    "codebook-classes": [
        (
            "verification/planted_alias.py",
            "from geoconstruct.codes.codebooks import GridCodes as G\n",
        ),
        ("analysis/planted_relative.py", "from ..codes.codebooks import BCHCodes\n"),
    ],
    "layers": [("model/planted_layer.py", "from geoconstruct.constructions import single_hop\n")],
    "memory-plan": [
        ("analysis/planted_memory.py", "from geoconstruct.constructions import memory\n")
    ],
    "recipes": [
        ("constructions/disjoint.py", "\nfrom geoconstruct.constructions import baselines\n"),
    ],
    "array-library": [("verification/planted_torch.py", "import torch\n")],
    "analysis-layers": [
        ("analysis/theory/planted_up.py", "from geoconstruct.analysis.measurement import bench\n")
    ],
}


def test_each_import_contract_catches_a_planted_violation(tmp_path):
    root = _copy(tmp_path)
    for plants in PLANTED.values():
        for path, text in plants:
            target = root / "geoconstruct" / path
            target.write_text((target.read_text() if target.exists() else "") + text)
    result = _lint_imports(root)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts")[-1]
    config = (ROOT / "pyproject.toml").read_text()
    for contract in PLANTED:
        name = config.split(f'id = "{contract}"\nname = "')[1].split('"')[0]
        assert " ".join(name.split()[:6]) in " ".join(broken.split()), contract
    for path, _ in (plant for plants in PLANTED.values() for plant in plants):
        assert path.removesuffix(".py").replace("/", ".") in broken.replace("\n", ""), path


CIRCLES = """
import grimp
graph = grimp.build_graph("geoconstruct", cache_dir=None)
for module in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(module)):
        if module < imported and graph.find_shortest_chain(importer=imported, imported=module):
            print(module, imported)
"""


def _circles(root: Path) -> list[tuple[str, ...]]:
    """Pairs of modules that import each other, directly or not (grimp, in a process that
    finds the package under ``root``)."""
    result = subprocess.run(
        [sys.executable, "-c", CIRCLES],
        cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [tuple(line.split()) for line in result.stdout.splitlines()]


def test_there_are_no_import_circles(tmp_path):
    assert _circles(ROOT) == []
    root = _copy(tmp_path)  # the old circle inside model/, through a type-checking import
    maps = root / "geoconstruct" / "model" / "linear_maps.py"
    maps.write_text(
        maps.read_text() + "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from geoconstruct.model.transformer import TransformerConfig\n"
    )
    assert ("geoconstruct.model.linear_maps", "geoconstruct.model.transformer") in _circles(root)


# --- rules that are not import rules, read from the syntax tree ------------------------------


def _modules(package: Path) -> dict[str, ast.Module]:
    return {
        path.relative_to(package).as_posix(): ast.parse(path.read_text())
        for path in sorted(package.rglob("*.py"))
    }


def _is_subject_table(node: ast.expr, aliases: set[str]) -> bool:
    """``W_E``, ``weights["embed.W_E"]`` (any mapping), or a name bound to one of them."""
    if isinstance(node, ast.Name):
        return node.id == "W_E" or node.id in aliases
    if isinstance(node, ast.Attribute):
        return node.attr == "W_E"
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value == "embed.W_E"
    return False


def subject_row_writers(package: Path) -> list[str]:
    """Modules that assign into ``W_E`` (directly, through ``weights["embed.W_E"]``, or through
    a local name bound to either) other than ``model/assembly.py``."""
    offenders = []
    for path, tree in _modules(package).items():
        if path == "model/assembly.py":
            continue
        for function in [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]:
            aliases: set[str] = set()
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and _is_subject_table(node.value, aliases):
                    aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            for node in ast.walk(function):
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [node.target]
                    if isinstance(node, ast.AugAssign)
                    else []
                )
                for target in targets:
                    if isinstance(target, ast.Subscript) and _is_subject_table(
                        target.value, aliases
                    ):
                        offenders.append(f"{path}:{node.lineno}")
    return sorted(set(offenders))


GENERATOR_SITES = {
    "facts.py",  # seed_streams and generator: every numpy generator
    "training/trainer.py",  # torch's own generator, for the trained comparison's initialisation
}


def generator_makers(package: Path) -> list[str]:
    """Modules other than :data:`GENERATOR_SITES` that make a random generator or split a seed."""
    makers = {"default_rng", "SeedSequence", "Generator", "RandomState", "seed"}
    return sorted(
        f"{path}:{node.lineno}"
        for path, tree in _modules(package).items()
        if path not in GENERATOR_SITES
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in makers
    )


def family_name_dispatch(package: Path) -> list[str]:
    """Comparisons, outside ``codes/``, with any registered family's name."""
    offenders = []
    for path, tree in _modules(package).items():
        if path.startswith("codes/"):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            constants = [
                element
                for side in (node.left, *node.comparators)
                for element in (
                    side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                )
                if isinstance(element, ast.Constant)
            ]
            if any(constant.value in CODEBOOK_NAMES for constant in constants):
                offenders.append(f"{path}:{node.lineno}")
    return sorted(set(offenders))


def constants_defined_twice(package: Path) -> dict[str, list[str]]:
    defined: dict[str, list[str]] = {}
    for path, tree in _modules(package).items():
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    defined.setdefault(target.id, []).append(path)
    return {name: where for name, where in defined.items() if len(where) > 1}


def test_each_one_site_rule_holds():
    assert subject_row_writers(PACKAGE) == []
    assert generator_makers(PACKAGE) == []
    assert family_name_dispatch(PACKAGE) == []
    assert constants_defined_twice(PACKAGE) == {}


def test_each_one_site_rule_catches_a_planted_violation(tmp_path):
    root = _copy(tmp_path) / "geoconstruct"
    (root / "analysis" / "planted.py").write_text(
        "import numpy as np\n"
        "EXACT_WORK_LIMIT = 1\n"
        "def aliased(weights, rows):\n"
        '    table = weights["embed.W_E"]\n'
        "    table[:3] = rows\n"
        "def rng(seed):\n"
        "    return np.random.default_rng(seed)\n"
        "def dispatch(family):\n"
        '    return family.name == "mub" or family.name in ("grid",)\n'
    )
    assert subject_row_writers(root) == ["analysis/planted.py:5"]
    assert generator_makers(root) == ["analysis/planted.py:7"]
    assert family_name_dispatch(root) == ["analysis/planted.py:9"]
    assert constants_defined_twice(root) == {
        "EXACT_WORK_LIMIT": ["analysis/planted.py", "verification/policy.py"]
    }


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))
)
def test_modules_are_short_enough_to_read_in_one_sitting(path):
    lines = (PACKAGE / path).read_text().count("\n")
    assert path in LONG_MODULES or lines <= MAX_LINES, f"{path} has {lines} lines"
