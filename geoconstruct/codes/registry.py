"""Every codebook family by name: the one registry outside code asks for a family.

Nothing outside ``codes/`` imports a concrete family class (an import-linter contract); it names a
family here (:func:`resolve_codebook`, :func:`codebook_family`) and talks to it through
:class:`~geoconstruct.codes.protocol.CodebookFamily`'s attributes.
"""

from __future__ import annotations

from geoconstruct._validation import require_choice
from geoconstruct.codes.codebooks import (
    MAX_GRID_BITS,
    BCHCodes,
    GaussianCodes,
    GridCodes,
    MUBCodes,
    RademacherCodes,
)
from geoconstruct.codes.protocol import CodebookFamily

__all__ = [
    "CODEBOOK_NAMES",
    "FAMILIES",
    "MAX_GRID_BITS",
    "codebook_family",
    "resolve_codebook",
]


FAMILIES: dict[str, type[CodebookFamily]] = {
    family.name: family
    for family in (GridCodes, GaussianCodes, RademacherCodes, BCHCodes, MUBCodes)
}
"""Every codebook family by name: the registry :func:`resolve_codebook` and
:func:`codebook_family` read (a new family is one entry here)."""

CODEBOOK_NAMES = tuple(FAMILIES)


def resolve_codebook(codebook: str | CodebookFamily) -> CodebookFamily:
    """Turn a name into its default family; pass a family object through.

    Examples
    --------
    >>> resolve_codebook("grid")
    GridCodes(bits=8)
    >>> resolve_codebook(codebook_family("gaussian", max_coherence=0.25))
    GaussianCodes(max_coherence=0.25)
    """
    if isinstance(codebook, CodebookFamily):
        return codebook
    return codebook_family(codebook)


def codebook_family(name: str, **options: object) -> CodebookFamily:
    """The family ``name`` with its options (``None`` leaves an option at its default).

    Parameters
    ----------
    name : str
        A name in :data:`FAMILIES`.
    **options
        The family's options by name (``bits`` for grid codes, ``max_coherence`` for random ones).

    Raises
    ------
    ValueError
        For an unknown name, or an option the family does not take.

    Examples
    --------
    >>> codebook_family("grid", bits=4, max_coherence=None)
    GridCodes(bits=4)
    >>> codebook_family("gaussian", bits=4)
    Traceback (most recent call last):
    ...
    ValueError: --bits applies to grid codes, not to gaussian codes
    """
    family = FAMILIES[require_choice("codebook", name, CODEBOOK_NAMES)]
    given = {option: value for option, value in options.items() if value is not None}
    for option in given:
        if option not in family.options:
            takers = [f.name for f in FAMILIES.values() if option in f.options]
            listed = " and ".join(
                [", ".join(takers[:-1]), takers[-1]] if len(takers) > 1 else takers
            )
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{flag} applies to {listed or 'no'} codes, not to {name} codes")
    return family(**given)
