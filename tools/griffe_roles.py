"""A griffe extension for the API reference: Sphinx roles become links, named defaults their values.

The docstrings are numpy style and cross-reference as numpy and scipy do, with Sphinx roles
(``:func:`required_dimension```, ``:class:`~geoconstruct.Construction```). mkdocstrings renders
Markdown, where such a role would stay literal text, so this extension rewrites each role, once
the package is loaded, into an autorefs link (``[`required_dimension`][geoconstruct.constructions
.single_hop.required_dimension]``) that mkdocstrings resolves. A name is looked up as Python
would from where the docstring is written (the object's own members, then its parents', then
what its module imports), then in ``geoconstruct``'s top level, then as the one object of that
name in the package. A name outside the package (``concurrent.futures.Executor``) becomes code.
A name inside the package that resolves to nothing is a warning, which ``mkdocs build --strict``
turns into a failed build, so a stale reference cannot reach the site.

It also writes, in place of a default named by a module constant (``layout=DEFAULT_LAYOUT``), the
constant's value (``layout='superposed'``), so that a signature says what the default is.

Loaded by ``mkdocs.yml`` (``extensions: [tools/griffe_roles.py:SphinxRoles]``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import griffe

PACKAGE = "geoconstruct"
ROLE = re.compile(r":(?:py:)?(func|class|meth|mod|data|attr|obj|exc|const):`([^`]+)`")
# a value worth spelling in a signature: a string, a keyword constant, arithmetic on numbers, or
# a tuple of numbers
LITERAL = re.compile(r"""^(?:'[^']*'|"[^"]*"|True|False|None|[-+*/(), 0-9_.eE]+)$""")


def _final_path(obj: Any) -> str | None:
    """The path an object or alias finally names, or None if the alias leads outside."""
    try:
        return str(obj.final_target.path) if obj.is_alias else str(obj.path)
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    """Every object defined (not imported) under obj, obj first."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))  # type: ignore[arg-type]
    return found


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles into autorefs links and named defaults into their values."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != PACKAGE:
            return
        objects = _walk(pkg)
        by_name: dict[str, list[str]] = defaultdict(list)
        for obj in objects:
            if not any(part.startswith("_") for part in obj.path.split(".")):
                by_name[obj.name].append(obj.path)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(
                    lambda match, obj=obj: self._link(match, obj, pkg, by_name),
                    obj.docstring.value,
                )
            if obj.is_function:
                self._spell_defaults(obj, pkg)  # type: ignore[arg-type]
        if pkg.docstring is not None:
            pkg.docstring.value += "\n\n" + self._export_table(pkg)

    def _export_table(self, pkg: griffe.Module) -> str:
        """A table of what ``import geoconstruct`` gives, each name linked to where it is
        documented, with the first line of its docstring."""
        rows = ["| Name | What it is |", "| --- | --- |"]
        for name in pkg.exports or ():
            member = pkg.members.get(str(name))
            path = _final_path(member) if member is not None else None
            if member is None or path is None:
                continue
            target = pkg.modules_collection[path]
            # its first paragraph, whose roles are links by now
            summary = target.docstring.value.split("\n\n")[0] if target.docstring else ""
            where = self._rendered(path, pkg) or f"{PACKAGE}.{name}"
            rows.append(f"| [`{name}`][{where}] | {' '.join(summary.split())} |")
        return "\n".join(rows)

    def _lookup(self, dotted: str, pkg: griffe.Module) -> str | None:
        """The final path of a dotted path from the package root, or None."""
        try:
            return _final_path(pkg.modules_collection[dotted])
        except KeyError:
            return None

    def _resolve(
        self, target: str, obj: griffe.Object, pkg: griffe.Module, by_name: dict[str, list[str]]
    ) -> str | None:
        if target.startswith("."):  # relative to the module the docstring is in, then its parents
            scope: griffe.Object | None = obj.module
            while scope is not None:
                found = self._lookup(scope.path + target, pkg)
                if found is not None:
                    return found
                scope = scope.parent
            return self._by_suffix(target, by_name)
        if target.split(".")[0] == PACKAGE:
            return self._lookup(target, pkg)
        first, _, rest = target.partition(".")
        scope = obj
        while scope is not None:  # as Python looks a name up: here, then outwards
            members = scope.all_members if scope.is_class else scope.members  # inherited too
            if first in members:
                base = _final_path(members[first])
                if base is None:
                    return None
                return self._lookup(f"{base}.{rest}" if rest else base, pkg)
            scope = scope.parent
        found = self._lookup(f"{PACKAGE}.{target}", pkg)
        if found is not None:
            return found
        return self._by_suffix("." + target, by_name)

    def _by_suffix(self, suffix: str, by_name: dict[str, list[str]]) -> str | None:
        """The one public object whose path ends with suffix (".name" or ".module.name")."""
        candidates = [p for p in by_name.get(suffix.rsplit(".", 1)[-1], []) if p.endswith(suffix)]
        return candidates[0] if len(candidates) == 1 else None

    def _link(
        self, match: re.Match[str], obj: griffe.Object, pkg: griffe.Module, by_name: Any
    ) -> str:
        text = match.group(2).strip()
        short = text.startswith("~")
        target = re.sub(r"\s+", "", text.lstrip("~"))
        shown = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
        path = self._resolve(target, obj, pkg, by_name)
        if path is None:
            if target.split(".")[0] in {PACKAGE, ""} or "." not in target:
                griffe.logger.warning(f"{obj.path}: the reference {match.group(0)} names nothing")
            return f"`{shown}`"  # outside the package: concurrent.futures.Executor, numpy.dtype
        rendered = self._rendered(path, pkg)
        if rendered is None:  # a private helper, not in the reference: named, not linked
            return f"`{shown}`"
        return f"[`{shown}`][{rendered}]"

    def _rendered(self, path: str, pkg: griffe.Module) -> str | None:
        """Where the reference renders: a private object under its public name in the package's
        top level; an attribute with no docstring of its own in the section of its owner, whose
        docstring describes it."""
        if path.split(".")[0] != PACKAGE:
            return path
        if any(part.startswith("_") for part in path.split(".")):
            exported = [
                f"{PACKAGE}.{name}"
                for name, member in pkg.members.items()
                if member.is_alias and name in (pkg.exports or ()) and _final_path(member) == path
            ]
            return exported[0] if exported else None
        target = pkg.modules_collection[path]
        if target.is_attribute and target.docstring is None and target.parent is not None:
            return str(target.parent.path)
        return path

    def _spell_defaults(self, func: griffe.Function, pkg: griffe.Module) -> None:
        """A default named by a package constant with a literal value becomes that value."""
        for parameter in func.parameters:
            default = parameter.default
            if not isinstance(default, griffe.ExprName):
                continue
            path = _final_path_of_name(default)
            if path is None or not path.startswith(PACKAGE + "."):
                continue
            try:
                constant = pkg.modules_collection[path]
            except KeyError:
                continue
            if constant.is_attribute and LITERAL.match(str(constant.value or "")):
                parameter.default = str(constant.value)


def _final_path_of_name(name: griffe.ExprName) -> str | None:
    try:
        return str(name.canonical_path)
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
