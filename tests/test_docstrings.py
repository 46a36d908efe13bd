"""Every public function's docstring lists its options: each parameter in its numpy-style
"Parameters" section (``name : type``, or ``a, b : type`` for several), except the common
parameters of the glossary (docs/glossary.md, which the API reference links to): those are
documented once, there, and a docstring lists them only where they mean something else.
Public: exported in a public module's ``__all__``, or a public method of a class so exported.
An override whose own docstring has no Parameters section is read through the nearest
ancestor's that has one (the numpy convention: the base documents the signature its overrides
keep), and a method that delegates ("See :meth:`Relations.read_maps`.") through its target; its
own signature is still the one checked, so a parameter the override adds must be documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import geoconstruct

GLOSSARY = Path(__file__).resolve().parents[1] / "docs" / "glossary.md"
TERMS = set(re.findall(r"^`(\w+)`$", GLOSSARY.read_text(), re.M))

SECTION = re.compile(r"^Parameters\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)", re.S | re.M)


def documented(docstring: str) -> set[str]:
    """The parameter names a numpy-style Parameters section lists; an entry that says only "See
    the glossary." counts for the names that are glossary terms (docs/glossary.md)."""
    section = SECTION.search(docstring)
    if section is None:
        return set()
    names: set[str] = set()
    lines = section.group(1).splitlines()
    for index, line in enumerate(lines):
        if line and not line[0].isspace():
            entry = {name.strip().lstrip("*") for name in line.split(" : ")[0].split(",")}
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            names.update(entry & TERMS if following == "See the glossary." else entry)
    return names


def public_functions():
    """(path, function, docstring) for every public function and method (the module docstring)."""
    modules = [geoconstruct] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(geoconstruct.__path__, "geoconstruct.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
    ]
    for module in modules:
        for name in getattr(module, "__all__", ()):
            function = getattr(module, name)
            if inspect.isfunction(function) and function.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", function, inspect.getdoc(function) or ""
            if inspect.isclass(function) and function.__module__ == module.__name__:
                for method_name, method in vars(function).items():
                    if not method_name.startswith("_") and inspect.isfunction(method):
                        path = f"{module.__name__}.{name}.{method_name}"
                        yield path, method, _parameters_documented_by(function, method_name)


DELEGATE = re.compile(r"^See :(?:meth|func):`~?([\w.]+)`", re.M)


def _parameters_documented_by(cls, name):
    """The docstring that documents the method's parameters: its own if it has a Parameters
    section, else the nearest ancestor's that has one, else the one of the method it says it
    delegates to ("See :meth:`Relations.subject_dim`."), else its own (or the one it inherits)."""
    for owner in cls.__mro__:
        method = vars(owner).get(name)
        if method is not None and method.__doc__ and SECTION.search(inspect.getdoc(method)):
            return inspect.getdoc(method)
    own = inspect.getdoc(getattr(cls, name)) or ""
    delegate = DELEGATE.search(own)
    if delegate is not None:
        module = importlib.import_module(cls.__module__)
        target = module
        for part in delegate.group(1).split("."):
            target = getattr(target, part, None)
        if target is not None and SECTION.search(inspect.getdoc(target) or ""):
            return inspect.getdoc(target)
    return own


def test_every_public_function_documents_every_parameter():
    functions = list(public_functions())
    assert len(functions) > 250
    undocumented = {
        path: missing
        for path, function, docstring in functions
        if (
            missing := [
                parameter.name
                for parameter in inspect.signature(function).parameters.values()
                if parameter.kind is not parameter.VAR_POSITIONAL
                and parameter.name not in ("self", "cls")
                and parameter.name not in TERMS
                and parameter.name not in documented(docstring)
            ]
        )
    }
    assert not undocumented


def test_a_delegating_method_is_read_through_its_target():
    from geoconstruct.constructions.construction import SingleHopFormat

    docstring = _parameters_documented_by(SingleHopFormat, "prompts")  # "See :meth:`Constr...`"
    assert {"queries"} <= documented(docstring)


def test_the_check_reads_numpy_sections():
    docstring = inspect.cleandoc(
        """Summary.

        Parameters
        ----------
        n_subjects, n_relations : int
            Sizes.
        **options
            More.

        Returns
        -------
        seed : int
        """
    )
    assert documented(docstring) == {"n_subjects", "n_relations", "options"}
    assert documented("Summary naming n_subjects.") == set()
    glossary = "Parameters\n----------\nseed, not_a_term\n    See the glossary.\n"
    assert documented(glossary) == {"seed"}  # a name the glossary does not define is missing
    assert "n_subjects" in TERMS and "not_a_term" not in TERMS


def test_the_glossary_is_linked_from_the_api_reference():
    assert {"n_subjects", "seed", "memory_budget", "layout", "codebook"} <= TERMS
    assert "glossary.md" in (GLOSSARY.parent / "api" / "index.md").read_text()
