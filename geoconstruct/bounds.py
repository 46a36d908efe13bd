"""Information-theoretic lower bounds, and the dimension each construction achieves (DESIGN.md §6).

Global (any architecture)
    The R permutations carry ``R·log2 N!`` bits, so a model that recalls all of them, stored at
    ``p`` bits a parameter, has at least ``R·log2 N! / p`` parameters.
Per subject (fact-independent read-out)
    If only the subject embeddings depend on the facts, ``e_s`` alone determines the tuple
    ``(π_1(s), …, π_R(s))`` and all ``N^R`` tuples occur, so ``d_s·p >= R·log2 N``.

Proofs: ``proofs/lower_bounds.md``. ``log2 N!`` is computed through ``math.lgamma``.
"""

from __future__ import annotations

import math

from geoconstruct._validation import require_int
from geoconstruct.codebooks import CodebookFamily
from geoconstruct.single_hop import code_length_for

__all__ = [
    "global_bits",
    "global_min_params",
    "log2_factorial",
    "per_subject_bits",
    "per_subject_min_dimension",
    "subject_dimension",
]


def log2_factorial(n: int) -> float:
    """``log2 n!`` through ``lgamma`` (exact to float rounding for every n).

    Examples
    --------
    >>> abs(log2_factorial(4) - math.log2(24)) < 1e-12
    True
    """
    n = require_int("n", n, minimum=0)
    return math.lgamma(n + 1) / math.log(2)


def global_bits(n_subjects: int, n_relations: int) -> float:
    """``R·log2 N!``: the bits that R uniformly random bijections over N subjects carry.

    Examples
    --------
    >>> round(global_bits(1024, 4))
    35076
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    return n_relations * log2_factorial(n_subjects)


def global_min_params(n_subjects: int, n_relations: int, bits: int) -> int:
    """``⌈R·log2 N! / p⌉``: parameters any model needs at ``p`` bits a parameter."""
    bits = require_int("bits", bits, minimum=1)
    return math.ceil(global_bits(n_subjects, n_relations) / bits)


def per_subject_bits(n_subjects: int, n_relations: int) -> float:
    """``R·log2 N``: the bits one subject embedding must hold when the read-out is fixed.

    Examples
    --------
    >>> per_subject_bits(1024, 4)
    40.0
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    return n_relations * math.log2(n_subjects)


def per_subject_min_dimension(n_subjects: int, n_relations: int, bits: int) -> int:
    """``⌈R·log2 N / p⌉``: the smallest ``d_s`` any fact-independent read-out allows at p bits.

    Examples
    --------
    >>> per_subject_min_dimension(2**16, 4, bits=8)
    8
    """
    bits = require_int("bits", bits, minimum=1)
    # R·log2 N / p, rounded up; exact for powers of two, where float log2 is exact
    return math.ceil(per_subject_bits(n_subjects, n_relations) / bits - 1e-12)


def subject_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
) -> int:
    """``d_s`` the construction uses at its smallest ``d``: ``R·k`` (block) or ``k`` (superposed).

    Examples
    --------
    >>> subject_dimension(2**16, 4), per_subject_min_dimension(2**16, 4, bits=8)
    (8, 8)
    """
    code_length = code_length_for(n_subjects, n_relations, layout=layout, codebook=codebook)
    return n_relations * code_length if layout == "block" else code_length
